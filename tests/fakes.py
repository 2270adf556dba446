"""In-memory stand-ins for the platform's I/O edge, in the spirit of dulwich's MemoryRepo.

``FakePlatform`` is a ``paas.core.platform.Platform`` whose parts keep everything in memory:
``FakeScheduler`` (the second implementation of ``paas.runtime.scheduler.Scheduler``),
``FakeImages``, ``FakeRouter``, ``FakeRedis``, a task queue that runs deploy actions at once,
and locks that really exclude. The ``platform`` fixture (tests/unit/conftest.py) installs one
for each test; the services in ``paas.core`` run for real against it.
"""

import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from paas.core import releases
from paas.core.actions import RUN_ACTION_TASK
from paas.core.models import App, Release
from paas.core.platform import Platform
from paas.errors import PlatformError
from paas.router.nginx import AppRoute
from paas.runtime.scheduler import (
    DesiredApp,
    Instance,
    Log,
    Node,
    OneOffResult,
    Retirement,
    Terminal,
    ignore,
)
from paas.runtime.services import (
    BackingServiceSpec,
    BackingServiceState,
    SnapshotRefused,
    Writable,
)

EXIT_LINE = re.compile(rb"exit (\d+)\r?\n?$")


class FakeTty:
    """A process on a terminal that echoes each line it reads, says ``resized RxC`` on a
    resize and ends on ``exit N`` with code N; ``close`` kills it. Its terminal is one end
    of a socket pair, so a caller can wait for its output with select, as on dockerd's."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str],
                 terminal: Terminal) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.terminal = terminal
        self.sizes = [(terminal.rows, terminal.cols)]
        self.received = b""
        self.exit_code: int | None = None
        self.closed = False
        self._ours, self._process = socket.socketpair()
        self._process.sendall(f"{name}$ ".encode())

    def fileno(self) -> int:
        return self._ours.fileno()

    def read(self) -> bytes:
        return self._ours.recv(65536)

    def write(self, data: bytes) -> None:
        self.received += data
        *lines, rest = self.received.replace(b"\r", b"\n").split(b"\n")
        for line in lines:
            self._process.sendall(line + b"\r\n")
            ended = EXIT_LINE.match(line + b"\n")
            if ended and self.exit_code is None:
                self.exit_code = int(ended.group(1))
                self._process.close()
                return
        self.received = rest

    def resize(self, rows: int, cols: int) -> None:
        self.sizes.append((rows, cols))
        if self.exit_code is None:
            self._process.sendall(f"resized {rows}x{cols}\r\n".encode())

    def finish(self) -> int:
        assert self.exit_code is not None, "finish before the output ended"
        return self.exit_code

    def close(self) -> None:
        self.closed = True
        self._ours.close()
        if self.exit_code is None:
            self._process.close()


class FakeScheduler:
    """Apps "run" as lists of instances; every converge and one-off is recorded."""

    def __init__(self, saved_logs: Path) -> None:
        self.saved_logs = saved_logs
        self.containers: dict[str, list[Instance]] = {}
        # What each instance printed, by label, as "<timestamp> <text>" lines.
        self.output: dict[str, list[bytes]] = {}
        self.volumes: dict[str, str] = {}  # volume name -> app
        self.converged: list[DesiredApp] = []
        self.commands: list[str] = []
        self.removed: list[str] = []  # apps removed whole
        self.oneoffs: list[DesiredApp] = []  # the desired state each one-off ran with
        # The app networks that exist, by the app they belong to; and which apps' networks
        # each app's containers joined (their own and their links'), as the engine would.
        self.networks: set[str] = set()
        self.joined: dict[str, set[str]] = {}
        self.listings: list[str | None] = []  # the app of each instances() call (None: all)
        self.sessions: list[FakeTty] = []  # each interactive one-off, as it was opened
        self.session_states: list[DesiredApp] = []

    def converge(self, desired: DesiredApp, log: Log = ignore) -> Retirement:
        self.converged.append(desired)
        self.networks.update({desired.app, *desired.links})
        self.joined[desired.app] = {desired.app, *desired.links,
                                    *(f"service:{name}" for name in desired.services)}
        self.containers[desired.app] = [
            Instance(desired.app, desired.release, process_type, number, state="running",
                     port=40000 + number if process_type == "web" else None,
                     id=f"{desired.app}-{process_type}-{number}-v{desired.release}")
            for process_type, quantity in sorted(desired.quantities.items())
            for number in range(1, quantity + 1)
        ]
        return Retirement(desired.app, [f"127.0.0.1:{i.port}" for i in self.containers[desired.app]
                                        if i.port])

    def run_oneoff(self, desired: DesiredApp, command: str, kind: str, timeout: float,
                   log: Log | None = None) -> OneOffResult:
        self.commands.append(command)
        self.oneoffs.append(desired)
        output = f"ran {command} in v{desired.release}\n"
        if log is not None:  # as the engine does, line by line
            for line in output.splitlines():
                log(line)
        return OneOffResult(exit_code=3, output=output)

    def open_oneoff_tty(self, desired: DesiredApp, command: str, terminal: Terminal,
                        timeout: float) -> FakeTty:
        self.commands.append(command)
        self.session_states.append(desired)
        session = FakeTty(f"run-{desired.app}-v{desired.release}", ["/bin/sh", "-c", command],
                          desired.base_env(), terminal)
        self.sessions.append(session)
        return session

    def instances(self, app: str | None = None) -> list[Instance]:
        self.listings.append(app)
        if app is None:
            return [i for found in self.containers.values() for i in found]
        return list(self.containers.get(app, []))

    def logs(self, instance: Instance, follow: bool = False,
             since: float | None = None) -> Iterator[bytes]:
        yield from self.output.get(instance.label, [])

    def saved_logs_dir(self, app: str) -> Path:
        return self.saved_logs / app

    def remove_app(self, app: str) -> None:
        self.removed.append(app)
        self.containers.pop(app, None)
        self.networks.discard(app)
        self.joined.pop(app, None)
        for joined in self.joined.values():
            joined.discard(app)  # removing a network takes it off linked apps' containers

    def remove_orphans(self, known_apps: set[str]) -> list[str]:
        orphans = [app for app in self.containers if app not in known_apps]
        for app in orphans:
            self.containers.pop(app)
        self.networks &= known_apps
        return orphans

    def remove_stale_oneoffs(self, default_timeout: float, grace_seconds: float) -> list[str]:
        return []

    def unrouted_apps(self, current: dict[str, int]) -> list[str]:
        return []

    def ensure_volume(self, name: str, app: str) -> None:
        self.volumes.setdefault(name, app)

    def remove_volume(self, name: str) -> bool:
        return self.volumes.pop(name, None) is not None

    def nodes(self) -> list[Node]:
        tasks = tuple(sorted(f"{i.app}:{i.label}" for found in self.containers.values()
                             for i in found))
        return [Node(id="fake", hostname="fake-host", role="manager", state="ready",
                     availability="active", leader=True, tasks=tasks)]

    def join_command(self) -> str:
        return "docker swarm join --token SWMTKN-fake 192.0.2.1:2377"


class FakeServices:
    """Backing services' containers as states; volumes and networks as sets."""

    def __init__(self) -> None:
        self.running: dict[str, BackingServiceState] = {}
        self.specs: dict[str, BackingServiceSpec] = {}
        self.volumes: set[str] = set()
        self.networks: set[str] = set()
        self.started: list[str] = []  # each container (re)started, by service name
        self.fail_with: Exception | None = None  # raised by the next ensure_backing_service
        self.consoles: list[FakeTty] = []  # each console opened, by service
        # What each service holds; a snapshot is b"<kind>:" and that.
        self.data: dict[str, bytes] = {}
        self.restored: list[str] = []

    def ensure_backing_service(self, spec: BackingServiceSpec,
                               log: Log = ignore) -> BackingServiceState:
        if self.fail_with is not None:
            error, self.fail_with = self.fail_with, None
            raise error
        self.networks.add(spec.name)
        self.volumes.add(spec.volume)
        self.specs[spec.name] = spec
        current = self.running.get(spec.name)
        if current is None or not current.running:
            self.started.append(spec.name)
            current = BackingServiceState(spec.name, spec.kind, "running", id=f"svc-{spec.name}")
            self.running[spec.name] = current
        return current

    def backing_service_state(self, name: str) -> BackingServiceState | None:
        return self.running.get(name)

    def backing_services(self) -> list[BackingServiceState]:
        return list(self.running.values())

    def restart_backing_service(self, name: str) -> None:
        self.started.append(name)

    def remove_backing_service(self, name: str, volume: str | None) -> None:
        self.running.pop(name, None)
        self.networks.discard(name)
        if volume is not None:
            self.volumes.discard(volume)

    def remove_orphan_backing_services(self, known: set[str]) -> list[str]:
        orphans = [name for name in self.running if name not in known]
        for name in orphans:
            self.remove_backing_service(name, volume=None)
        return orphans

    def open_backing_service_tty(self, name: str, argv: list[str], env: dict[str, str],
                                 terminal: Terminal) -> FakeTty:
        state = self.running.get(name)
        if state is None or not state.running:
            raise PlatformError(f"service {name} is not running", code="service_missing")
        console = FakeTty(name, argv, env, terminal)
        self.consoles.append(console)
        return console
    def dump_backing_service(self, spec: BackingServiceSpec, out: Writable) -> None:
        current = self.running.get(spec.name)
        if current is None or not current.running:
            raise PlatformError(f"service {spec.name} is not running", code="service_not_running")
        out.write(f"{spec.kind}:".encode() + self.data.get(spec.name, b""))

    def restore_backing_service(self, spec: BackingServiceSpec, snapshot: Path) -> None:
        content, magic = snapshot.read_bytes(), f"{spec.kind}:".encode()
        if not content.startswith(magic):
            raise SnapshotRefused(f"not a {spec.kind} snapshot")
        self.data[spec.name] = content[len(magic):]
        self.restored.append(spec.name)

    def crash(self, name: str) -> None:
        """The container exited, as a crash Docker gave up on would leave it."""
        self.running[name] = BackingServiceState(name, self.running[name].kind, "exited")


class FakeImages:
    """Images by reference, and BuildKit's cache records by description."""

    def __init__(self) -> None:
        self.images: dict[str, str] = {}
        # The marker in a record's description names the app's cache id.
        self.build_cache: list[str] = []
        self.built: list[tuple[str, dict[str, Path]]] = []  # tag, secrets of each build

    def build_image(self, context_dir: Path, tag: str, log, timeout: float,
                    dockerfile: Path | None = None, secrets: dict[str, Path] | None = None,
                    build_args: dict[str, str] | None = None) -> str:
        self.built.append((tag, dict(secrets or {})))
        log(f"built {tag}")
        image_id = self.add_image(f"sha256:{tag}")
        self.images[tag] = image_id
        return image_id

    def add_image(self, image_id: str) -> str:
        self.images[image_id] = image_id
        return image_id

    def image_id(self, ref: str) -> str | None:
        return self.images.get(ref)

    def tag_image(self, image_id: str, repository: str, tag: str) -> None:
        self.images[f"{repository}:{tag}"] = image_id

    def remove_image(self, ref: str) -> bool:
        return self.images.pop(ref, None) is not None

    def prune_build_cache(self, marker: str) -> int:
        kept = [record for record in self.build_cache if marker not in record]
        removed = len(self.build_cache) - len(kept)
        self.build_cache = kept
        return removed


class FakeRouter:
    """Routes in a dict; each change is appended to ``events`` (which a fake Docker may share,
    so tests can check the order of switch and drain)."""

    def __init__(self, events: list | None = None) -> None:
        self.events: list = [] if events is None else events
        self.routes: dict[str, AppRoute] = {}
        self.control = None  # the control plane's ControlSite, once set
        self.challenges: dict[str, str] = {}  # ACME token -> key authorization, served now

    def set_route(self, route: AppRoute) -> None:
        self.routes[route.app] = route
        self.events.append(("route", route.upstreams))

    def remove_route(self, app: str) -> None:
        self.routes.pop(app, None)
        self.events.append(("unroute", app))

    def routed_apps(self) -> set[str]:
        return set(self.routes)

    def remove_routes(self, apps: set[str]) -> None:
        for app in apps:
            self.remove_route(app)

    def routed_upstreams(self, app: str) -> tuple[str, ...] | None:
        route = self.routes.get(app)
        return None if route is None else tuple(sorted(route.upstreams))

    def set_control(self, site) -> None:
        self.control = site
        self.events.append(("control", site))

    def publish_challenge(self, token: str, key_authorization: str) -> None:
        self.challenges[token] = key_authorization
        self.events.append(("challenge", token))

    def withdraw_challenge(self, token: str) -> None:
        self.challenges.pop(token, None)
        self.events.append(("withdrawn", token))

    def certificate_files(self) -> set[Path]:
        files = set()
        for route in self.routes.values():
            if route.tls is not None:
                files |= {route.tls.certificate, route.tls.key}
        if self.control is not None and self.control.tls is not None:
            files |= {self.control.tls.certificate, self.control.tls.key}
        return files


class FakeRedis:
    """The hashes, streams and keys paas keeps in Redis, in memory (thread-safe for
    live_server)."""

    def __init__(self) -> None:
        self.hashes: dict[str, dict[bytes, bytes]] = {}
        self.streams: dict[str, list[tuple[bytes, dict[bytes, bytes]]]] = {}
        self.expiring: set[str] = set()
        self.values: dict[str, bytes] = {}
        self.added: dict[str, int] = {}  # entries ever added to each stream (their ids)
        self.ttls: dict[str, int] = {}
        self.changed = threading.Condition()

    @staticmethod
    def _bytes(value) -> bytes:
        return value if isinstance(value, bytes) else str(value).encode()

    def hset(self, key: str, field=None, value=None, mapping: dict | None = None) -> int:
        items = dict(mapping or {})
        if field is not None:
            items[field] = value
        with self.changed:
            stored = self.hashes.setdefault(key, {})
            stored.update({self._bytes(k): self._bytes(v) for k, v in items.items()})
        return len(items)

    def hgetall(self, key: str) -> dict[bytes, bytes]:
        with self.changed:
            return dict(self.hashes.get(key, {}))

    def set(self, key: str, value, ex: int | None = None) -> bool:
        with self.changed:
            self.values[key] = self._bytes(value)
        return True

    def exists(self, *keys: str) -> int:
        with self.changed:
            return sum(key in self.values for key in keys)

    def delete(self, *keys: str) -> int:
        with self.changed:
            for key in keys:
                self.ttls.pop(key, None)
            return sum(self.values.pop(key, None) is not None for key in keys)

    def expire(self, key: str, seconds: int, nx: bool = False) -> bool:
        with self.changed:
            if nx and key in self.ttls:
                return False
            self.expiring.add(key)
            self.ttls[key] = seconds
        return True

    def get(self, key: str) -> bytes | None:
        with self.changed:
            return self.values.get(key)

    def incr(self, key: str) -> int:
        with self.changed:
            value = int(self.values.get(key, b"0")) + 1
            self.values[key] = str(value).encode()
        return value

    def ttl(self, key: str) -> int:
        """Seconds as set (time does not pass here); -2 without the key, -1 without expiry."""
        with self.changed:
            if key not in self.values:
                return -2
            return self.ttls.get(key, -1)

    def xadd(self, key: str, fields: dict, maxlen: int | None = None,
             approximate: bool = True) -> bytes:
        with self.changed:
            entries = self.streams.setdefault(key, [])
            self.added[key] = self.added.get(key, 0) + 1
            entry_id = f"{self.added[key]}-0".encode()
            entries.append((entry_id, {self._bytes(k): self._bytes(v)
                                       for k, v in fields.items()}))
            if maxlen is not None and len(entries) > maxlen:
                del entries[:len(entries) - maxlen]
            self.changed.notify_all()
        return entry_id

    def xread(self, streams: dict, block: int | None = None, count: int | None = None):
        (key, last_id), = streams.items()
        after = _sequence(last_id)

        def newer() -> list:
            return [entry for entry in self.streams.get(key, []) if _sequence(entry[0]) > after]

        with self.changed:
            self.changed.wait_for(lambda: bool(newer()), timeout=(block or 0) / 1000)
            found = newer()[:count or 10**9]
        return [[key.encode(), found]] if found else []


def _sequence(entry_id: bytes | str) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
    return int(text.split("-")[0])


class FakeLock:
    """A named lock of this process, with redis-py Lock's acquire/release."""

    def __init__(self, lock: threading.Lock) -> None:
        self.lock = lock

    def acquire(self, blocking: bool | None = None,
                blocking_timeout: float | None = None) -> bool:
        if blocking is False:
            return self.lock.acquire(blocking=False)
        return self.lock.acquire(timeout=-1 if blocking_timeout is None else blocking_timeout)

    def release(self) -> None:
        self.lock.release()

    def extend(self, additional_time: float, replace_ttl: bool = False) -> bool:
        return True  # held until released: nothing expires in memory


class FakeQueue:
    """The broker: deploy actions run at once, in the calling thread, unless held; other
    tasks (builds) are only recorded."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[Any]]] = []
        self.queued_actions: list[str] = []
        self.hold_actions = False

    def send(self, task: str, args: list[Any]) -> str:
        self.sent.append((task, args))
        if task == RUN_ACTION_TASK:
            self.queued_actions.append(args[0])
            if not self.hold_actions:
                self.run_queued_actions()
        return f"task-{len(self.sent)}"

    def run_queued_actions(self) -> None:
        from paas.core.actions import run_action

        while self.queued_actions:
            run_action(self.queued_actions.pop(0))


class FakePlatform(Platform):
    """A whole platform in memory, with shortcuts the tests use."""

    def __init__(self, tmp_path: Path) -> None:
        self.queue = FakeQueue()
        self._locks: dict[str, threading.Lock] = {}
        super().__init__(scheduler=FakeScheduler(tmp_path / "app-logs"),
                         images=FakeImages(),
                         router=FakeRouter(),
                         redis=FakeRedis(),
                         tasks=self.queue, new_lock=self._new_lock,
                         services=FakeServices())

    def _new_lock(self, name: str, timeout: float) -> FakeLock:
        return FakeLock(self._locks.setdefault(name, threading.Lock()))

    @property
    def queued_actions(self) -> list[str]:
        return self.queue.queued_actions

    @property
    def hold_actions(self) -> bool:
        return self.queue.hold_actions

    @hold_actions.setter
    def hold_actions(self, value: bool) -> None:
        self.queue.hold_actions = value

    def run_queued_actions(self) -> None:
        self.queue.run_queued_actions()

    def deploy(self, app: App, image: str = "sha256:image-1",
               process_types: dict | None = None) -> Release:
        """A release of ``app`` as a successful build would make it, deployed."""
        self.images.add_image(image)
        release = releases.create_release(app, image, dict(app.config),
                                          process_types or {"web": None},
                                          f"Deploy {image[-7:]}")
        return releases.deploy_release(release)
