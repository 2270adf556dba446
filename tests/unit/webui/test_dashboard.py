"""The dashboard: login, apps list, app page and its POST actions, for each role."""

import dataclasses

import pytest
from django.test import Client

from paas.core.applications import create_app
from paas.core.models import App, Build, Release
from tests.unit.webui.conftest import client_for

pytestmark = pytest.mark.django_db


def test_it_sends_anonymous_visitors_to_the_login_page():
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_it_logs_in_with_username_and_password(users):
    client = Client()
    response = client.post("/login/", {"username": "owner", "password": "owner-pass"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_the_apps_list_shows_status_instances_release_and_url(users, app):
    response = client_for(users.collaborator).get("/")
    html = response.content.decode()
    assert 'data-app="shop"' in html
    assert 'data-status="running"' in html
    assert "web × 1" in html
    assert "v1" in html
    assert "http://shop.localhost:" in html


def test_the_apps_list_hides_other_peoples_apps(users, app):
    html = client_for(users.outsider).get("/").content.decode()
    assert "shop" not in html
    assert "No apps yet" in html


def test_the_apps_list_query_count_does_not_grow_with_apps(users, platform,
                                                             django_assert_max_num_queries):
    client = client_for(users.owner)
    for number in range(2):
        platform.deploy(create_app(f"few-{number}", users.owner), image=f"sha256:f{number}")
    with django_assert_max_num_queries(12) as few:
        client.get("/")
    for number in range(25):
        platform.deploy(create_app(f"many-{number}", users.owner), image=f"sha256:m{number}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get("/").content.decode().count("data-app=") == 27


def test_outsider_gets_404_for_every_page_and_action(users, app):
    client = client_for(users.outsider)
    for path in ("/apps/shop/", "/apps/shop/instances", "/apps/shop/logs/"):
        assert client.get(path).status_code == 404, path
    for path, data in [("config/set", {"key": "A", "value": "1"}), ("scale", {"qty-web": "3"}),
                       ("rollback", {"version": "1"}), ("destroy", {"confirm": "shop"}),
                       ("domains/add", {"hostname": "a.example.com"})]:
        assert client.post(f"/apps/shop/{path}", data).status_code == 404, path
    app.refresh_from_db()
    assert app.config == {}
    assert app.formations.get(process_type="web").quantity == 1


def test_an_invalid_app_name_is_just_not_found(users):
    assert client_for(users.owner).get("/apps/Bad_Name/").status_code == 404


def test_the_app_page_shows_git_remote_masked_config_and_instances(users, app, platform):
    client = client_for(users.owner)
    client.post("/apps/shop/config/set", {"key": "SECRET", "value": "hunter2"})
    html = client.get("/apps/shop/").content.decode()
    assert "http://testserver/git/shop.git" in html
    assert '<span class="revealed" hidden>hunter2</span>' in html
    assert 'data-process="web"' in html
    assert 'title="Roll back to v1"' in html


def test_setting_config_in_the_dashboard_makes_a_release(users, app, platform):
    response = client_for(users.collaborator).post(
        "/apps/shop/config/set", {"key": "GREETING", "value": "Howdy"}, follow=True)
    assert "Set GREETING and restarted shop." in response.content.decode()
    assert App.objects.get(name="shop").config == {"GREETING": "Howdy"}
    assert app.current_release.version == "v2"
    assert platform.scheduler.converged[-1].env == {"GREETING": "Howdy"}


def test_an_invalid_config_key_is_reported_and_changes_nothing(users, app):
    response = client_for(users.owner).post(
        "/apps/shop/config/set", {"key": "9X", "value": "1"}, follow=True)
    assert "invalid config key" in response.content.decode()
    assert app.releases.count() == 1


def test_removing_a_config_var(users, app):
    client = client_for(users.owner)
    client.post("/apps/shop/config/set", {"key": "A", "value": "1"})
    client.post("/apps/shop/config/unset", {"key": "A"})
    assert App.objects.get(name="shop").config == {}
    assert app.current_release.description == "Unset A"


def test_scaling_from_the_dashboard_changes_the_instances(users, app, platform):
    client = client_for(users.collaborator)
    client.post("/apps/shop/scale", {"qty-web": "2"})
    assert app.formations.get(process_type="web").quantity == 2
    html = client.get("/apps/shop/instances").content.decode()
    assert html.count('data-process="web"') == 2


def test_the_instances_panel_says_which_node_each_instance_runs_on(users, app, platform):
    client = client_for(users.collaborator)
    client.post("/apps/shop/scale", {"qty-web": "1"})
    (instance,) = platform.scheduler.containers["shop"]
    platform.scheduler.containers["shop"] = [dataclasses.replace(instance, node="paas-node2")]
    html = client.get("/apps/shop/instances").content.decode()
    assert "on paas-node2" in html


def test_rollback_from_the_dashboard(users, app):
    client = client_for(users.owner)
    client.post("/apps/shop/config/set", {"key": "GREETING", "value": "Howdy"})
    client.post("/apps/shop/rollback", {"version": "1"})
    current = app.current_release
    assert (current.version, current.description) == ("v3", "Rollback to v1")
    assert App.objects.get(name="shop").config == {}


def test_changes_need_a_csrf_token(users, app):
    client = Client(enforce_csrf_checks=True)
    client.force_login(users.owner)
    assert client.post("/apps/shop/scale", {"qty-web": "2"}).status_code == 403
    assert app.formations.get(process_type="web").quantity == 1


def test_changes_must_be_posts(users, app):
    assert client_for(users.owner).get("/apps/shop/scale?qty-web=2").status_code == 405


def test_destroy_needs_the_name_typed_and_the_owner(users, app, platform):
    client_for(users.collaborator).post("/apps/shop/destroy", {"confirm": "shop"})
    assert App.objects.filter(name="shop").exists()
    client_for(users.owner).post("/apps/shop/destroy", {"confirm": "nope"})
    assert App.objects.filter(name="shop").exists()
    response = client_for(users.owner).post("/apps/shop/destroy", {"confirm": "shop"})
    assert response["Location"] == "/"
    assert not App.objects.filter(name="shop").exists()
    assert platform.scheduler.removed == ["shop"]


def test_the_build_page_streams_the_log_as_server_sent_events(users, app, settings):
    from paas.core.buildlog import log_path

    build = Build.objects.create(app=app, commit_sha="c" * 40, branch="main",
                                 status=Build.Status.FAILED)
    path = log_path(settings.PAAS_HOME, "shop", build.pk)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("step one\nstep two\n")
    client = client_for(users.collaborator)
    assert "Build #" in client.get(f"/apps/shop/builds/{build.pk}/").content.decode()
    stream = client.get(f"/apps/shop/builds/{build.pk}/stream")
    assert stream["Content-Type"] == "text/event-stream"
    body = b"".join(stream.streaming_content).decode()
    assert 'data: "step one"\n\ndata: "step two"\n\n' in body
    assert body.endswith('event: end\ndata: "failed"\n\n')
    assert client_for(users.outsider).get(
        f"/apps/shop/builds/{build.pk}/stream").status_code == 404


def test_creating_an_app_from_the_dashboard(users):
    response = client_for(users.owner).post("/apps/new", {"name": "fresh"})
    assert response["Location"] == "/apps/fresh/"
    assert App.objects.get(name="fresh").owner == users.owner


def test_release_records_show_who_did_what(users, app):
    client_for(users.collaborator).post("/apps/shop/config/set", {"key": "A", "value": "1"})
    release = Release.objects.get(app=app, number=2)
    assert release.created_by == users.collaborator
    html = client_for(users.owner).get("/apps/shop/").content.decode()
    assert "Set A" in html and "collaborator" in html


def test_the_logs_page_follows_the_apps_output_as_server_sent_events(users, app, platform):
    platform.scheduler.output["web.1"] = [b"2026-11-30T10:00:00.000000000Z listening\n"]
    client = client_for(users.collaborator)
    assert 'data-stream="/apps/shop/logs/stream"' in client.get("/apps/shop/logs/").content.decode()
    stream = client.get("/apps/shop/logs/stream")
    assert stream["Content-Type"] == "text/event-stream"
    events = stream.streaming_content
    received = ""
    while "listening" not in received:  # the tail first; then it would follow forever
        received += next(events).decode()
    assert 'data: "web.1 | listening"' in received
    stream.close()


def test_the_builds_list_refreshes_itself_only_while_a_build_runs(users, app):
    client = client_for(users.owner)
    assert 'hx-select="#builds"' not in client.get("/apps/shop/").content.decode()
    Build.objects.create(app=app, commit_sha="f" * 40, branch="main",
                         status=Build.Status.RUNNING)
    assert 'hx-select="#builds"' in client.get("/apps/shop/").content.decode()
