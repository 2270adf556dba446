"""Deploy actions over the API: synchronous by default, 202 + a status URL when asked."""

import pytest

from paas.core.applications import create_app
from paas.core.models import App
from paas.errors import UserError
from tests.unit.api.helpers import api_for

pytestmark = pytest.mark.django_db

ASYNC = {"HTTP_PREFER": "respond-async"}


def call_async(user, method: str, path: str, body):
    api = api_for(user)
    return getattr(api.client, method.lower())(
        f"/api{path}", data=body, content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api.token}", **ASYNC)


def test_it_answers_202_with_the_action_when_asked_to_respond_async(users, app, platform):
    platform.hold_actions = True  # the worker has not taken it yet
    response = call_async(users.owner, "PATCH", "/apps/shop/config",
                          {"set": {"GREETING": "Howdy"}})
    assert response.status_code == 202
    action = response.json()
    assert (action["kind"], action["status"], action["description"]) == (
        "config", "queued", "Set GREETING")
    assert response["Location"] == action["url"]
    assert action["url"] == f"http://testserver/api/apps/shop/actions/{action['id']}"
    assert App.objects.get(name="shop").config == {}  # nothing happened yet
    platform.run_queued_actions()
    shown = api_for(users.collaborator).call("GET", f"/apps/shop/actions/{action['id']}")
    assert shown.json()["status"] == "succeeded"
    assert shown.json()["release"] == "v2"
    assert App.objects.get(name="shop").config == {"GREETING": "Howdy"}


def test_the_action_log_holds_the_deploys_progress_lines(users, app):
    response = call_async(users.owner, "POST", "/apps/shop/rollback", {"version": "v1"})
    log = api_for(users.owner).call("GET", f"/apps/shop/actions/{response.json()['id']}/log")
    assert log["Content-Type"].startswith("text/plain")
    lines = b"".join(log.streaming_content).decode().splitlines()
    assert lines[0] == "-----> Roll back to v1 (shop)"
    assert lines[-1] == "-----> v2 is live"


def test_a_failed_action_reports_its_error_code(users, app, platform):
    def unhealthy(desired, log=None):
        raise UserError("web.1 never answered", code="healthcheck_failed")

    platform.scheduler.converge = unhealthy
    response = call_async(users.owner, "PATCH", "/apps/shop/formation", {"web": 2})
    action_id = response.json()["id"]
    shown = api_for(users.owner).call("GET", f"/apps/shop/actions/{action_id}").json()
    assert shown["status"] == "failed"
    assert shown["error"]["code"] == "healthcheck_failed"
    log = api_for(users.owner).call("GET", f"/apps/shop/actions/{action_id}/log")
    assert b" !     web.1 never answered" in b"".join(log.streaming_content)


def test_an_unknown_process_type_is_refused_before_anything_is_queued(users, app, platform):
    response = call_async(users.owner, "PATCH", "/apps/shop/formation", {"clock": 1})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_process_type"
    assert "shop has no process type 'clock'" in response.json()["error"]["message"]
    assert platform.queued_actions == [] and platform.redis.hashes == {}


def test_an_invalid_config_key_is_refused_before_anything_is_queued(users, app, platform):
    response = call_async(users.owner, "PATCH", "/apps/shop/config", {"set": {"9X": "1"}})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_config_key"
    assert platform.queued_actions == [] and platform.redis.hashes == {}


def test_outsider_cannot_see_an_action_nor_start_one(users, app, platform):
    action_id = call_async(users.owner, "PATCH", "/apps/shop/formation",
                           {"web": 2}).json()["id"]
    outsider = api_for(users.outsider)
    for path in (f"/apps/shop/actions/{action_id}", f"/apps/shop/actions/{action_id}/log"):
        assert outsider.call("GET", path).status_code == 404, path
    assert call_async(users.outsider, "PATCH", "/apps/shop/formation",
                      {"web": 0}).status_code == 404
    assert app.formations.get(process_type="web").quantity == 2


def test_an_action_is_found_only_under_its_own_app(users, app):
    create_app("other", users.owner)
    action_id = call_async(users.owner, "PATCH", "/apps/shop/formation",
                           {"web": 1}).json()["id"]
    response = api_for(users.owner).call("GET", f"/apps/other/actions/{action_id}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "action_not_found"
    assert api_for(users.owner).call("GET", "/apps/shop/actions/nope").status_code == 404


def test_a_broker_that_refuses_the_task_is_a_platform_error(users, app, platform):
    def refuse(task: str, args: list) -> str:
        raise ConnectionError("broker down")

    platform.queue.send = refuse
    response = api_for(users.owner).call("PATCH", "/apps/shop/formation", {"web": 2})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "broker_down"
    (record,) = platform.redis.hashes.values()
    assert record[b"status"] == b"failed"  # nobody will wait for it
    assert app.formations.get(process_type="web").quantity == 1
