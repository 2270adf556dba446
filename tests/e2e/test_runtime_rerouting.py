"""A web process that crashes is restarted by Docker on a new loopback port; the router
follows within seconds (the route check), not at the next full reconcile.

This module runs its own stack with the periodic reconcile an hour apart, so only the route
check can bring the app back within the polling below.
"""

import json
import os
import signal
import subprocess
import time

import pytest

from tests.e2e.runtime_support import routed_ports
from tests.e2e.stack import Stack, unique_app_name


@pytest.fixture(scope="module")
def slow_reconcile_stack():
    stack = Stack.create(PAAS_RECONCILE_INTERVAL="3600")
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


def inspect(container: str) -> dict:
    result = subprocess.run(["docker", "inspect", container], capture_output=True, text=True,
                            check=True)
    return json.loads(result.stdout)[0]


def host_port(state: dict) -> int | None:
    bindings = (state["NetworkSettings"]["Ports"] or {}).get("5000/tcp") or []
    return int(bindings[0]["HostPort"]) if bindings else None


def test_a_crashed_web_process_is_routed_again_on_its_new_port(slow_reconcile_stack,
                                                               tmp_path):
    stack = slow_reconcile_stack
    app = unique_app_name("reroute")
    repo = stack.checkout("runtime-app", tmp_path)
    pushed = stack.push(repo, app)
    assert pushed.returncode == 0, pushed.stderr + stack.logs()
    container = f"paas.{app}.web.1.v1"
    before = inspect(container)
    old_port = host_port(before)
    assert routed_ports(stack, app) == [old_port]
    assert stack.get(app).status == 200

    # Kill the app's process from the host, as a crash would: Docker restarts the container
    # (restart policy on-failure) and publishes it on a new port.
    os.kill(before["State"]["Pid"], signal.SIGKILL)

    answer, after = None, before
    for _ in range(120):
        time.sleep(0.25)
        after = inspect(container)
        if after["RestartCount"] < 1 or not after["State"]["Running"]:
            continue
        answer = stack.get(app)
        if answer.status == 200:
            break

    assert after["RestartCount"] >= 1  # Docker restarted it; paas did not replace it
    assert after["Id"] == before["Id"]
    new_port = host_port(after)
    assert new_port != old_port, "Docker kept the port; this test proves nothing then"
    assert answer is not None and answer.status == 200, stack.logs()
    assert answer.body == "Hello from web.1 of v1\n"
    assert routed_ports(stack, app) == [new_port]
