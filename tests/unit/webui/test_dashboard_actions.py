"""Dashboard changes that deploy run as actions: followed live, then shown with their outcome;
limits, storage, build cache and crash reason on the app page."""

import pytest
from django.test import Client
from django.utils import timezone

from paas.build.buildpack_runner import cache_marker
from paas.core.applications import create_app
from paas.core.builds import cache_id
from paas.core.models import App, Volume
from tests.unit.webui.conftest import client_for

pytestmark = pytest.mark.django_db


def test_a_queued_change_shows_its_progress_live_until_it_ends(users, app, platform):
    platform.hold_actions = True
    client = client_for(users.collaborator)
    response = client.post("/apps/shop/config/set", {"key": "GREETING", "value": "Howdy"})
    assert response.status_code == 302
    page_url = response["Location"]
    assert page_url.startswith("/apps/shop/?action=")
    action_id = page_url.split("=", 1)[1]
    html = client.get(page_url).content.decode()
    assert f'data-stream="/apps/shop/actions/{action_id}/stream"' in html
    assert "data-reload-on-end" in html
    assert 'data-status="queued"' in html
    platform.run_queued_actions()
    stream = client.get(f"/apps/shop/actions/{action_id}/stream")
    assert stream["Content-Type"] == "text/event-stream"
    body = b"".join(stream.streaming_content).decode()
    assert 'data: "-----> Set GREETING (shop)"' in body
    assert 'data: "-----> v2 is live"' in body
    assert body.endswith('event: end\ndata: "succeeded"\n\n')


def test_a_finished_change_is_shown_as_a_message_with_its_log(users, app):
    client = client_for(users.owner)
    response = client.post("/apps/shop/scale", {"qty-web": "2"}, follow=True)
    html = response.content.decode()
    assert "Scaled to web=2." in html
    assert 'data-status="succeeded"' in html
    assert "-----&gt; Done" in html  # the deploy log, folded under the outcome
    assert "data-reload-on-end" not in html


def test_a_failed_change_shows_the_error_and_its_log_open(users, app, platform, monkeypatch):
    from paas.errors import UserError

    def unhealthy(desired, log=None):
        log("       waiting for the app to answer (connection refused)")
        raise UserError("web.1 did not pass its health check", code="health_check_failed")

    monkeypatch.setattr(platform.scheduler, "converge", unhealthy)
    html = client_for(users.owner).post(
        "/apps/shop/rollback", {"version": "1"}, follow=True).content.decode()
    assert '<li class="message error">web.1 did not pass its health check</li>' in html
    assert "<details open>" in html and "connection refused" in html


def test_another_apps_action_is_not_shown_or_streamed(users, app):
    client = client_for(users.owner)
    create_app("other", users.owner)
    location = client.post("/apps/shop/scale", {"qty-web": "1"})["Location"]
    action_id = location.split("=", 1)[1]
    assert 'id="action"' not in client.get(f"/apps/other/?action={action_id}") \
        .content.decode()
    assert client.get(f"/apps/other/actions/{action_id}/stream").status_code == 404
    assert client_for(users.outsider).get(
        f"/apps/shop/actions/{action_id}/stream").status_code == 404


def test_limits_are_shown_and_edited_per_process_type(users, app, platform):
    client = client_for(users.collaborator)
    html = client.get("/apps/shop/").content.decode()
    assert 'data-process="web"' in html and "none set" in html
    response = client.post("/apps/shop/resize", {"process_type": "web", "memory": "256m",
                                                 "cpus": "0.5"}, follow=True)
    assert "Resized web of shop." in response.content.decode()
    web = app.formations.get(process_type="web")
    assert (web.memory_limit, web.cpu_limit) == ("256m", 0.5)
    assert "web: 256m, 0.5 CPU" in client.get("/apps/shop/").content.decode()
    client.post("/apps/shop/resize", {"process_type": "web", "memory": "", "cpus": "0.5"})
    assert app.formations.get(process_type="web").memory_limit == ""
    bad = client.post("/apps/shop/resize", {"process_type": "web", "memory": "lots",
                                            "cpus": ""}, follow=True)
    assert "invalid memory limit" in bad.content.decode()


def test_volumes_are_added_unmounted_and_deleted(users, app, platform):
    client = client_for(users.owner)
    added = client.post("/apps/shop/volumes/add", {"name": "uploads", "mount_path": "/data"},
                        follow=True)
    assert "Mounted uploads at /data." in added.content.decode()
    assert 'data-volume="uploads"' in client.get("/apps/shop/").content.decode()
    client.post("/apps/shop/volumes/remove", {"name": "uploads"})
    assert not Volume.objects.exists()
    assert f"paas-shop_{app.uid}_uploads" in platform.scheduler.volumes  # data kept
    client.post("/apps/shop/volumes/add", {"name": "uploads", "mount_path": "/data"})
    deleted = client.post("/apps/shop/volumes/remove", {"name": "uploads", "delete_data": "1"},
                          follow=True)
    assert "Removed volume uploads." in deleted.content.decode()
    assert platform.scheduler.volumes == {}


def test_the_build_cache_purge_button(users, app, platform):
    platform.images.build_cache = [f"RUN {cache_marker(cache_id(app))} pip install"]
    client = client_for(users.collaborator)
    assert "Purge build cache" in client.get("/apps/shop/").content.decode()
    response = client.post("/apps/shop/builds/cache/purge", follow=True)
    assert "Purged the build cache (1 record)" in response.content.decode()
    assert platform.images.build_cache == []


def test_the_app_page_and_list_say_why_the_app_crashed(users, app):
    App.objects.filter(pk=app.pk).update(crashed_at=timezone.now(),
                                         crash_reason="web.1 crashed 4 times (last exit code 1)")
    client = client_for(users.owner)
    page = client.get("/apps/shop/").content.decode()
    assert "web.1 crashed 4 times (last exit code 1)" in page
    listed = client.get("/").content.decode()
    assert 'title="web.1 crashed 4 times (last exit code 1)"' in listed


def test_outsider_gets_404_for_the_new_actions(users, app, platform):
    platform.images.build_cache = [f"RUN {cache_marker(cache_id(app))} pip install"]
    client = client_for(users.outsider)
    for path, data in [("resize", {"process_type": "web", "memory": "64m"}),
                       ("volumes/add", {"name": "x", "mount_path": "/x"}),
                       ("volumes/remove", {"name": "x"}), ("builds/cache/purge", {})]:
        assert client.post(f"/apps/shop/{path}", data).status_code == 404, path
    assert app.formations.get(process_type="web").memory_limit == ""
    assert not Volume.objects.exists() and len(platform.images.build_cache) == 1


def test_the_new_actions_need_csrf_and_post(users, app, platform):
    platform.images.build_cache = [f"RUN {cache_marker(cache_id(app))} pip install"]
    client = Client(enforce_csrf_checks=True)
    client.force_login(users.owner)
    for path in ("resize", "volumes/add", "volumes/remove", "builds/cache/purge"):
        assert client.post(f"/apps/shop/{path}", {}).status_code == 403, path
        assert client_for(users.owner).get(f"/apps/shop/{path}").status_code == 405, path
    assert len(platform.images.build_cache) == 1


def test_the_build_page_cancels_a_queued_build(users, app, platform):
    build = app.builds.create(commit_sha="b" * 40, branch="main")
    page = client_for(users.collaborator).get(f"/apps/shop/builds/{build.pk}/")
    assert b"Cancel build" in page.content
    response = client_for(users.collaborator).post(f"/apps/shop/builds/{build.pk}/cancel")
    assert response.status_code == 302
    build.refresh_from_db()
    assert build.status == "cancelled"
    assert b"Cancel build" not in client_for(users.owner).get(
        f"/apps/shop/builds/{build.pk}/").content


def test_an_outsider_cannot_cancel_a_build(users, app, platform):
    build = app.builds.create(commit_sha="b" * 40, branch="main")
    response = client_for(users.outsider).post(f"/apps/shop/builds/{build.pk}/cancel")
    assert response.status_code == 404
    build.refresh_from_db()
    assert build.status == "queued"
