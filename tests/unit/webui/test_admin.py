"""The operators' admin: every list page renders, builds and releases are read-only."""

import pytest

from paas.core.applications import create_app
from paas.core.models import Build

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(admin_client, users, platform):
    app = create_app("shop", users.owner)
    build = Build.objects.create(app=app, commit_sha="e" * 40, branch="main",
                                 status=Build.Status.SUCCEEDED)
    platform.deploy(app)
    return admin_client, app, build


@pytest.mark.parametrize("model", ["app", "build", "release", "formation", "domain",
                                   "apitoken"])
def test_every_list_page_renders_with_search(operator, model):
    client, _, _ = operator
    assert client.get(f"/admin/core/{model}/?q=shop").status_code == 200


def test_the_app_list_links_to_its_builds_and_releases(operator):
    client, app, _ = operator
    html = client.get("/admin/core/app/").content.decode()
    assert f"/admin/core/build/?app__id__exact={app.pk}" in html
    assert f"/admin/core/release/?app__id__exact={app.pk}" in html


def test_builds_and_releases_cannot_be_added_changed_or_deleted(operator):
    client, app, build = operator
    assert client.get("/admin/core/build/add/").status_code == 403
    assert client.get("/admin/core/release/add/").status_code == 403
    page = client.get(f"/admin/core/build/{build.pk}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    release = app.releases.get()
    response = client.post(f"/admin/core/release/{release.pk}/change/",
                           {"description": "rewritten"})
    assert response.status_code == 403
    release.refresh_from_db()
    assert release.description != "rewritten"
    for path in (f"/admin/core/release/{release.pk}/delete/",
                 f"/admin/core/build/{build.pk}/delete/"):
        assert client.post(path, {"post": "yes"}).status_code == 403, path
    assert app.releases.filter(pk=release.pk).exists() and app.builds.filter(pk=build.pk).exists()


def test_the_app_list_query_count_does_not_grow(operator, users, django_assert_max_num_queries):
    client, _, _ = operator
    with django_assert_max_num_queries(20) as few:
        client.get("/admin/core/app/")
    for number in range(15):
        create_app(f"more-{number}", users.owner)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get("/admin/core/app/")
