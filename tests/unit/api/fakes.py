"""In-memory stand-ins for the platform's I/O edge (Docker, the router, Redis locks).

The services in ``paas.core`` run for real against these; only the edge is replaced.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest

from paas.core import releases
from paas.core.applications import create_app
from paas.core.models import App, Release
from paas.runtime.reconcile import DesiredApp, Retirement


@dataclass
class FakeInstance:
    app: str
    release: int
    process_type: str
    instance: int
    port: int | None
    container: SimpleNamespace = field(
        default_factory=lambda: SimpleNamespace(status="running", id=str(id(object()))))

    @property
    def label(self) -> str:
        return f"{self.process_type}.{self.instance}"

    @property
    def running(self) -> bool:
        return self.container.status == "running"

    def host_port(self) -> int | None:
        return self.port


class FakeEngine:
    """Images by reference and the containers the fake runtime 'started'."""

    def __init__(self) -> None:
        self.images: dict[str, str] = {}
        self.containers: dict[str, list[FakeInstance]] = {}
        # What each instance printed, by label, as Docker's "<timestamp> <text>" lines.
        self.output: dict[str, list[bytes]] = {}
        self.volumes: dict[str, str] = {}  # docker volume name -> app
        # BuildKit cache records by description (the marker names the app's cache id).
        self.build_cache: list[str] = []

    def add_image(self, image_id: str) -> str:
        self.images[image_id] = image_id
        return image_id

    def image_id(self, ref: str) -> str | None:
        return self.images.get(ref)

    def tag_image(self, image_id: str, repository: str, tag: str) -> None:
        self.images[f"{repository}:{tag}"] = image_id

    def remove_image(self, ref: str) -> bool:
        return self.images.pop(ref, None) is not None

    def ensure_volume(self, name: str, app: str) -> None:
        self.volumes.setdefault(name, app)

    def remove_volume(self, name: str) -> bool:
        return self.volumes.pop(name, None) is not None

    def prune_build_cache(self, marker: str) -> int:
        kept = [record for record in self.build_cache if marker not in record]
        removed = len(self.build_cache) - len(kept)
        self.build_cache = kept
        return removed

    def instances(self, app: str | None = None) -> list[FakeInstance]:
        if app is None:
            return [i for found in self.containers.values() for i in found]
        return list(self.containers.get(app, []))


    def logs(self, instance: FakeInstance, follow: bool = False,
             since: float | None = None) -> Iterator[bytes]:
        yield from self.output.get(instance.label, [])


class FakeRuntime:
    def __init__(self, engine: FakeEngine, app_logs_dir: Path) -> None:
        self.engine = engine
        self.app_logs_dir = app_logs_dir
        self.converged: list[DesiredApp] = []
        self.stopped: list[str] = []
        self.commands: list[str] = []

    def run_oneoff(self, desired: DesiredApp, command: str, kind: str, timeout: float,
                   log=None) -> SimpleNamespace:
        self.commands.append(command)
        return SimpleNamespace(exit_code=3, output=f"ran {command} in v{desired.release}\n",
                               timed_out=False)

    def converge(self, desired: DesiredApp, log=None) -> Retirement:
        self.converged.append(desired)
        self.engine.containers[desired.app] = [
            FakeInstance(desired.app, desired.release, ptype, number,
                         port=40000 + number if ptype == "web" else None)
            for ptype, quantity in sorted(desired.quantities.items())
            for number in range(1, quantity + 1)
        ]
        return Retirement(desired.app, [i.port for i in self.engine.containers[desired.app]
                                        if i.port])

    def stop_app(self, app: str) -> None:
        self.stopped.append(app)
        self.engine.containers.pop(app, None)


class FakeRedis:
    """The hashes and streams paas keeps in Redis, in memory (thread-safe for live_server)."""

    def __init__(self) -> None:
        self.hashes: dict[str, dict[bytes, bytes]] = {}
        self.streams: dict[str, list[tuple[bytes, dict[bytes, bytes]]]] = {}
        self.expiring: set[str] = set()
        self.values: dict[str, bytes] = {}
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
            return sum(self.values.pop(key, None) is not None for key in keys)

    def expire(self, key: str, seconds: int) -> bool:
        self.expiring.add(key)
        return True

    def xadd(self, key: str, fields: dict) -> bytes:
        with self.changed:
            entries = self.streams.setdefault(key, [])
            entry_id = f"{len(entries) + 1}-0".encode()
            entries.append((entry_id, {self._bytes(k): self._bytes(v)
                                       for k, v in fields.items()}))
            self.changed.notify_all()
        return entry_id

    def xread(self, streams: dict, block: int | None = None, count: int | None = None):
        (key, last_id), = streams.items()
        after = int(str(last_id.decode() if isinstance(last_id, bytes) else last_id)
                    .split("-")[0])
        with self.changed:
            self.changed.wait_for(lambda: len(self.streams.get(key, [])) > after,
                                  timeout=(block or 0) / 1000)
            found = self.streams.get(key, [])[after:after + (count or 10**9)]
        return [[key.encode(), found]] if found else []


@contextmanager
def no_lock(*args, **kwargs) -> Iterator[None]:
    yield


@dataclass
class FakePlatform:
    engine: FakeEngine
    runtime: FakeRuntime
    redis: FakeRedis
    # Actions the fake broker received; run at once unless ``hold_actions`` is set.
    queued_actions: list[str] = field(default_factory=list)
    hold_actions: bool = False

    def run_queued_actions(self) -> None:
        from paas.core.actionlog import run_action

        while self.queued_actions:
            run_action(self.queued_actions.pop(0))

    def deploy(self, app: App, image: str = "sha256:image-1",
               process_types: dict | None = None) -> Release:
        """A release of ``app`` as a successful build would make it, deployed."""
        self.engine.add_image(image)
        release = releases.create_release(app, image, dict(app.config),
                                          process_types or {"web": None},
                                          f"Deploy {image[-7:]}")
        releases.deploy_release(release)
        return release


@pytest.fixture
def platform(monkeypatch, tmp_path) -> FakePlatform:
    engine = FakeEngine()
    runtime = FakeRuntime(engine, tmp_path / "app-logs")
    fake = FakePlatform(engine, runtime, FakeRedis())
    for module in ("paas.core.releases", "paas.core.applications", "paas.core.reconcile",
                   "paas.core.applogs", "paas.core.processes", "paas.core.volumes",
                   "paas.core.buildcache"):
        monkeypatch.setattr(f"{module}.get_engine", lambda: engine, raising=False)
        monkeypatch.setattr(f"{module}.get_runtime", lambda: runtime, raising=False)
    monkeypatch.setattr("paas.core.releases.app_lock", no_lock)
    monkeypatch.setattr("paas.core.reconcile.app_lock", no_lock)
    monkeypatch.setattr("paas.core.reconcile.get_router", lambda: None)
    monkeypatch.setattr("paas.core.actionlog.get_redis", lambda: fake.redis)
    monkeypatch.setattr("paas.core.buildguard.get_redis", lambda: fake.redis)

    def enqueue(action_id: str) -> str:
        """The broker: the worker runs the action at once (in the requesting thread)."""
        fake.queued_actions.append(action_id)
        if not fake.hold_actions:
            fake.run_queued_actions()
        return f"task-{action_id[:8]}"

    monkeypatch.setattr("paas.core.actionlog._enqueue", enqueue)
    return fake


@pytest.fixture
def users(django_user_model) -> SimpleNamespace:
    """An owner, a collaborator and an outsider (roles in their names)."""
    return SimpleNamespace(
        owner=django_user_model.objects.create_user("owner", password="owner-pass"),
        collaborator=django_user_model.objects.create_user("collaborator",
                                                           password="collab-pass"),
        outsider=django_user_model.objects.create_user("outsider", password="outsider-pass"),
    )


@pytest.fixture
def app(users, platform):
    """App "shop": owned by the owner, the collaborator added, one release deployed."""
    shop = create_app("shop", users.owner)
    shop.collaborators.add(users.collaborator)
    platform.deploy(shop)
    return shop
