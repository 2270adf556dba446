"""The dashboard's apps list: each row says what the app is, escaped, in a fixed number of
queries."""

import pytest
from django.utils import timezone

from paas.core.applications import create_app
from paas.core.models import App
from tests.unit.webui.conftest import client_for

pytestmark = pytest.mark.django_db


def row_of(html: str, app: str) -> str:
    start = html.index(f'<tr data-app="{app}">')
    return html[start:html.index("</tr>", start)]


def test_a_crashed_apps_row_gives_the_crash_report_escaped(users, app):
    App.objects.filter(pk=app.pk).update(crashed_at=timezone.now(),
                                         crash_reason='web.1 said "<script>"')
    row = row_of(client_for(users.owner).get("/").content.decode(), "shop")
    assert 'data-status="crashed"' in row
    assert 'title="web.1 said &quot;&lt;script&gt;&quot;"' in row
    assert "<script>" not in row


def test_a_row_names_the_owner_only_of_other_peoples_apps(users, app):
    assert "owner owner" not in row_of(client_for(users.owner).get("/").content.decode(), "shop")
    row = row_of(client_for(users.collaborator).get("/").content.decode(), "shop")
    assert '<div class="muted small">owner owner</div>' in row


def test_a_deployed_apps_row_links_its_page_release_and_address(users, app):
    row = row_of(client_for(users.owner).get("/").content.decode(), "shop")
    assert '<a class="app-name" href="/apps/shop/">shop</a>' in row
    assert '<span class="chip">web × 1</span>' in row
    assert '<span class="mono">v1</span>' in row
    assert "<time datetime=" in row and "just now</time>" in row
    assert 'href="http://shop.localhost:' in row


def test_a_never_deployed_apps_row_says_so(users):
    create_app("fresh", users.owner)
    row = row_of(client_for(users.owner).get("/").content.decode(), "fresh")
    assert 'data-status="stopped"' in row
    assert "none yet" in row and "never" in row


def test_the_list_of_thirty_apps_takes_the_queries_of_the_list_of_one(
        users, platform, django_assert_num_queries):
    client = client_for(users.collaborator)
    shared = create_app("first", users.owner)
    shared.collaborators.add(users.collaborator)
    platform.deploy(shared, image="sha256:first")
    client.get("/")  # the session and the user are loaded alike on every page
    with django_assert_num_queries(5) as one:
        client.get("/")
    for number in range(29):
        more = create_app(f"more-{number}", users.owner)
        more.collaborators.add(users.collaborator)
        platform.deploy(more, image=f"sha256:{number}")
    with django_assert_num_queries(len(one.captured_queries)):
        assert client.get("/").content.decode().count("<tr data-app=") == 30
