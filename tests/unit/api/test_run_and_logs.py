"""One-off commands and app logs over the API (the runtime's services, faked at Docker)."""

import pytest

from paas.core.applications import create_app
from tests.unit.api.helpers import api_for

pytestmark = pytest.mark.django_db


def test_run_returns_the_commands_output_and_exit_code(users, app, platform):
    response = api_for(users.collaborator).call("POST", "/apps/shop/run",
                                                {"command": "echo hi"})
    assert response.status_code == 201
    assert response.json() == {"exit_code": 3, "output": "ran echo hi in v1\n"}
    assert platform.scheduler.commands == ["echo hi"]


def test_run_needs_a_command(users, app, platform):
    response = api_for(users.owner).call("POST", "/apps/shop/run", {"command": " "})
    assert response.status_code == 400
    assert platform.scheduler.commands == []


def test_run_before_the_first_release_says_to_push(users, platform):
    create_app("empty", users.owner)
    response = api_for(users.owner).call("POST", "/apps/empty/run", {"command": "ls"})
    assert response.json()["error"]["code"] == "no_release"


def test_outsider_cannot_run_commands(users, app, platform):
    response = api_for(users.outsider).call("POST", "/apps/shop/run", {"command": "env"})
    assert response.status_code == 404
    assert platform.scheduler.commands == []


def test_logs_streams_the_instances_output_as_text(users, app, platform):
    platform.scheduler.output["web.1"] = [b"2026-11-30T10:00:00.000000000Z started\n",
                                       b"2026-11-30T10:00:01.000000000Z GET / 200\n"]
    response = api_for(users.collaborator).call("GET", "/apps/shop/logs?tail=1")
    assert response["Content-Type"].startswith("text/plain")
    assert b"".join(response.streaming_content).decode() == "web.1 | GET / 200\n"


def test_logs_rejects_a_non_numeric_tail_and_outsiders(users, app, platform):
    assert api_for(users.owner).call("GET", "/apps/shop/logs?tail=lots").status_code == 400
    assert api_for(users.outsider).call("GET", "/apps/shop/logs").status_code == 404
