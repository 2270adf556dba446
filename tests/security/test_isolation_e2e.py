"""Confinement and network isolation, tried from inside real app containers.

Two apps of one real stack: ``probe`` (static-site, a buildpack app: runs as the stack's
``app`` user) and ``target`` (runtime-app, a Dockerfile app that runs as root). From
``paas run`` containers of ``probe`` the tests try to open the control plane, Redis, the
Docker socket, ``target``'s published port and ``target``'s container; they connect only to
this machine's own addresses and to this test's containers. A reachable port (the router, the
public entrance) proves each probe can connect at all, so "refused" means refused.
"""

import json
import re
import socket
import subprocess
import threading
import uuid

import pytest

from paas.runtime.docker_networks import app_network_name
from tests.e2e.stack import unique_app_name

POOL = "10.213.0.0/16"  # PAAS_NETWORK_POOL's default, which the e2e stack keeps

# Tries TCP connections to "host:port" arguments and reports, as one JSON line, which
# connected; also whether a Docker socket exists and whether each name resolves.
PROBE = r"""
import json, os, socket, sys
result = {"connect": {}, "resolve": {}, "docker_socket": any(
    os.path.exists(p) for p in ("/var/run/docker.sock", "/run/docker.sock"))}
for target in sys.argv[1:]:
    if target.startswith("name:"):
        try:
            socket.getaddrinfo(target[5:], 5000)
            result["resolve"][target[5:]] = True
        except OSError:
            result["resolve"][target[5:]] = False
        continue
    host, port = target.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
        result["connect"][target] = True
    except OSError:
        result["connect"][target] = False
with open("/proc/net/route") as routes:
    for line in routes.readlines()[1:]:
        fields = line.split()
        if fields[1] == "00000000":
            result["gateway"] = socket.inet_ntoa(int(fields[2], 16).to_bytes(4, "little"))
print(json.dumps(result))
"""

FORK_BOMB = r"""
import os, time
children = []
try:
    while len(children) < 5000:
        pid = os.fork()
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        children.append(pid)
except OSError as error:
    print(f"fork failed after {len(children)} children: errno {error.errno}")
for pid in children:
    os.kill(pid, 9)
"""


@pytest.fixture(scope="module")
def apps(stack, tmp_path_factory):
    probe, target = unique_app_name("iso-probe"), unique_app_name("iso-target")
    workdir = tmp_path_factory.mktemp("isolation")
    target_repo = stack.checkout("runtime-app", workdir)
    # The release phase reports its own confinement (it runs in a one-off container).
    procfile = target_repo / "Procfile"
    procfile.write_text(procfile.read_text().replace(
        "release: ", "release: grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; "))
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@paas.invalid", "commit",
                    "-qam", "report confinement"], cwd=target_repo, check=True)
    pushed = stack.push(target_repo, target)
    assert pushed.returncode == 0, pushed.stderr + stack.logs()
    probe_push = stack.push(stack.checkout("static-site", workdir), probe)
    assert probe_push.returncode == 0, probe_push.stderr + stack.logs()
    return {"probe": probe, "target": target, "target_push": pushed.stderr}


def docker(*argv: str) -> str:
    return subprocess.run(["docker", *argv], capture_output=True, text=True,
                          check=True).stdout.strip()


def web_container(stack, app: str) -> str:
    ids = docker("ps", "-q", "--filter", f"label=paas.app={app}", "--filter",
                 f"label=paas.home={stack.home}", "--filter", "label=paas.process=web").split()
    assert len(ids) == 1, ids
    return ids[0]


def inspect(container: str) -> dict:
    return json.loads(docker("inspect", container))[0]


def probe_from(stack, app: str, *targets: str) -> dict:
    outcome = stack.paas("run", "-a", app, "--", "python3", "-c", PROBE, *targets)
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    return json.loads(outcome.stdout.strip().splitlines()[-1])


def host_addresses() -> list[str]:
    """This machine's own IPv4 addresses (not loopback: a container has its own)."""
    shown = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True,
                           check=True).stdout
    return sorted({found for found in re.findall(r"inet (\d+\.\d+\.\d+\.\d+)/", shown)
                   if not found.startswith("127.")})


def test_an_app_container_cannot_open_the_control_plane_redis_or_docker(stack, apps):
    gateway = probe_from(stack, apps["probe"])["gateway"]
    addresses = sorted({gateway, *host_addresses()})
    target_port = stack.api("GET", f"/apps/{apps['target']}/formation").json()[
        "instances"][0]["port"]
    closed = [f"{address}:{port}" for address in addresses
              for port in (stack.control_port, stack.redis_port, target_port)]
    router = f"{gateway}:{stack.router_port}"

    tried = probe_from(stack, apps["probe"], router, *closed)

    assert tried["connect"][router] is True  # the public entrance: the probe can connect
    assert {target: tried["connect"][target] for target in closed} == \
        {target: False for target in closed}
    assert tried["docker_socket"] is False
    assert stack.api("GET", "/whoami").status == 200  # the control plane is up all along


def test_an_app_cannot_reach_an_unlinked_apps_container(stack, apps):
    target_ip = next(iter(inspect(web_container(stack, apps["target"]))["NetworkSettings"]
                          ["Networks"].values()))["IPAddress"]

    tried = probe_from(stack, apps["probe"], f"{target_ip}:5000", f"name:{apps['target']}")

    assert tried["connect"][f"{target_ip}:5000"] is False
    assert tried["resolve"][apps["target"]] is False
    assert stack.get(apps["target"]).status == 200  # it serves, just not to its neighbour


def test_a_linked_app_reaches_the_other_by_name_until_unlinked(stack, apps):
    probe, target = apps["probe"], apps["target"]
    linked = stack.paas("network:link", target, "-a", probe)
    try:
        assert linked.returncode == 0, linked.stderr
        assert stack.paas("network", "-a", probe).stdout.split() == [target]
        reached = probe_from(stack, probe, f"{target}:5000", f"name:{target}")
        # One way: the target does not resolve the probe's name.
        back = probe_from(stack, target, f"name:{probe}")
    finally:
        unlinked = stack.paas("network:unlink", target, "-a", probe)
    assert reached["connect"][f"{target}:5000"] is True
    assert back["resolve"][probe] is False
    assert unlinked.returncode == 0, unlinked.stderr
    again = probe_from(stack, probe, f"name:{target}")
    assert again["resolve"][target] is False
    assert stack.api("GET", f"/apps/{probe}/links").json() == {"links": []}


def test_a_link_to_an_unknown_app_is_refused_and_changes_nothing(stack, apps):
    refused = stack.paas("network:link", "no-such-app", "-a", apps["probe"])

    assert refused.returncode == 1
    assert refused.stderr.rstrip().endswith("(app_not_found)")
    assert stack.api("GET", f"/apps/{apps['probe']}/links").json() == {"links": []}


def test_docker_inspect_shows_the_confinement_of_web_containers(stack, apps):
    for app, user in ((apps["probe"], "app"), (apps["target"], "")):
        shown = inspect(web_container(stack, app))
        host = shown["HostConfig"]
        assert host["CapDrop"] == ["ALL"] and not host["CapAdd"]
        assert "no-new-privileges:true" in host["SecurityOpt"]
        assert host["Privileged"] is False
        assert host["PidsLimit"] == 256
        assert host["Memory"] == host["MemorySwap"] == 512 * 1024 * 1024
        assert not host["Binds"]
        assert [m["Type"] for m in shown["Mounts"]] in ([], ["volume"])
        assert shown["Config"]["User"] == user  # buildpack apps: the stack's app user
        # Its own network only (no shared one).
        assert list(shown["NetworkSettings"]["Networks"]) == [
            app_network_name(str(stack.home.resolve()), app)]


def test_a_running_one_off_container_is_confined_too(stack, apps):
    app = apps["probe"]
    seen: dict = {}

    def run_a_while() -> None:
        seen["run"] = stack.paas("run", "-a", app, "--", "sleep", "15")

    runner = threading.Thread(target=run_a_while)
    runner.start()
    try:
        found = ""
        for _ in range(100):
            found = docker("ps", "-q", "--filter", f"label=paas.app={app}", "--filter",
                           "label=paas.oneoff=run")
            if found:
                break
            threading.Event().wait(0.2)
        assert found, "the one-off container never showed up"
        shown = inspect(found.split()[0])
    finally:
        runner.join(timeout=120)
    host = shown["HostConfig"]
    assert host["CapDrop"] == ["ALL"]
    assert "no-new-privileges:true" in host["SecurityOpt"]
    assert (host["PidsLimit"], host["Memory"]) == (256, 512 * 1024 * 1024)
    assert shown["Config"]["User"] == "app"
    assert seen["run"].returncode == 0, seen["run"].stderr


def test_the_release_phase_ran_without_capabilities_or_new_privileges(apps):
    reported = apps["target_push"]
    assert re.search(r"CapEff:\s+0000000000000000", reported), reported
    assert re.search(r"NoNewPrivs:\s+1", reported), reported


def test_a_one_off_runs_as_the_app_user_without_capabilities(stack, apps):
    outcome = stack.paas("run", "-a", apps["probe"], "--", "sh", "-c",
                         "id -u; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status")

    assert outcome.returncode == 0, outcome.stderr
    lines = outcome.stdout.split()
    assert lines[0] == "1000"
    assert lines[1:] == ["CapEff:", "0000000000000000", "NoNewPrivs:", "1"]


def test_a_fork_bomb_stops_at_the_pids_limit_and_the_app_keeps_answering(stack, apps):
    outcome = stack.paas("run", "-a", apps["probe"], "--", "python3", "-c", FORK_BOMB)

    assert outcome.returncode == 0, outcome.stderr
    found = re.search(r"fork failed after (\d+) children: errno 11", outcome.stdout)
    assert found, outcome.stdout
    assert int(found.group(1)) < 256
    assert stack.get(apps["probe"]).status == 200


def test_a_memory_hog_is_killed_at_the_memory_limit_and_the_app_keeps_answering(stack, apps):
    outcome = stack.paas("run", "-a", apps["probe"], "--", "python3", "-c",
                         "block = b'x' * (1024 ** 3); print('allocated')")

    assert outcome.returncode == 137, outcome.stdout + outcome.stderr  # SIGKILL by the OOM
    assert "allocated" not in outcome.stdout
    assert stack.get(apps["probe"]).status == 200


def test_the_firewall_rule_keeps_app_containers_off_a_control_plane_on_all_addresses(
        stack, apps):
    """As if an operator set PAAS_BIND_ADDRESS=0.0.0.0: a listener of this test's on every
    address stands in for the control plane; the rule paas adds at `up` (and removes at
    `down`) is what keeps app containers off it."""
    from paas.hostctl import firewall

    listener = socket.create_server(("0.0.0.0", 0))
    port = listener.getsockname()[1]
    accepting = threading.Thread(target=_accept_all, args=(listener,), daemon=True)
    accepting.start()
    home = stack.home / "firewall-test"
    gateway = probe_from(stack, apps["probe"])["gateway"]
    try:
        open_before = probe_from(stack, apps["probe"], f"{gateway}:{port}")
        assert firewall.guard_control_plane(home, "0.0.0.0", POOL, port) is True
        assert firewall.guard_control_plane(home, "0.0.0.0", POOL, port) is True  # idempotent
        guarded = probe_from(stack, apps["probe"], f"{gateway}:{port}")
    finally:
        removed = firewall.unguard_control_plane(home, POOL, port)
        listener.close()
    assert open_before["connect"][f"{gateway}:{port}"] is True
    assert guarded["connect"][f"{gateway}:{port}"] is False
    assert removed == 1
    rules = subprocess.run(["iptables", "-w", "-S", "INPUT"], capture_output=True, text=True,
                           check=True).stdout
    assert firewall.rule_comment(home) not in rules
    assert firewall.guard_control_plane(home, "127.0.0.1", POOL, port) is False  # loopback


def _accept_all(listener: socket.socket) -> None:
    while True:
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        connection.close()


@pytest.mark.parametrize(("step", "reason"), [
    # Forks until refused, then waits for its children: bounded by the ceiling, not by luck.
    ("python3 -c \"import os, time; [os.fork() == 0 and time.sleep(30) "
     "for _ in range(5000)]\"", "build pids limit (PAAS_BUILD_PIDS=128) was reached"),
    ("python3 -c \"block = b'x' * (1024 ** 3)\"",
     "killed, most likely at the build memory limit (PAAS_BUILD_MEMORY=256m)"),
])
def test_a_build_step_past_the_build_ceilings_fails_with_a_clear_message(tmp_path, step,
                                                                         reason):
    """The ceilings are host-wide: this test lowers them for a moment (under the e2e lock, so
    no other test builds meanwhile) and puts back what was there, even on failure."""
    from paas.runtime.build_limits import BuildCgroup
    from paas.runtime.docker_engine import BuildFailed, DockerEngine

    (tmp_path / "Dockerfile").write_text(
        f"FROM paas/stack:bookworm\nRUN echo {uuid.uuid4().hex} && {step}\n")
    engine = DockerEngine(home=str(tmp_path), build_memory="256m", build_pids=128)
    cgroup = BuildCgroup()
    previous = cgroup.apply("256m", 128)
    lines: list[str] = []
    try:
        with pytest.raises(BuildFailed) as failed:
            engine.build_image(tmp_path, f"paas-isolation-test:{uuid.uuid4().hex[:8]}",
                               lines.append, timeout=300)
    finally:
        cgroup.restore(previous)
    assert reason in str(failed.value), "\n".join(lines[-30:])
    assert cgroup.read_limits() == previous
