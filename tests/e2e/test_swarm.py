"""The swarm scheduler on a real single-node swarm: the main dockerd becomes a swarm manager for
this module (on loopback), a ``PAAS_SCHEDULER=swarm`` stack runs its own registry, and an app
is pushed, answered through the router, scaled, reconfigured, rolled back and redeployed under
load, then destroyed. The swarm is left and everything made is removed, even on failure.

Run under the machine-wide lock, as every test that makes a swarm:
``flock /tmp/paas-e2e.lock .venv/bin/pytest tests/e2e/test_swarm.py -x -q``.
"""

import json
import subprocess

import pytest

from tests.e2e.runtime_support import Load, released
from tests.e2e.stack import Stack, commit_all, free_port, unique_app_name

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
    """The main dockerd as a one-node swarm (manager on loopback) for this module only."""
    # Nobody holds a swarm on this dockerd outside the lock: one here is an earlier killed
    # run's.
    leave_swarm()
    had_gateway_bridge = network_exists("docker_gwbridge")
    try:
        docker("swarm", "init", "--advertise-addr", "127.0.0.1",
               "--listen-addr", "127.0.0.1:2377", "--default-addr-pool", SWARM_ADDRESS_POOL)
        yield
    finally:
        leave_swarm()
        if not had_gateway_bridge and network_exists("docker_gwbridge"):
            docker("network", "rm", "docker_gwbridge", check=False)


@pytest.fixture(scope="module")
def swarm_stack(swarm):
    registry_port = free_port()
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


def test_ps_shows_the_node_each_instance_runs_on(swarm_stack, app):
    name, _, _ = app
    shown = swarm_stack.paas("ps", "-a", name)
    assert shown.returncode == 0, shown.stderr
    hostname = docker("info", "--format", "{{.Name}}").stdout.strip()
    (row,) = [line for line in shown.stdout.splitlines() if line.startswith("web.1")]
    assert row.split()[1] == "running" and row.split()[-1] == hostname, shown.stdout


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


def test_scale_config_and_rollback_serve_every_request(swarm_stack, app):
    name, _, _ = app
    before = services_of(name)["web"]["Spec"]["Labels"]["paas.release"]
    with Load(swarm_stack, name) as load:
        scaled = swarm_stack.paas("ps:scale", "web=2", "-a", name)
        changed = swarm_stack.paas("config:set", "GREETING=Swarmed", "-a", name)
        assert changed.returncode == 0, changed.stderr
        assert swarm_stack.get(name).body.startswith("Swarmed from web.")
        rolled_back = swarm_stack.paas("rollback", f"v{before}", "-a", name)
    for step in (scaled, changed, rolled_back):
        assert step.returncode == 0, step.stderr
    print(f"swarm scale, config, rollback: {load.requests} requests, {load.failures} failed")
    assert load.requests > 100, load.output
    assert load.failures == 0, load.output
    assert replicas(services_of(name)["web"]) == 2
    assert swarm_stack.get(name).body.startswith("Hello from web.")


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


def test_nodes_lists_the_manager_with_its_tasks_and_the_join_command(swarm_stack, app):
    name, _, _ = app
    listed = swarm_stack.paas("nodes")
    assert listed.returncode == 0, listed.stderr
    assert "(leader)" in listed.stdout and "manager" in listed.stdout
    assert f"{name}:web.1" in listed.stdout and f"{name}:web.2" in listed.stdout
    joined = swarm_stack.paas("nodes:join-command")
    assert joined.returncode == 0, joined.stderr
    token = docker("swarm", "join-token", "-q", "worker").stdout.strip()
    assert joined.stdout.strip() == f"docker swarm join --token {token} 127.0.0.1:2377"


def test_destroying_the_app_removes_its_services_and_network(swarm_stack, app):
    name, _, _ = app
    destroyed = swarm_stack.paas("apps:destroy", "-a", name, "--confirm", name)
    assert destroyed.returncode == 0, destroyed.stderr
    assert services_of(name) == {}
    assert swarm_stack.get(name).status == 404
