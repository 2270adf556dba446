"""Backing services (PostgreSQL, Redis) as ``paas.core`` sees them, and the plain data the two
sides speak.

Core keeps the records (``Service``, its links) and decides what should run; a
``ServiceRunner`` makes its engine run one container per service and records nothing. A
service's container joins only the service's own network; an app's containers reach it
because the app's ``DesiredApp.services`` names it, which makes the scheduler attach them to
that network too. An app not linked is on no network the service is on, so it cannot reach
it at all (see ``paas.runtime.docker_services``).

Implementations: ``paas.runtime.docker_services.DockerServices`` (part of the one Docker
wrapper) and the in-memory one of the unit tests (``tests/fakes.py``).
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from paas.errors import UserError
from paas.runtime.scheduler import Log, Terminal, TtySession, ignore

KINDS = ("postgres", "redis")
PORTS = {"postgres": 5432, "redis": 6379}
# The environment variable a link sets in the app's config.
URL_VARS = {"postgres": "DATABASE_URL", "redis": "REDIS_URL"}
POSTGRES_USER = "paas"
# What a backup of each kind is: pg_dump's custom format, Redis's RDB snapshot.
SNAPSHOT_SUFFIXES = {"postgres": ".dump", "redis": ".rdb"}


class Writable(Protocol):
    """Where a snapshot is written to: a file, or a wrapper that hashes what goes in."""

    def write(self, data: bytes, /) -> int: ...


class SnapshotRefused(UserError):
    """The service's own tool would not take the snapshot (pg_restore, redis-check-rdb
    refused it); the service's data is as it was."""

    code = "backup_unusable"


def service_host(kind: str, name: str) -> str:
    """The name linked apps reach service ``name`` by: ``<name>.<kind>``. App names have no
    dot, so no app's name (which answers on linked apps' networks) can be taken for it."""
    return f"{name}.{kind}"


def postgres_database(name: str) -> str:
    """The database a PostgreSQL service makes for its apps: its name, ``-`` as ``_``."""
    return name.replace("-", "_")


def service_url(kind: str, name: str, password: str) -> str:
    """What a link puts in the app's DATABASE_URL / REDIS_URL."""
    host = service_host(kind, name)
    if kind == "postgres":
        return (f"postgres://{POSTGRES_USER}:{password}@{host}:{PORTS[kind]}/"
                f"{postgres_database(name)}")
    return f"redis://:{password}@{host}:{PORTS[kind]}"


def console_command(kind: str, name: str, password: str) -> tuple[list[str], dict[str, str]]:
    """The client a user's ``<kind>:connect`` runs in the service's own container, and its
    environment: the password goes there (PGPASSWORD, REDISCLI_AUTH), never in the argv
    that ``ps`` shows. It connects over TCP as linked apps do, with the same credentials."""
    if kind == "postgres":
        return (["psql", "--host=127.0.0.1", f"--username={POSTGRES_USER}",
                 f"--dbname={postgres_database(name)}"], {"PGPASSWORD": password})
    return ["redis-cli", "-h", "127.0.0.1", "-p", str(PORTS[kind])], {"REDISCLI_AUTH": password}


@dataclass(frozen=True)
class BackingServiceSpec:
    """What should run for one service: one container of ``image`` with its data on
    ``volume``, its password, and the limits every paas container has."""

    name: str
    kind: str  # postgres or redis
    image: str
    password: str
    volume: str
    memory: str | None = None
    pids: int | None = None


@dataclass(frozen=True)
class BackingServiceState:
    """A service's container as its engine reports it."""

    name: str
    kind: str
    state: str  # the engine's word: running, restarting, exited, ... or missing
    restart_count: int = 0
    id: str = ""

    @property
    def running(self) -> bool:
        return self.state == "running"


class ServiceRunner(Protocol):
    """Runs backing services' containers. Methods raise ``paas.errors.PlatformError`` when
    the engine fails."""

    def ensure_backing_service(self, spec: BackingServiceSpec,
                               log: Log = ignore) -> BackingServiceState:
        """Make ``spec``'s network, volume and container exist and its container run
        (started again if it exited, created if it is gone); never touch the volume's data.
        """
        ...

    def backing_service_state(self, name: str) -> BackingServiceState | None:
        """``name``'s container as it is now; None if it has none."""
        ...

    def backing_services(self) -> list[BackingServiceState]:
        """Every service container of this installation, in any state."""
        ...

    def restart_backing_service(self, name: str) -> None:
        """Stop and start ``name``'s container (its data stays)."""
        ...

    def remove_backing_service(self, name: str, volume: str | None) -> None:
        """Remove ``name``'s container and network (disconnecting linked apps' containers);
        with ``volume``, delete that volume and its data too. Nothing missing is an error."""
        ...

    def open_backing_service_tty(self, name: str, argv: list[str], env: dict[str, str],
                                 terminal: Terminal) -> TtySession:
        """Run ``argv`` with ``env`` in ``name``'s container (as the service's own user) on a
        pseudo-terminal, and return the session. Raises PlatformError(service_missing) if it
        has no running container."""
        ...

    def remove_orphan_backing_services(self, known: set[str]) -> list[str]:
        """Remove the containers and networks of services not in ``known`` (their volumes
        stay: data is deleted only by a destroy); return what was removed."""
        ...

    def dump_backing_service(self, spec: BackingServiceSpec, out: Writable) -> None:
        """Write a consistent snapshot of ``spec``'s data to ``out`` as it is read, never
        whole in memory: PostgreSQL's ``pg_dump -Fc`` of the service's database, Redis's RDB
        file after a background save. The container must be running. Raises
        PlatformError(service_backup_failed)."""
        ...

    def restore_backing_service(self, spec: BackingServiceSpec, snapshot: Path) -> None:
        """Replace ``spec``'s data with ``snapshot`` (what ``dump_backing_service`` wrote for
        a service of the same kind), leaving its container running. PostgreSQL: pg_restore
        --clean in one transaction; Redis: the container stopped, the snapshot loaded and
        written as its append-only file too (which would win over it otherwise), started.
        Raises SnapshotRefused when the tool refuses the snapshot, PlatformError
        (service_restore_failed) otherwise; either way the data is as it was."""
        ...
