"""The Scheduler interface: what ``paas.core`` needs from a container engine, and the plain
data the two sides speak.

Core decides what should run and keeps the books; a scheduler makes its engine run that and
records nothing. Core describes one app's wanted state as a ``DesiredApp``; a scheduler
converges to it (start, health-check, route, then hand back the old containers as a
``Retirement``), runs one-off commands in it, lists what runs as ``Instance``\\ s, streams their
output and removes apps. Implementations:

- ``paas.runtime.docker_scheduler.DockerScheduler``: containers on one Docker Engine, behind
  the nginx router;
- ``paas.runtime.swarm_scheduler.SwarmScheduler``: services on a Docker Swarm, behind the same
  router, which sends to each task on a port of its node;
- the in-memory scheduler the unit tests use (``tests/fakes.py``).

A new engine is one new module implementing ``Scheduler``; nothing in ``paas.core`` changes
for it.
"""

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypedDict

from paas.router.nginx import AppRoute
from paas.router.nginx_config import TlsSite
from paas.runtime.health import HealthCheck

logger = logging.getLogger(__name__)

Log = Callable[[str], None]


def ignore(_line: str) -> None:
    """A log that drops every line."""


class Limits(TypedDict, total=False):
    """One process type's limits; a missing key is no limit."""

    memory: str  # like "256m"
    nano_cpus: int  # a billionth of a CPU each
    pids: int  # processes and threads


@dataclass(frozen=True)
class DesiredApp:
    """What should run for one app: one release, its process types and how many of each."""

    app: str
    release: int
    image: str
    env: dict[str, str]
    process_types: dict[str, str | None]  # None: the image's own command
    quantities: dict[str, int]
    hostnames: tuple[str, ...]
    healthchecks: tuple[HealthCheck, ...] = ()
    # Per process type: {"memory": "256m", "nano_cpus": 500_000_000, "pids": 256}.
    limits: dict[str, Limits] = field(default_factory=dict)
    # The limits of one-off containers (release phase, ``run``) and of any process type
    # missing from ``limits``.
    default_limits: Limits = field(default_factory=lambda: Limits())
    # Volume name -> {"bind": mount path, "mode": "rw"}; created if missing.
    volumes: dict[str, dict[str, str]] = field(default_factory=dict)
    # The apps whose containers this app's containers may reach (by app name): linked
    # explicitly. Without a link no app reaches another.
    links: tuple[str, ...] = ()
    # The backing services (by service name) linked to this app: its containers join each
    # one's network, where it answers as ``<name>.<kind>``. Without a link none is reachable.
    services: tuple[str, ...] = ()
    read_only_rootfs: bool = False
    # The app's certificate as the router serves it (None: plain HTTP only).
    tls: TlsSite | None = None

    def route(self, upstreams: tuple[str, ...]) -> AppRoute:
        """The router's route for this app to ``upstreams``: its hostnames and certificate."""
        return AppRoute(self.app, self.hostnames, upstreams, self.tls)

    def limits_of(self, process_type: str) -> Limits:
        """The limits of ``process_type``'s containers (the defaults where none are set)."""
        return self.limits.get(process_type, self.default_limits)

    def base_env(self) -> dict[str, str]:
        """The config plus what paas tells every process about itself."""
        return {**self.env, "PAAS_APP": self.app, "PAAS_RELEASE": str(self.release)}


@dataclass(frozen=True)
class Instance:
    """One running (or crashed, or restarting) process of an app, as its engine reports it."""

    app: str
    release: int
    process_type: str
    number: int
    state: str  # the engine's word: running, restarting, exited, ...
    port: int | None = None  # a web instance's loopback-published port (for a look by hand)
    # How often the engine restarted it, and how it last exited: known for an instance that
    # is not running (what crash reports read); an engine may leave them 0 for a running one.
    restart_count: int = 0
    exit_code: int = 0
    id: str = ""  # the engine's id for it (a container id)
    node: str = ""  # the machine it runs on, where the engine has several

    @property
    def label(self) -> str:
        """How logs and messages name it: ``web.1``."""
        return f"{self.process_type}.{self.number}"

    @property
    def running(self) -> bool:
        return self.state == "running"


@dataclass(frozen=True)
class Node:
    """One machine the scheduler runs instances on, as its engine reports it."""

    id: str
    hostname: str
    role: str  # manager or worker
    state: str  # ready, down, ...
    availability: str  # active, pause, drain
    address: str = ""
    leader: bool = False
    tasks: tuple[str, ...] = ()  # what runs there: "<app>:<type>.<n>"


@dataclass(frozen=True)
class OneOffResult:
    exit_code: int
    output: str
    timed_out: bool = False


@dataclass(frozen=True)
class Terminal:
    """The pseudo-terminal an interactive session gets: its size and the client's TERM."""

    rows: int = 24
    cols: int = 80
    term: str = "xterm"


class TtySession(Protocol):
    """A process on a pseudo-terminal (a one-off container, or a command run in a backing
    service's container), as the caller relays it to a user's terminal.

    ``fileno`` is readable when ``read`` has output (or the end) for the caller; ``read``
    returns b"" once the process ended and the terminal closed, after which ``finish`` gives
    its exit code. ``close`` ends the session whatever its state (the process is killed, a
    one-off container removed); every session is closed, also after ``finish``.
    """

    name: str

    def fileno(self) -> int: ...

    def read(self) -> bytes: ...

    def write(self, data: bytes) -> None: ...

    def resize(self, rows: int, cols: int) -> None: ...

    def finish(self) -> int: ...

    def close(self) -> None: ...


class Retiring(Protocol):
    """What a Retirement needs to know of an old instance to say what it stops."""

    @property
    def label(self) -> str: ...

    @property
    def release(self) -> int: ...


# The router switches in memory (no reload, no old workers): a request that picked an old
# instance just before the switch only needs a moment to reach it before the instance is told
# to stop; what is in flight then is the instance's own graceful shutdown to finish. Held under
# the deploy lock, so it delays the app's next deploy: keep it short.
ROUTER_SETTLE_SECONDS = 0.2


@dataclass
class Retirement:
    """The second half of a converge: the instances the router no longer sends requests to.

    ``converge`` returns it once the router serves ``upstreams`` (the web instances' addresses
    routed now); the
    caller records that the new release serves, then calls ``run``, still under the app's
    deploy lock so that nothing else converges while the old instances drain.
    """

    app: str
    upstreams: list[str]
    instances: Sequence[Retiring] = ()
    # How to stop one instance (SIGTERM, drain, keep its logs, remove); set by the scheduler.
    stop: Callable[[Retiring], None] | None = None

    def run(self, log: Log = ignore) -> list[str]:
        """Let the router settle, then stop the old instances side by side.

        Never raises: an old instance that cannot be stopped is logged (and returned as a
        message) and left to the next reconcile, which finds it unwanted again. Whatever
        happens here, the new release already serves and stays serving.
        """
        if not self.instances or self.stop is None:
            return []
        # In-flight requests to these instances finish before they are told to stop.
        time.sleep(ROUTER_SETTLE_SECONDS)
        for instance in self.instances:
            log(f"       stopping {instance.label} of v{instance.release}")
        stop = self.stop
        problems: list[str] = []

        def retire(instance: Retiring) -> None:
            try:
                stop(instance)
            # Broad on purpose: this runs after the switch, and nothing that goes wrong while
            # an old instance shuts down may reach the caller as a failed deploy.
            except Exception as error:
                logger.warning("could not retire %s of %s", instance.label, self.app,
                               exc_info=True)
                problems.append(f"could not stop {instance.label} of v{instance.release} "
                                f"({error}); the next reconcile removes it")

        # Side by side: each drains for up to the grace period, and the deploy lock is held
        # meanwhile.
        with ThreadPoolExecutor(max_workers=min(8, len(self.instances))) as pool:
            list(pool.map(retire, self.instances))
        for problem in problems:
            log(f"       {problem}")
        return problems


class Scheduler(Protocol):
    """A container engine as ``paas.core`` sees it.

    Methods raise ``paas.errors.UserError`` for what the app's owner can fix (a failing health
    check, a missing image) and ``paas.errors.PlatformError`` when the engine fails.
    """

    def converge(self, desired: DesiredApp, log: Log = ignore) -> Retirement:
        """Start what ``desired`` lacks, health-check it and route the app's web traffic to it.

        Returns once the router serves the wanted web instances, with the unwanted ones still
        running: the caller records the change, then runs the returned Retirement. On failure
        the instances this call started are removed and what served before still serves.
        """
        ...

    def run_oneoff(self, desired: DesiredApp, command: str, kind: str, timeout: float,
                   log: Log | None = None) -> OneOffResult:
        """Run ``command`` once with ``desired``'s image, config and volumes (no port, no
        route); ``kind`` is ``release`` or ``run``. Exit code 124 and ``timed_out`` if it
        ran past ``timeout`` seconds and was killed."""
        ...

    def open_oneoff_tty(self, desired: DesiredApp, command: str, terminal: Terminal,
                        timeout: float) -> TtySession:
        """Start ``command`` in a one-off container of ``desired``'s release (as
        ``run_oneoff`` does: its image, config, volumes and networks, confined) on a
        pseudo-terminal, and return the session; the container is removed when it is closed,
        or by ``remove_stale_oneoffs`` after ``timeout`` seconds. Raises
        UserError(tty_not_supported) for an engine that cannot attach to its containers."""
        ...

    def instances(self, app: str | None = None) -> list[Instance]:
        """The instances of ``app`` (of every app if None) that the engine has, in any state."""
        ...

    def logs(self, instance: Instance, follow: bool = False,
             since: float | None = None) -> Iterator[bytes]:
        """``instance``'s output lines as ``<RFC 3339 timestamp> <text>``, from ``since``
        (Unix seconds) if given; with ``follow``, new lines until it stops. Ends quietly if
        the instance goes away."""
        ...

    def saved_logs_dir(self, app: str) -> Path:
        """Where the output of ``app``'s removed instances is kept:
        ``<dir>/v<release>/<type>.<n>.log``."""
        ...

    def remove_app(self, app: str) -> None:
        """Remove ``app``'s route, every instance of it and its network (from the containers
        of apps linked to it too)."""
        ...

    def remove_orphans(self, known_apps: set[str]) -> list[str]:
        """Remove the instances and networks of apps not in ``known_apps``; return what was
        removed."""
        ...

    def remove_stale_oneoffs(self, default_timeout: float, grace_seconds: float) -> list[str]:
        """Remove one-offs older than their timeout plus ``grace_seconds`` (their runner
        died); return what was removed."""
        ...

    def unrouted_apps(self, current: dict[str, int]) -> list[str]:
        """Of ``current`` (app -> its current release), the apps with a running web instance
        the router does not send requests to (an instance the engine restarted elsewhere).
        Cheap enough to ask every few seconds."""
        ...

    def ensure_volume(self, name: str, app: str) -> None:
        """Create volume ``name`` for ``app`` if it is missing; never touch its data."""
        ...

    def nodes(self) -> list[Node]:
        """The machines apps run on (one for a single-host engine), with what runs on each."""
        ...

    def join_command(self) -> str:
        """The command that joins another machine to run apps too. Raises
        UserError(not_a_swarm) for an engine that runs on one host only."""
        ...

    def remove_volume(self, name: str) -> bool:
        """Delete volume ``name`` and its data; False if it is gone or still in use."""
        ...
