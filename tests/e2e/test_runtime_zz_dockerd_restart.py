"""After dockerd restarts, the periodic reconcile brings the app back (no human involved).

Named to run after the other runtime modules: it restarts the shared system dockerd, which
stops every container on it. It restarts dockerd with the argv it had and waits until Docker
answers again; apps of this stack are healed by reconcile, others' by their own stacks.
"""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.stack import unique_app_name


def dockerd_pid() -> int | None:
    found = subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True, text=True)
    pids = found.stdout.split()
    return int(pids[0]) if len(pids) == 1 else None


def docker_answers() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def wait_for(predicate, attempts: int, pause: float = 1.0) -> bool:
    for _ in range(attempts):
        if predicate():
            return True
        time.sleep(pause)
    return bool(predicate())


def restart_dockerd(pid: int) -> None:
    """SIGTERM dockerd, wait for it to exit, start it again with the same argv."""
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    os.kill(pid, signal.SIGTERM)
    assert wait_for(lambda: not Path(f"/proc/{pid}").exists(), attempts=90), \
        "dockerd did not stop"
    log_path = Path("/tmp") / f"paas-e2e-dockerd-{int(time.time())}.log"
    with log_path.open("ab") as log_file:
        subprocess.Popen([arg.decode() for arg in argv], stdout=log_file, stderr=log_file,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    assert wait_for(docker_answers, attempts=90), f"dockerd did not come back; see {log_path}"


@pytest.fixture(scope="module")
def app(stack, tmp_path_factory):
    name = unique_app_name("dockerd")
    repo = stack.checkout("runtime-app", tmp_path_factory.mktemp("dockerd"))
    result = stack.push(repo, name)
    assert result.returncode == 0, result.stderr + stack.logs()
    return name


def test_the_app_answers_again_after_dockerd_restarts(stack, app):
    pid = dockerd_pid()
    if pid is None:
        pytest.skip("no single dockerd process to restart (managed elsewhere)")
    before = stack.get(app)
    assert before.status == 200

    restart_dockerd(pid)

    assert wait_for(lambda: stack.get(app).status == 200, attempts=90), stack.logs()
    assert stack.get(app).body == before.body  # the same release, healed in place
    shown = stack.api("GET", f"/apps/{app}")
    assert shown.status == 200, shown.body
    assert (shown.json()["status"], shown.json()["current_release"]) == ("running", "v1")
