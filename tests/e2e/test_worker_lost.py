"""A build whose worker dies mid-build fails the push instead of leaving it hanging."""

import subprocess
import time

from tests.e2e.stack import add_slow_step, unique_app_name


def _build_heartbeats(stack) -> list[str]:
    return stack.redis_cli("--scan", "--pattern", "paas:build:*:alive").stdout.split()


def test_a_build_whose_worker_dies_fails_the_push_and_moves_no_ref(stack, tmp_path):
    app = unique_app_name("lost")
    repo = stack.checkout("dockerfile-hello", tmp_path)
    add_slow_step(repo, app, 40)
    push = stack.start_push(repo, app)
    for _ in range(200):  # until the build runs (bounded)
        if _build_heartbeats(stack):
            break
        time.sleep(0.1)
    assert _build_heartbeats(stack), "the build never started"
    # The builder and its pool processes, as a crash or an OOM kill would take them.
    stack.kill_program("builder")
    result = push()

    assert result.returncode != 0
    assert "its worker went away mid-build" in result.stderr
    assert stack.server_ref(app) is None
    # The build client died with its worker, so BuildKit is not finishing the build for nobody.
    assert not _build_clients(app)


def _build_clients(app: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if f"paas/{app}:build-" in line]
