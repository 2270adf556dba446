"""Cancelling a build while its image builds: the push fails, nothing moves, BuildKit stops."""

import json
import subprocess
import time
import urllib.request

from tests.e2e.stack import add_slow_step, unique_app_name


def _api(stack, method: str, path: str) -> dict | list:
    request = urllib.request.Request(
        f"http://127.0.0.1:{stack.control_port}/api{path}", method=method,
        headers={"Authorization": f"Bearer {stack.token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_a_cancelled_build_fails_its_push_and_stops_building(stack, tmp_path):
    app = unique_app_name("cancel")
    repo = stack.checkout("dockerfile-hello", tmp_path)
    add_slow_step(repo, app, 60)
    push = stack.start_push(repo, app)
    assert stack.wait_for_build(app), "the build never started"
    build = None
    for _ in range(300):  # until the build's image is building (bounded)
        builds = _api(stack, "GET", f"/apps/{app}/builds")
        if builds and builds[0]["status"] == "running":
            build = builds[0]
            break
        time.sleep(0.1)
    assert build is not None, "the build never ran"
    time.sleep(2)  # let it reach the slow step
    answer = _api(stack, "POST", f"/apps/{app}/builds/{build['id']}/cancel")
    assert answer["status"] == "running"  # stopping
    result = push()

    assert result.returncode != 0
    assert "the build was cancelled" in result.stderr
    assert stack.server_ref(app) is None
    assert _api(stack, "GET", f"/apps/{app}/builds/{build['id']}")["status"] == "cancelled"
    clients = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert f"paas/{app}:build-" not in clients
