"""Limits, volumes, crash reason and build cache over the API."""

import pytest
from django.utils import timezone

from paas.build.buildpack_runner import cache_marker
from paas.core.applications import create_app
from paas.core.builds import cache_id
from paas.core.models import App, Volume
from tests.unit.api.helpers import api_for

pytestmark = pytest.mark.django_db


def test_collaborator_sets_and_clears_limits_of_a_process_type(users, app, platform):
    api = api_for(users.collaborator)
    response = api.call("PATCH", "/apps/shop/formation/web", {"memory": "256m", "cpus": 0.5})
    assert response.status_code == 200, response.json()
    assert response.json()["resources"] == {"web": {
        "memory": "256m", "cpus": 0.5,
        "effective": {"memory": "256m", "cpus": 0.5, "pids": 256, "read_only_rootfs": False}}}
    web = app.formations.get(process_type="web")
    assert (web.memory_limit, web.cpu_limit) == ("256m", 0.5)
    assert platform.scheduler.converged[-1].limits == {
        "web": {"memory": "256m", "nano_cpus": 500_000_000, "pids": 256}}
    cleared = api.call("PATCH", "/apps/shop/formation/web", {"memory": ""})
    assert cleared.json()["resources"]["web"] == {
        "memory": None, "cpus": 0.5,
        "effective": {"memory": "512m", "cpus": 0.5, "pids": 256, "read_only_rootfs": False}}
    assert api.call("GET", "/apps/shop/formation").json()["resources"]["web"]["memory"] is None


def test_it_refuses_a_bad_limit_with_its_code(users, app):
    api = api_for(users.owner)
    bad = api.call("PATCH", "/apps/shop/formation/web", {"memory": "lots"})
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_limit")
    no_unit = api.call("PATCH", "/apps/shop/formation/web", {"memory": 256})
    assert no_unit.json()["error"]["code"] == "invalid_limit"
    nothing = api.call("PATCH", "/apps/shop/formation/web", {})
    assert nothing.json()["error"]["code"] == "invalid_request"
    assert app.formations.get(process_type="web").memory_limit == ""


def test_it_adds_lists_and_removes_volumes(users, app, platform):
    api = api_for(users.collaborator)
    added = api.call("POST", "/apps/shop/volumes", {"name": "uploads", "mount_path": "/data"})
    assert added.status_code == 201, added.json()
    assert added.json()["mount_path"] == "/data"
    assert api.call("GET", "/apps/shop/volumes").json()[0]["name"] == "uploads"
    assert platform.scheduler.converged[-1].volumes == {
        f"paas-shop_{app.uid}_uploads": {"bind": "/data", "mode": "rw"}}
    removed = api.call("DELETE", "/apps/shop/volumes/uploads?delete_data=1")
    assert removed.json() == {"removed": "uploads", "data_deleted": True}
    assert not Volume.objects.exists()
    assert f"paas-shop_{app.uid}_uploads" not in platform.scheduler.volumes


def test_volume_errors_are_clear(users, app):
    api = api_for(users.owner)
    bad_path = api.call("POST", "/apps/shop/volumes", {"name": "x", "mount_path": "/etc/x"})
    assert bad_path.json()["error"]["code"] == "invalid_mount_path"
    missing = api.call("DELETE", "/apps/shop/volumes/nope")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "volume_not_found")


def test_outsider_cannot_touch_limits_volumes_or_the_build_cache(users, app, platform):
    outsider = api_for(users.outsider)
    assert outsider.call("PATCH", "/apps/shop/formation/web", {"memory": "6m"}).status_code \
        == 404
    assert outsider.call("POST", "/apps/shop/volumes",
                         {"name": "x", "mount_path": "/x"}).status_code == 404
    assert outsider.call("DELETE", "/apps/shop/build-cache").status_code == 404
    assert outsider.call("GET", "/apps/shop/volumes").status_code == 404
    assert app.formations.get(process_type="web").memory_limit == ""
    assert not Volume.objects.exists()


def test_it_purges_only_this_apps_build_cache(users, app, platform):
    other = create_app("other", users.owner)
    platform.images.build_cache = [f"RUN {cache_marker(cache_id(app))} pip install",
                                   f"RUN {cache_marker(cache_id(other))} npm ci"]
    response = api_for(users.collaborator).call("DELETE", "/apps/shop/build-cache")
    assert response.json() == {"removed": 1}
    assert platform.images.build_cache == [f"RUN {cache_marker(cache_id(other))} npm ci"]


def test_the_app_shows_why_it_crashed(users, app):
    App.objects.filter(pk=app.pk).update(crashed_at=timezone.now(),
                                         crash_reason="web.1 crashed 4 times")
    shown = api_for(users.owner).call("GET", "/apps/shop").json()
    assert shown["status"] == "crashed"
    assert shown["crash_reason"] == "web.1 crashed 4 times"
    assert shown["crashed_at"] is not None
