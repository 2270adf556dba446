"""`paas run --detach` in core: queued with the current release, run by a worker with its
output where `paas logs` reads removed instances' output."""

import pytest

from paas.core import processes
from paas.core.applications import create_app
from paas.core.applogs import app_logs
from paas.errors import UserError

pytestmark = pytest.mark.django_db


def test_a_detached_run_writes_its_output_to_the_apps_logs(app, platform):
    label = processes.start_detached(app, "echo hi")
    ((_task, (release_id, command, sent_label)),) = [
        sent for sent in platform.tasks.sent if sent[0] == processes.RUN_DETACHED_TASK]

    code = processes.run_detached(release_id, command, sent_label)

    assert (code, sent_label) == (3, label)
    assert platform.scheduler.commands == ["echo hi"]
    assert f"{label} | ran echo hi in v1" in list(app_logs(app, tail=10))


def test_a_detached_run_needs_a_release_and_a_command(users, app, platform):
    with pytest.raises(UserError) as no_release:
        processes.start_detached(create_app("empty", users.owner), "ls")
    assert no_release.value.code == "no_release"
    with pytest.raises(UserError) as empty:
        processes.start_detached(app, "  ")
    assert empty.value.code == "invalid_command"
    assert platform.tasks.sent == [] or all(
        task != processes.RUN_DETACHED_TASK for task, _ in platform.tasks.sent)


def test_a_detached_run_of_a_deleted_release_runs_nothing(app, platform):
    assert processes.run_detached(10_000, "ls", "run.abcdef") == 1
    assert platform.scheduler.commands == []
