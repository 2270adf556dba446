"""A web process that crashes is restarted by Docker, and the router sends to it again
within seconds, not at the next full reconcile: it routes to the container's address on its
app network, and should Docker give the restarted container another address, the route
check (every 2 s) re-routes it.

This module runs its own stack with the periodic reconcile an hour apart, so only the route
check can bring the app back within the polling below.
"""

import json
import os
import signal
import subprocess
import time

import pytest

from tests.e2e.runtime_support import routed_upstreams
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


def upstream(state: dict, app: str) -> str | None:
    """Where the router should reach the container: its address on its app's network."""
    networks = state["NetworkSettings"]["Networks"]
    network = next((name for name in networks if name.endswith(f"-{app}")), None)
    address = networks[network]["IPAddress"] if network else ""
    return f"{address}:5000" if address else None


def test_a_crashed_web_process_is_routed_again_once_restarted(slow_reconcile_stack, tmp_path):
    stack = slow_reconcile_stack
    app = unique_app_name("reroute")
    repo = stack.checkout("runtime-app", tmp_path)
    pushed = stack.push(repo, app)
    assert pushed.returncode == 0, pushed.stderr + stack.logs()
    container = f"paas.{app}.web.1.v1"
    before = inspect(container)
    assert routed_upstreams(stack, app) == [upstream(before, app)]
    assert stack.get(app).status == 200

    # Kill the app's process from the host, as a crash would: Docker restarts the container
    # (restart policy on-failure).
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
    assert answer is not None and answer.status == 200, stack.logs()
    assert answer.body == "Hello from web.1 of v1\n"
    assert routed_upstreams(stack, app) == [upstream(after, app)]
