"""Cancelling builds over the API: queued ones at once, building ones through their watcher."""

import pytest

from paas.core.applications import create_app
from paas.core.buildguard import CANCELLED_MESSAGE, cancel_key
from paas.core.buildlog import stream_key
from paas.core.models import Build
from tests.unit.api.helpers import api_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def shared_app(users, platform):
    app = create_app("shared", users.owner)
    app.collaborators.add(users.collaborator)
    return app


def _build(app, **fields) -> Build:
    return Build.objects.create(app=app, commit_sha="a" * 40, branch="main", **fields)


def test_a_queued_build_is_cancelled_at_once_and_its_push_told(users, shared_app, platform):
    build = _build(shared_app)
    response = api_for(users.collaborator).call(
        "POST", f"/apps/shared/builds/{build.pk}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    build.refresh_from_db()
    assert build.status == Build.Status.CANCELLED
    end = platform.redis.streams[stream_key(build.pk)][-1][1]
    assert end == {b"kind": b"end", b"status": b"cancelled", b"text": CANCELLED_MESSAGE.encode()}


def test_a_building_build_is_asked_to_stop(users, shared_app, platform):
    build = _build(shared_app, status=Build.Status.RUNNING)
    response = api_for(users.owner).call("POST", f"/apps/shared/builds/{build.pk}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "running"
    assert platform.redis.exists(cancel_key(build.pk)) == 1


@pytest.mark.parametrize("fields, code", [
    ({"status": Build.Status.SUCCEEDED}, "build_finished"),
    ({"status": Build.Status.RUNNING, "image_id": "sha256:built"}, "build_deploying"),
])
def test_finished_or_deploying_builds_cannot_be_cancelled(users, shared_app, platform, fields,
                                                           code):
    build = _build(shared_app, **fields)
    response = api_for(users.owner).call("POST", f"/apps/shared/builds/{build.pk}/cancel")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert not platform.redis.exists(cancel_key(build.pk))


def test_an_outsider_cannot_cancel(users, shared_app, platform):
    build = _build(shared_app)
    response = api_for(users.outsider).call("POST", f"/apps/shared/builds/{build.pk}/cancel")
    assert response.status_code == 404
    build.refresh_from_db()
    assert build.status == Build.Status.QUEUED
