"""Host-level guards that ``hostctl up`` sets and ``hostctl down`` takes away: a firewall rule
that keeps app containers off the control plane, and the ceilings on build steps.

The control plane binds to loopback by default (``PAAS_BIND_ADDRESS``), where no container
reaches it. An operator who binds it to another address (``0.0.0.0`` to serve the dashboard
to the network) opens it on every bridge gateway too, so paas adds an iptables rule: TCP from
the app networks' pool (``PAAS_NETWORK_POOL``) to the control plane's port is rejected in
INPUT. Each rule carries a comment naming the installation, so ``down`` removes its own rules
and nothing else.
"""

import hashlib
import ipaddress
import json
import shutil
import subprocess
from pathlib import Path

from paas.runtime.build_limits import BuildCgroup

IPTABLES = shutil.which("iptables") or "/usr/sbin/iptables"


def is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def rule_comment(home: Path) -> str:
    return f"paas {hashlib.sha256(str(home).encode()).hexdigest()[:8]} control plane"


def control_plane_rule(home: Path, pool: str, port: int) -> list[str]:
    """The INPUT rule (without -I/-D) that rejects app containers' connections to ``port``."""
    return ["INPUT", "-s", pool, "-p", "tcp", "--dport", str(port), "-m", "comment",
            "--comment", rule_comment(home), "-j", "REJECT", "--reject-with", "tcp-reset"]


def _iptables(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([IPTABLES, "-w", *argv], capture_output=True, text=True, timeout=60)


def guard_control_plane(home: Path, bind_address: str, pool: str, port: int) -> bool:
    """Add the rule unless the control plane is on loopback (or the rule is there); return
    whether a rule is in place. Raises SystemExit with iptables' message if it fails."""
    if is_loopback(bind_address):
        return False
    _insert_once(control_plane_rule(home, pool, port),
                 f"keep app containers off the control plane ({bind_address}:{port})")
    return True


def _insert_once(rule: list[str], purpose: str) -> None:
    """Insert ``rule`` unless it is there already. Raises SystemExit("could not <purpose>")
    with iptables' message if inserting fails."""
    if _iptables("-C", *rule).returncode == 0:
        return
    added = _iptables("-I", *rule)
    if added.returncode != 0:
        raise SystemExit(f"paas: could not {purpose}: {added.stderr.strip()}")


def unguard_control_plane(home: Path, pool: str, port: int) -> int:
    """Remove this installation's rule (every copy of it); return how many were removed."""
    return _delete_every_copy(control_plane_rule(home, pool, port))


def _delete_every_copy(rule: list[str]) -> int:
    removed = 0
    while removed < 100 and _iptables("-D", *rule).returncode == 0:
        removed += 1
    return removed


def published_tasks_rule(home: Path, router_address: str | None = None) -> list[str]:
    """The DOCKER-USER rule (without -I/-D) that keeps swarm tasks' published ports off the
    network. A web task's port (``PublishMode: host``) listens on every address of its node; a
    connection to it from another machine (or from a container) is DNATed to the task's
    address on docker_gwbridge and forwarded, while the router's own connections to
    127.0.0.1 start on the node itself and are never forwarded. So dropping forwarded,
    DNATed traffic into docker_gwbridge closes the ports to everything but the node, and
    leaves the overlay (how tasks reach each other) alone. On a node other than the manager,
    ``router_address`` (the manager's) is let in: the router sends there from it."""
    comment = rule_comment(home).replace("control plane", "swarm tasks")
    source = ["!", "-s", router_address] if router_address else []
    return ["DOCKER-USER", "-o", "docker_gwbridge", "-p", "tcp", *source, "-m", "conntrack",
            "--ctstate", "DNAT", "-m", "comment", "--comment", comment, "-j", "DROP"]


def guard_published_tasks(home: Path) -> bool:
    """Add the published-tasks rule if it is missing; False if dockerd has no DOCKER-USER
    chain (it runs without iptables). Raises SystemExit with iptables' message if adding
    fails."""
    if _iptables("-L", "DOCKER-USER", "-n").returncode != 0:
        return False
    _insert_once(published_tasks_rule(home), "close the swarm tasks' ports to the network")
    return True


def unguard_published_tasks(home: Path) -> int:
    """Remove this installation's published-tasks rule (every copy); return how many."""
    return _delete_every_copy(published_tasks_rule(home))


def limit_builds(run_dir: Path, memory: str, pids: int) -> str:
    """Set the ceilings on build steps; remember what was there so ``unlimit_builds`` can put
    it back. Returns a line for the operator (a warning if the cgroup cannot be written)."""
    cgroup = BuildCgroup()
    state = run_dir / "build-limits.json"
    try:
        previous = cgroup.apply(memory, pids)
    except Exception as error:  # any reason: builds still have their time limit
        return f"paas: warning: build steps are not memory/pids limited: {error}"
    if not state.exists():
        state.write_text(json.dumps({"previous": previous, "set": cgroup.read_limits()}))
    return f"paas: build steps limited to {memory} of memory and {pids} processes in all"


def unlimit_builds(run_dir: Path) -> None:
    """Put back the ceilings ``limit_builds`` replaced, unless another installation has set
    its own since (the cgroup is shared by every build on the dockerd)."""
    state = run_dir / "build-limits.json"
    if not state.exists():
        return
    saved = json.loads(state.read_text())
    cgroup = BuildCgroup()
    if cgroup.read_limits() == saved["set"]:
        cgroup.restore(saved["previous"])
    state.unlink()
