"""The swarm scheduler on a real swarm of two nodes on this one machine: the main dockerd is the
manager, and a second dockerd in a network namespace of its own is the worker
(``tests.e2e.swarm_nodes``). A ``PAAS_SCHEDULER=swarm`` stack runs its own registry; an app is
pushed, spread over both nodes, answered through the router, scaled, reconfigured, rolled back
and redeployed under load, the worker is drained under load, then the app is destroyed. Where
no network namespace can be made, the same tests (but the two-node ones) run on the main
dockerd alone as a one-node swarm, and the two-node ones say why they skip. The swarm is
left and everything made is removed, even on failure.

Run under the machine-wide lock, as every test that makes a swarm:
``flock /tmp/paas-e2e.lock .venv/bin/pytest tests/e2e/test_swarm.py -x -q``.
"""

import json
import subprocess
import time

import pytest

from tests.e2e.runtime_support import Load, released
from tests.e2e.stack import Stack, commit_all, free_port, unique_app_name
from tests.e2e.swarm_nodes import SwarmNodes, namespace_unavailable, two_node_swarm

# The swarm's own subnets (ingress, app overlays), away from the app bridges' pool.
SWARM_ADDRESS_POOL = "10.251.0.0/16"

def docker(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *argv], capture_output=True, text=True, check=check,
                          timeout=300)


def swarm_state() -> str:
    return docker("info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip()


def network_exists(name: str) -> bool:
    return docker("network", "inspect", name, check=False).returncode == 0


def leave_swarm() -> None:
    if swarm_state() != "inactive":
        docker("swarm", "leave", "--force", check=False)


@pytest.fixture(scope="module")
def swarm():
    """Two nodes where a network namespace can be made, else the main dockerd alone as a
    one-node swarm on loopback; yields the two nodes, or None."""
    unavailable = namespace_unavailable()
    if unavailable is None:
        with two_node_swarm(SWARM_ADDRESS_POOL) as nodes:
            yield nodes
        return
    # Nobody holds a swarm on this dockerd outside the lock: one here is an earlier killed
    # run's.
    leave_swarm()
    had_gateway_bridge = network_exists("docker_gwbridge")
    try:
        docker("swarm", "init", "--advertise-addr", "127.0.0.1",
               "--listen-addr", "127.0.0.1:2377", "--default-addr-pool", SWARM_ADDRESS_POOL)
        yield None
    finally:
        leave_swarm()
        if not had_gateway_bridge and network_exists("docker_gwbridge"):
            docker("network", "rm", "docker_gwbridge", check=False)


@pytest.fixture
def two_nodes(swarm) -> SwarmNodes:
    if swarm is None:
        pytest.skip(f"one-node swarm only: {namespace_unavailable()}")
    return swarm


@pytest.fixture(scope="module")
def swarm_stack(swarm):
    registry_port = free_port()
    if swarm is not None:
        # The worker pulls each release from the manager's loopback registry.
        swarm.forward_into_worker(registry_port)
    running = Stack.create(PAAS_SCHEDULER="swarm", PAAS_REGISTRY_PORT=str(registry_port))
    try:
        running.start()
        yield running
    finally:
        running.stop()
        # The registry-named tags on this host (stop removes the paas/<app> ones).
        for app in running.apps:
            images = docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}",
                            f"127.0.0.1:{registry_port}/paas/{app}", check=False).stdout.split()
            if images:
                docker("image", "rm", "-f", *images, check=False)


@pytest.fixture(scope="module")
def app(swarm_stack, tmp_path_factory):
    name = unique_app_name("sw")
    repo = swarm_stack.checkout("runtime-app", tmp_path_factory.mktemp("swarm"))
    pushed = swarm_stack.push(repo, name)
    assert pushed.returncode == 0, pushed.stderr + swarm_stack.logs()
    return name, repo, pushed.stderr


def services_of(app: str) -> dict[str, dict]:
    """The app's Swarm services by process type, as ``docker service inspect`` shows them."""
    ids = docker("service", "ls", "-q", "--filter", f"label=paas.app={app}").stdout.split()
    if not ids:
        return {}
    found = json.loads(docker("service", "inspect", *ids).stdout)
    return {s["Spec"]["Labels"]["paas.process"]: s for s in found
            if "paas.oneoff" not in s["Spec"]["Labels"]}


def replicas(service: dict) -> int:
    return service["Spec"]["Mode"]["Replicated"]["Replicas"]


def test_a_push_runs_the_app_as_swarm_services_pulled_from_the_registry(swarm_stack, app):
    name, _, output = app
    registry = f"127.0.0.1:{swarm_stack.extra_env['PAAS_REGISTRY_PORT']}"
    assert f"-----> Pushing {registry}/paas/{name}:build-" in output
    assert "already in the registry)" in output
    # The release phase ran once, as a one-shot task, before traffic moved.
    assert "release phase of v1" in output
    assert swarm_stack.get(name).body == "Hello from web.1 of v1\n"
    services = services_of(name)
    # A process type scaled to 0 (worker) has no service until it is scaled up.
    assert set(services) == {"web"}
    web = services["web"]
    assert web["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] == f"{registry}/paas/{name}:v1"
    assert web["Spec"]["UpdateConfig"]["Order"] == "start-first"
    assert web["Spec"]["UpdateConfig"]["FailureAction"] == "rollback"
    assert web["Spec"]["TaskTemplate"]["ContainerSpec"]["CapabilityDrop"] == ["ALL"]
    assert replicas(web) == 1
    # The registry holds the release's tag, so another node could pull it.
    tags = swarm_stack_registry_tags(registry, name)
    assert "v1" in tags, tags


def swarm_stack_registry_tags(registry: str, app: str) -> list[str]:
    listed = subprocess.run(["curl", "-sf", f"http://{registry}/v2/paas/{app}/tags/list"],
                            capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    return json.loads(listed.stdout)["tags"]


def hostnames(swarm: SwarmNodes | None) -> set[str]:
    manager = docker("info", "--format", "{{.Name}}").stdout.strip()
    return {manager, swarm.worker_hostname} if swarm else {manager}


def test_ps_shows_the_node_each_instance_runs_on(swarm, swarm_stack, app):
    name, _, _ = app
    shown = swarm_stack.paas("ps", "-a", name)
    assert shown.returncode == 0, shown.stderr
    (row,) = [line for line in shown.stdout.splitlines() if line.startswith("web.1")]
    assert row.split()[1] == "running" and row.split()[-1] in hostnames(swarm), shown.stdout


def test_a_code_only_redeploy_pushes_only_the_changed_layer(swarm_stack, app):
    name, repo, _ = app
    (repo / "NOTE").write_text("a code-only change\n")
    commit_all(repo, "a code-only change")
    pushed = swarm_stack.push(repo, name)
    assert pushed.returncode == 0, pushed.stderr
    (summary,) = [line for line in pushed.stderr.splitlines()
                  if "-----> Pushed " in line and "layers" in line]
    assert "Pushed 1 of " in summary, pushed.stderr
    assert swarm_stack.get(name).body == "Hello from web.1 of v2\n"


def task_nodes(app: str) -> list[str]:
    """The node (hostname) of each running web task of ``app``."""
    listed = docker("service", "ps", "--filter", "desired-state=running", "--format",
                    "{{.Node}} {{.CurrentState}}", services_of(app)["web"]["ID"]).stdout
    return sorted(line.split()[0] for line in listed.splitlines() if " Running " in f" {line}")


def routed(stack, app: str) -> list[str]:
    """The upstreams the router sends ``app`` to, from its route table."""
    for line in (stack.home / "nginx" / "routes.txt").read_text().splitlines():
        if line.split()[:1] == [app]:
            return line.split()[2:]
    return []


def test_scale_config_and_rollback_serve_every_request(swarm_stack, app):
    name, _, _ = app
    before = services_of(name)["web"]["Spec"]["Labels"]["paas.release"]
    with Load(swarm_stack, name) as load:
        scaled = swarm_stack.paas("ps:scale", "web=3", "-a", name)
        changed = swarm_stack.paas("config:set", "GREETING=Swarmed", "-a", name)
        assert changed.returncode == 0, changed.stderr
        assert swarm_stack.get(name).body.startswith("Swarmed from web.")
        rolled_back = swarm_stack.paas("rollback", f"v{before}", "-a", name)
    for step in (scaled, changed, rolled_back):
        assert step.returncode == 0, step.stderr
    print(f"swarm scale, config, rollback: {load.requests} requests, {load.failures} failed")
    assert load.requests > 100, load.output
    assert load.failures == 0, load.output
    assert replicas(services_of(name)["web"]) == 3
    assert swarm_stack.get(name).body.startswith("Hello from web.")


def test_web_spreads_over_both_nodes_and_the_router_reaches_each_task(two_nodes, swarm_stack,
                                                                      app):
    name, _, _ = app
    nodes = task_nodes(name)
    assert len(nodes) == 3 and set(nodes) == hostnames(two_nodes), nodes
    upstreams = routed(swarm_stack, name)
    assert len(upstreams) == 3, upstreams
    assert any(u.startswith(f"{two_nodes.worker_address}:") for u in upstreams), upstreams
    answered = {swarm_stack.get(name).body.split()[2] for _ in range(30)}
    assert answered == {"web.1", "web.2", "web.3"}, answered


def test_logs_show_every_task_on_every_node_and_the_replaced_ones(swarm_stack, app):
    name, _, _ = app
    shown = swarm_stack.paas("logs", "-n", "500", "-a", name)
    assert shown.returncode == 0, shown.stderr
    for number in (1, 2, 3):
        assert f"web: listening on 5000 as web.{number}" in shown.stdout, shown.stdout
    # Kept from the tasks the config change and the rollback replaced: each was told to stop
    # (SIGTERM, passed on by the drain wrapper) and drained.
    assert "web: SIGTERM, draining" in shown.stdout, shown.stdout


def from_worker_namespace(nodes: SwarmNodes, url: str) -> str:
    """The HTTP status of a GET from the worker's network namespace ("000": no answer)."""
    return subprocess.run(["nsenter", f"--net={nodes.netns_path}", "curl", "-s", "-o",
                           "/dev/null", "-w", "%{http_code}", "--max-time", "3", url],
                          capture_output=True, text=True, timeout=30).stdout


def test_task_ports_answer_the_router_and_nothing_else(two_nodes, swarm_stack, app):
    from paas.hostctl import firewall

    name, _, _ = app
    upstreams = routed(swarm_stack, name)
    port = next(u for u in upstreams if u.startswith("127.0.0.1:")).rpartition(":")[2]
    on_manager = f"http://{two_nodes.manager_address}:{port}/"
    # hostctl up's rule on the manager: from another machine, its tasks' ports are closed.
    assert from_worker_namespace(two_nodes, on_manager) == "000"
    assert firewall.unguard_published_tasks(swarm_stack.home) == 1
    try:
        assert from_worker_namespace(two_nodes, on_manager) == "200"  # the rule did it
    finally:
        assert firewall.guard_published_tasks(swarm_stack.home)
    # The same rule on the worker, the manager let in, as docs/multi-host.md says.
    rule = firewall.published_tasks_rule(swarm_stack.home, two_nodes.manager_address)
    subprocess.run(["nsenter", f"--net={two_nodes.netns_path}", "iptables", "-w", "-I", *rule],
                   check=True, timeout=30)
    answered = {swarm_stack.get(name).body.split()[2] for _ in range(30)}
    assert answered == {"web.1", "web.2", "web.3"}, answered


def test_a_redeploy_under_load_fails_no_request(swarm_stack, app):
    name, _, _ = app
    with Load(swarm_stack, name) as load:
        versions = [released(swarm_stack.paas("config:set", f"GREETING=Hi{n}", "-a", name))
                    for n in (1, 2)]
    print(f"swarm redeploys: {load.requests} requests, {load.failures} failed\n{load.output}")
    assert versions[1] == versions[0] + 1
    assert load.requests > 100, load.output
    assert load.failures == 0, load.output
    assert swarm_stack.get(name).body.startswith("Hi2 from web.")


def test_a_failing_health_check_rolls_back_and_the_old_release_serves(swarm_stack, app):
    name, _, _ = app
    # "Hi2 from web.N of vM": which task answers varies, what it runs must not.
    before = swarm_stack.get(name).body.split(" of ")[-1]
    failed = swarm_stack.paas("config:set", "HEALTH=broken", "-a", name)
    assert failed.returncode == 1
    assert "(healthcheck_failed)" in failed.stderr.splitlines()[-1], failed.stderr
    assert swarm_stack.get(name).body.split(" of ")[-1] == before
    env = services_of(name)["web"]["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"]
    assert "HEALTH=broken" not in env


def test_run_is_a_one_shot_task_with_its_exit_code_and_output(swarm_stack, app):
    name, _, _ = app
    ran = swarm_stack.paas("run", "-a", name, "--", "sh", "-c", "echo greeting=$GREETING; exit 5")
    assert ran.returncode == 5, ran.stderr
    assert "greeting=Hi2" in ran.stdout
    left = docker("service", "ls", "-q", "--filter", f"label=paas.app={name}",
                  "--filter", "label=paas.oneoff").stdout.split()
    assert left == []


def test_draining_the_second_node_moves_its_tasks_and_the_app_keeps_answering(
        two_nodes, swarm_stack, app):
    name, _, _ = app
    worker = two_nodes.worker_node_id
    try:
        with Load(swarm_stack, name) as load:
            docker("node", "update", "--availability", "drain", worker)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and (
                    set(task_nodes(name)) != hostnames(None) or len(task_nodes(name)) != 3
                    or any(u.startswith(f"{two_nodes.worker_address}:")
                           for u in routed(swarm_stack, name))):
                time.sleep(1)
            # Serve a while from the manager alone, routed anew.
            time.sleep(3)
        print(f"swarm drain: {load.requests} requests, {load.failures} failed\n{load.output}")
        assert task_nodes(name) == sorted(hostnames(None)) * 3
        assert not any(u.startswith(f"{two_nodes.worker_address}:")
                       for u in routed(swarm_stack, name))
        assert load.requests > 100, load.output
        assert load.failures == 0, load.output
    finally:
        docker("node", "update", "--availability", "active", worker, check=False)


def test_nodes_lists_the_nodes_with_their_tasks_and_the_join_command(swarm, swarm_stack, app):
    name, _, _ = app
    listed = swarm_stack.paas("nodes")
    assert listed.returncode == 0, listed.stderr
    print(listed.stdout)
    assert "(leader)" in listed.stdout and "manager" in listed.stdout
    assert f"{name}:web.1" in listed.stdout and f"{name}:web.2" in listed.stdout
    if swarm is not None:
        (row,) = [line for line in listed.stdout.splitlines()
                  if line.startswith(swarm.worker_hostname)]
        assert "worker" in row and "ready" in row, listed.stdout
    joined = swarm_stack.paas("nodes:join-command")
    assert joined.returncode == 0, joined.stderr
    token = docker("swarm", "join-token", "-q", "worker").stdout.strip()
    manager = swarm.manager_address if swarm else "127.0.0.1"
    assert joined.stdout.strip() == f"docker swarm join --token {token} {manager}:2377"


def test_destroying_the_app_removes_its_services_and_network(swarm_stack, app):
    name, _, _ = app
    destroyed = swarm_stack.paas("apps:destroy", "-a", name, "--confirm", name)
    assert destroyed.returncode == 0, destroyed.stderr
    assert services_of(name) == {}
    assert swarm_stack.get(name).status == 404
