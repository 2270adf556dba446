"""A real two-node Docker Swarm on one machine, for the e2e tests of the swarm scheduler.

The main dockerd is the manager. The worker is a second ``dockerd`` in a network namespace of
its own, joined to the host by a veth pair on a private /30: the two daemons then talk to each
other as two machines would (raft and the dispatcher on 2377, gossip on 7946, VXLAN on 4789),
each publishes ports on its own addresses and each has its own bridges and iptables. It also
runs in a UTS namespace of its own, so it has a hostname of its own: Swarm names nodes after
the hostname, and a test telling the nodes apart (``paas ps`` shows the node of each instance)
needs them to differ.

Everything made is undone on exit, even on failure or Ctrl-C: the swarm is left on both
daemons, the worker dockerd and whatever it started are stopped by pid, its mounts, the
namespace, the veth pair and the data directories are removed. Run under the machine-wide
lock (``flock /tmp/paas-e2e.lock ...``), as everything that makes a swarm: the names used here
are fixed, so that a run killed before its clean-up is cleaned up by the next one.
"""

import contextlib
import ctypes
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

NETNS = "paas-node2"
NETNS_DIR = Path("/run/netns")
HOST_VETH = "paas-n2-host"
WORKER_VETH = "paas-n2-node"
WORKER_HOSTNAME = "paas-node2"
# The worker dockerd's data root beside the main one's, on the same filesystem: overlay2
# needs a backing filesystem that supports it, which the main dockerd's root is known to be.
WORKER_HOME = Path("/var/lib/paas-node2")
# Short, under /run: containerd's and the shims' socket paths must fit in sun_path.
WORKER_RUN = Path("/run/paas-node2")
# Marks that this module made docker_gwbridge (on the main dockerd) or /run/netns, so that the
# next run removes them if this one was killed before its clean-up; what was there before is
# left alone.
GATEWAY_BRIDGE_MARK = Path("/run/paas-node2.made-docker_gwbridge")
NETNS_DIR_MARK = Path("/run/paas-node2.made-run-netns")
DEFAULT_SUBNET = "10.250.99.0/30"
TOOLS = ("dockerd", "docker", "ip", "nsenter", "unshare", "umount")
CLONE_NEWNET = 0x40000000


@dataclass
class SwarmNodes:
    """The two nodes of a running ``two_node_swarm``. The manager is the main dockerd (use
    plain ``docker``); the worker is reached through ``worker_docker``."""

    manager_address: str
    worker_address: str
    worker_hostname: str
    worker_socket: str
    manager_node_id: str = ""
    worker_node_id: str = ""
    netns_path: str = ""
    _forwarders: dict[int, "_Forwarder"] = field(default_factory=dict, repr=False)

    def worker_docker(self, *argv: str, check: bool = True,
                      timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """``docker`` against the worker dockerd; raises CalledProcessError if ``check`` and
        it fails."""
        return subprocess.run(["docker", "-H", f"unix://{self.worker_socket}", *argv],
                              capture_output=True, text=True, check=check, timeout=timeout)

    def forward_into_worker(self, port: int) -> None:
        """Make the host's ``127.0.0.1:<port>`` answer at ``127.0.0.1:<port>`` in the worker's
        namespace, until the swarm is taken down.

        Why: the paas registry listens on the host's loopback, and a service's image is named
        ``127.0.0.1:<port>/paas/<app>:vN`` so that dockerd pulls from it without TLS (it
        trusts 127.0.0.0/8 as insecure). The worker dockerd resolves that name in its own
        namespace, whose loopback is its own. Raises OSError if the port is taken there.
        """
        if port not in self._forwarders:
            self._forwarders[port] = _Forwarder(self.netns_path, port)

    def stop_forwarders(self) -> None:
        """Stop what ``forward_into_worker`` started (the exit does it too)."""
        for forwarder in self._forwarders.values():
            forwarder.close()
        self._forwarders.clear()


def namespace_unavailable() -> str | None:
    """Why a two-node swarm cannot be made on this machine, or None if it can."""
    if os.geteuid() != 0:
        return "a second dockerd in a network namespace needs root"
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        return f"missing {', '.join(missing)}"
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    if listed.returncode != 0:
        return f"ip netns does not work here: {listed.stderr.strip()}"
    return None


@contextlib.contextmanager
def two_node_swarm(address_pool: str, subnet: str = DEFAULT_SUBNET,
                   timeout: float = 120) -> Iterator[SwarmNodes]:
    """The main dockerd as manager and a second dockerd, in a namespace, as worker: both Ready.

    ``address_pool`` is the swarm's ``--default-addr-pool`` (ingress and overlay subnets);
    ``subnet`` is the veth pair's (a /30 nothing else on the machine uses). Both nodes are
    Ready about a second after entry; the exit takes a few seconds more (longer when the
    worker pulled big images, as its data root is deleted). A swarm the main dockerd is
    already in is left first: under the lock, it can only be a killed run's.

    Raises RuntimeError if the machine cannot (see ``namespace_unavailable``), if the subnet
    is in use, or if a step does not finish within ``timeout`` seconds, and
    CalledProcessError if a ``docker swarm`` command fails; what was made by then is undone
    before it propagates.
    """
    reason = namespace_unavailable()
    if reason:
        raise RuntimeError(f"no two-node swarm here: {reason}")
    manager_address, worker_address = _veth_addresses(subnet)
    # Nobody holds these outside the lock: any found here are an earlier killed run's.
    _leave_swarm(_manager_docker)
    if GATEWAY_BRIDGE_MARK.exists():
        _remove_gateway_bridge()
    _take_down_worker()
    with contextlib.ExitStack() as undo:
        if not NETNS_DIR.exists():
            NETNS_DIR_MARK.touch()
        undo.callback(_restore_netns_dir)
        undo.callback(_take_down_worker)
        _make_namespace(manager_address, worker_address, subnet)
        nodes = SwarmNodes(manager_address=manager_address, worker_address=worker_address,
                           worker_hostname=WORKER_HOSTNAME,
                           worker_socket=str(WORKER_RUN / "docker.sock"),
                           netns_path=str(NETNS_DIR / NETNS))
        _start_worker_dockerd(timeout)
        if not _network_exists("docker_gwbridge"):
            GATEWAY_BRIDGE_MARK.touch()
            undo.callback(_remove_gateway_bridge)
        undo.callback(_leave_swarm, _manager_docker)
        _manager_docker("swarm", "init", "--advertise-addr", manager_address,
                        "--listen-addr", f"{manager_address}:2377",
                        "--default-addr-pool", address_pool)
        undo.callback(nodes.stop_forwarders)
        token = _manager_docker("swarm", "join-token", "-q", "worker").stdout.strip()
        undo.callback(_leave_swarm, nodes.worker_docker)
        nodes.worker_docker("swarm", "join", "--token", token,
                            "--advertise-addr", worker_address,
                            "--listen-addr", f"{worker_address}:2377",
                            f"{manager_address}:2377")
        nodes.manager_node_id = _node_id(_manager_docker)
        nodes.worker_node_id = _node_id(nodes.worker_docker)
        _wait("both swarm nodes Ready",
              lambda: _ready_nodes() >= {nodes.manager_node_id, nodes.worker_node_id}, timeout)
        yield nodes


def _manager_docker(*argv: str, check: bool = True,
                    timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *argv], capture_output=True, text=True, check=check,
                          timeout=timeout)


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=60)


def _wait(what: str, condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.25)


def _veth_addresses(subnet: str) -> tuple[str, str]:
    """The two host addresses of ``subnet``, after checking no interface already uses it."""
    network = ipaddress.ip_network(subnet)
    hosts = list(network.hosts())
    if len(hosts) < 2:
        raise RuntimeError(f"{subnet} has room for fewer than two addresses")
    shown = json.loads(_run("ip", "-j", "-4", "addr").stdout)
    for link in shown:
        if link["ifname"] == HOST_VETH:
            continue  # ours, from a killed run: _take_down_worker removes it
        for address in link.get("addr_info", []):
            theirs = ipaddress.ip_network(f"{address['local']}/{address['prefixlen']}",
                                          strict=False)
            if theirs.overlaps(network):
                raise RuntimeError(f"{subnet} overlaps {theirs} on {link['ifname']}")
    return str(hosts[0]), str(hosts[1])


def _make_namespace(manager_address: str, worker_address: str, subnet: str) -> None:
    prefix = ipaddress.ip_network(subnet).prefixlen
    _run("ip", "netns", "add", NETNS)
    _run("ip", "link", "add", HOST_VETH, "type", "veth", "peer", "name", WORKER_VETH)
    _run("ip", "link", "set", WORKER_VETH, "netns", NETNS)
    _run("ip", "addr", "add", f"{manager_address}/{prefix}", "dev", HOST_VETH)
    _run("ip", "link", "set", HOST_VETH, "up")
    _run("ip", "-n", NETNS, "addr", "add", f"{worker_address}/{prefix}", "dev", WORKER_VETH)
    _run("ip", "-n", NETNS, "link", "set", WORKER_VETH, "up")
    # The worker dockerd pulls from 127.0.0.1 (forward_into_worker) and docker-proxy binds it.
    _run("ip", "-n", NETNS, "link", "set", "lo", "up")


def _restore_netns_dir() -> None:
    """The first ``ip netns add`` makes /run/netns and bind-mounts it onto itself (to share
    the namespaces' mounts); undo that too if it was this module's and no namespace is left."""
    if not NETNS_DIR_MARK.exists():
        return
    if NETNS_DIR.is_dir() and any(NETNS_DIR.iterdir()):
        return
    if _is_mount_point(NETNS_DIR):
        _run("umount", str(NETNS_DIR), check=False)
    if not _is_mount_point(NETNS_DIR):
        with contextlib.suppress(FileNotFoundError):
            NETNS_DIR.rmdir()
        NETNS_DIR_MARK.unlink()


def _mount_points() -> list[str]:
    """What is mounted where, from /proc/self/mountinfo (``os.path.ismount`` misses a bind
    mount within one filesystem, such as /run/netns onto itself)."""
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        # Field 5 is the mount point, with spaces and the like octal-escaped.
        points.append(line.split()[4].encode().decode("unicode_escape"))
    return points


def _is_mount_point(path: Path) -> bool:
    return str(path) in _mount_points()


def _start_worker_dockerd(timeout: float) -> None:
    """Start the worker dockerd in the namespace, detached; wait until it answers.

    ``nsenter --net`` rather than ``ip netns exec``: the latter also mounts a fresh /sys in a
    mount namespace of its own, under which /sys/fs/cgroup is empty, and dockerd cannot run
    containers without the cgroup hierarchies. So the worker shares the host's mounts,
    and its own (overlay2 layers, netns bind mounts) are under its data and exec roots, where
    the clean-up unmounts whatever it left.
    """
    WORKER_HOME.mkdir(parents=True)
    WORKER_RUN.mkdir(parents=True)
    # Its own configuration, so /etc/docker/daemon.json (the main dockerd's) is not read.
    config = WORKER_HOME / "daemon.json"
    config.write_text("{}\n")
    log = open(WORKER_HOME / "dockerd.log", "ab")  # noqa: SIM115 - handed to the daemon
    with log:
        subprocess.Popen(
            ["nsenter", f"--net={NETNS_DIR / NETNS}", "--",
             "unshare", "--uts", "--",
             "sh", "-c", 'hostname "$0" && exec "$@"', WORKER_HOSTNAME,
             "dockerd", "--config-file", str(config),
             "--data-root", str(WORKER_HOME / "data"),
             "--exec-root", str(WORKER_RUN / "exec"),
             "--pidfile", str(WORKER_RUN / "docker.pid"),
             "-H", f"unix://{WORKER_RUN / 'docker.sock'}",
             # Its own containerd namespaces too, should it find a system containerd to share.
             "--containerd-namespace", "paas-node2",
             "--containerd-plugins-namespace", "paas-node2-plugins"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)

    def answers() -> bool:
        ping = _run("docker", "-H", f"unix://{WORKER_RUN / 'docker.sock'}", "version",
                    "--format", "{{.Server.Version}}", check=False)
        if ping.returncode == 0:
            return True
        if not _namespace_pids():
            tail = (WORKER_HOME / "dockerd.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the worker dockerd exited:\n{tail}")
        return False

    _wait("the worker dockerd to answer", answers, timeout)


def _node_id(docker: Callable[..., subprocess.CompletedProcess[str]]) -> str:
    return docker("info", "--format", "{{.Swarm.NodeID}}").stdout.strip()


def _ready_nodes() -> set[str]:
    listed = _manager_docker("node", "ls", "--format", "{{.ID}} {{.Status}}", check=False)
    return {line.split()[0] for line in listed.stdout.splitlines() if line.endswith(" Ready")}


def _leave_swarm(docker: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    state = docker("info", "--format", "{{.Swarm.LocalNodeState}}", check=False)
    if state.returncode == 0 and state.stdout.strip() != "inactive":
        docker("swarm", "leave", "--force", check=False)


def _network_exists(name: str) -> bool:
    return _manager_docker("network", "inspect", name, check=False).returncode == 0


def _remove_gateway_bridge() -> None:
    """Swarm makes docker_gwbridge on the main dockerd and leaving does not remove it. Its
    ingress endpoint can take a moment to go after the leave, so the removal is retried."""
    with contextlib.suppress(RuntimeError):
        _wait("docker_gwbridge to be removable",
              lambda: not _network_exists("docker_gwbridge")
              or _manager_docker("network", "rm", "docker_gwbridge",
                                 check=False).returncode == 0, 30)
    if not _network_exists("docker_gwbridge"):
        GATEWAY_BRIDGE_MARK.unlink(missing_ok=True)


def _namespace_pids() -> set[int]:
    """The processes in the worker's network namespace: its dockerd, containerd, the shims
    and docker-proxy (containers have namespaces of their own, see ``_descendants``)."""
    listed = _run("ip", "netns", "pids", NETNS, check=False)
    return {int(pid) for pid in listed.stdout.split()} if listed.returncode == 0 else set()


def _descendants(roots: set[int]) -> set[int]:
    """``roots`` and all their descendants: the shims' children are the containers'
    processes, which would outlive a killed shim."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # The command name, in parentheses, may hold spaces; ppid is the 2nd field after.
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, []))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _stop_worker_dockerd() -> None:
    """SIGTERM the worker dockerd (it stops its containers and its containerd), SIGKILL it
    after 30 s; then kill whatever is still in the namespace, and their children."""
    pidfile = WORKER_RUN / "docker.pid"
    with contextlib.suppress(OSError, ValueError):
        pid = int(pidfile.read_text())
        if pid in _namespace_pids():
            os.kill(pid, signal.SIGTERM)
            with contextlib.suppress(RuntimeError):
                _wait("the worker dockerd to stop", lambda: not _alive(pid), 30)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        left = {pid for pid in _descendants(_namespace_pids()) if _alive(pid)}
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        with contextlib.suppress(RuntimeError):
            _wait("the worker's processes to exit", partial(_none_alive, left), 10)


def _none_alive(pids: set[int]) -> bool:
    return not any(_alive(pid) for pid in pids)


def _unmount_under(*roots: Path) -> None:
    """Unmount, deepest first, what is mounted under ``roots`` (a killed dockerd leaves its
    overlay2 layers and netns bind mounts behind)."""
    targets = [target for target in _mount_points()
               if any(target == str(root) or target.startswith(f"{root}/") for root in roots)]
    for target in sorted(targets, key=lambda path: path.count("/"), reverse=True):
        _run("umount", "--lazy", target, check=False)


def _take_down_worker() -> None:
    """Undo all of the worker's side, whatever state it is in: an idempotent clean-up."""
    if (NETNS_DIR / NETNS).exists():
        _stop_worker_dockerd()
    _unmount_under(WORKER_HOME, WORKER_RUN)
    # Deleting one end removes the pair at once; left to the namespace's deletion, the pair
    # goes only when the kernel gets round to freeing the namespace, seconds later.
    _run("ip", "link", "delete", HOST_VETH, check=False)
    _run("ip", "netns", "delete", NETNS, check=False)
    for path in (WORKER_HOME, WORKER_RUN):
        shutil.rmtree(path, ignore_errors=True)


def _listen_in_namespace(netns_path: str, port: int) -> socket.socket:
    """A socket listening on 127.0.0.1:<port> in the namespace at ``netns_path``.

    A socket stays in the namespace it was made in, so one thread enters the namespace
    (``setns`` through ctypes: Python 3.11 has no ``os.setns``; it moves only the calling
    thread), makes the socket and ends; the accept loop then runs in the host's namespace,
    where its outgoing connections reach the host's loopback.
    """
    made: list[socket.socket] = []
    failed: list[BaseException] = []

    def enter_and_listen() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            with open(netns_path) as namespace:
                if libc.setns(namespace.fileno(), CLONE_NEWNET) != 0:
                    error = ctypes.get_errno()
                    raise OSError(error, f"setns {netns_path}: {os.strerror(error)}")
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", port))
            listener.listen(64)
            made.append(listener)
        except BaseException as error:  # handed to the caller's thread
            failed.append(error)

    # This thread ends inside the namespace; no other thread is ever started from it.
    thread = threading.Thread(target=enter_and_listen, name=f"netns-listen-{port}")
    thread.start()
    thread.join()
    if failed:
        raise failed[0]
    return made[0]


class _Forwarder:
    """Relays TCP connections from 127.0.0.1:<port> in the worker's namespace to the host's
    127.0.0.1:<port>, each on a pair of daemon threads, until ``close``."""

    def __init__(self, netns_path: str, port: int) -> None:
        self.port = port
        self.listener = _listen_in_namespace(netns_path, port)
        self.listener.settimeout(0.5)
        self.stopping = threading.Event()
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._accept, daemon=True,
                                       name=f"forward-{port}")
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                inside, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            inside.settimeout(None)
            try:
                outside = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            except OSError:
                inside.close()
                continue
            outside.settimeout(None)
            with self.lock:
                self.open.update((inside, outside))
            threading.Thread(target=self._relay, args=(inside, outside), daemon=True).start()

    def _relay(self, inside: socket.socket, outside: socket.socket) -> None:
        upstream = threading.Thread(target=_pump, args=(inside, outside), daemon=True)
        upstream.start()
        _pump(outside, inside)
        upstream.join()
        with self.lock:
            self.open.difference_update((inside, outside))
        inside.close()
        outside.close()

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        self.listener.close()
        # Shut down rather than close: the relays wake up, end and close their own sockets.
        with self.lock:
            for end in self.open:
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy ``source`` to ``sink`` until end of stream, then half-close ``sink``, as a client
    done sending does; on an error, end both directions so the other pump stops too."""
    try:
        while data := source.recv(65536):
            sink.sendall(data)
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
