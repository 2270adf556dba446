"""Backups and restores of backing services' data, with the services' own tools run in their
containers (``docker exec``), the data streamed through (``paas.runtime.docker_exec``).

PostgreSQL: ``pg_dump --format=custom`` of the service's database out;
``pg_restore --clean --if-exists --no-owner --single-transaction`` in, so a restore that fails
half-way is rolled back whole and the database is as it was.

Redis: a background save (``BGSAVE``, which blocks no client), then its ``dump.rdb`` read out.
A restore checks the snapshot with ``redis-check-rdb`` while the service still runs, then
stops it and loads the snapshot in a short-lived helper container on the same volume (same
image, as ``redis``, no network) that turns the append-only file on, so Redis writes the
snapshot's data as a new AOF: the service runs with ``appendonly yes``, and an AOF, when there
is one, wins over ``dump.rdb`` at start (with none, Redis starts empty and ignores it). The
service is started again whatever happened; until the new AOF is complete the old one is the
service's data.
"""

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container

from paas.errors import PlatformError
from paas.runtime.confinement import ContainerLimits, confined_create_kwargs
from paas.runtime.docker_client import LABEL_HOME, reported
from paas.runtime.docker_exec import run_exec
from paas.runtime.services import (
    POSTGRES_USER,
    BackingServiceSpec,
    SnapshotRefused,
    Writable,
    postgres_database,
)

logger = logging.getLogger(__name__)

PG_SOCKET_DIR = "/run/postgresql"
REDIS_DIR = "/var/lib/redis"
REDIS_RESTORE_FILE = f"{REDIS_DIR}/restore.rdb"
REDIS_HELPER_SOCKET = "/tmp/paas-restore.sock"
POLL_SECONDS = 0.2
POLLS = 9000  # 30 minutes of polling: a save or AOF rewrite of a large dataset takes a while


def dump(client: docker.DockerClient, container: Container, spec: BackingServiceSpec,
         out: Writable) -> None:
    """See ``ServiceRunner.dump_backing_service``."""
    api, container_id = client.api, reported(container.id, "container id")
    if spec.kind == "postgres":
        _wait_for_postgres(client, container)
        result = run_exec(api, container_id, [
            "pg_dump", "--format=custom", "--host", PG_SOCKET_DIR, "--username",
            POSTGRES_USER, "--dbname", postgres_database(spec.name)], user="postgres",
            stdout=out)
    else:
        _redis_background_save(container, spec)
        result = run_exec(api, container_id, ["cat", f"{REDIS_DIR}/dump.rdb"], user="redis",
                          stdout=out)
    if not result.ok:
        raise PlatformError(f"the backup of {spec.name} failed: {result.stderr.strip()}",
                            code="service_backup_failed")


def restore(client: docker.DockerClient, container: Container, spec: BackingServiceSpec,
            snapshot: Path, helper_name: str, home: str, stop_seconds: int) -> None:
    """See ``ServiceRunner.restore_backing_service``."""
    if spec.kind == "postgres":
        _restore_postgres(client, container, spec, snapshot)
    else:
        _restore_redis(client, container, spec, snapshot, helper_name, home, stop_seconds)


def _wait_for_postgres(client: docker.DockerClient, container: Container) -> None:
    """A service just created may still be making its cluster: wait until it accepts
    connections, so a refusal afterwards is about the backup, not the start."""
    container_id = reported(container.id, "container id")
    _poll("PostgreSQL to accept connections", lambda: run_exec(
        client.api, container_id, ["pg_isready", "--quiet", "--host", PG_SOCKET_DIR],
        user="postgres").ok)


def _restore_postgres(client: docker.DockerClient, container: Container,
                      spec: BackingServiceSpec, snapshot: Path) -> None:
    _wait_for_postgres(client, container)
    result = run_exec(client.api, reported(container.id, "container id"), [
        "pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
        "--exit-on-error", "--host", PG_SOCKET_DIR, "--username", POSTGRES_USER,
        "--dbname", postgres_database(spec.name)], user="postgres", stdin=snapshot)
    if not result.ok:
        raise SnapshotRefused(f"pg_restore refused the backup, nothing was changed: "
                              f"{result.stderr.strip()}")


# --- Redis ---------------------------------------------------------------------------------


def _redis_cli(container: Container, password: str | None, *args: str,
               socket: str | None = None) -> str:
    """A redis-cli reply (the password in the environment, not the command line)."""
    argv = ["redis-cli", *(["-s", socket] if socket else []), *args]
    code, output = container.exec_run(argv, user="redis",
                                      environment={"REDISCLI_AUTH": password} if password
                                      else {})
    assert isinstance(output, bytes)  # not streamed
    reply = output.decode("utf-8", "replace").strip()
    if code != 0:
        raise PlatformError(f"redis-cli {args[0]} failed: {reply}", code="service_redis_failed")
    return reply


def _info(reply: str) -> dict[str, str]:
    return dict(line.split(":", 1) for line in reply.splitlines() if ":" in line)


def _poll(what: str, done: Callable[[], bool]) -> None:
    for _ in range(POLLS):
        if done():
            return
        time.sleep(POLL_SECONDS)
    raise PlatformError(f"gave up waiting for {what}", code="service_redis_failed")


def _redis_background_save(container: Container, spec: BackingServiceSpec) -> None:
    """BGSAVE, and wait until that save (not one that was running already) has finished."""
    def persistence() -> dict[str, str]:
        return _info(_redis_cli(container, spec.password, "INFO", "persistence"))

    saves: list[int] = []

    def started() -> bool:
        state = persistence()
        if state.get("rdb_bgsave_in_progress") == "1":
            return False  # an automatic save: ours must start after it
        if "started" not in _redis_cli(container, spec.password, "BGSAVE"):
            return False
        saves.append(int(state.get("rdb_saves", "0")))
        return True

    _poll("the background save to start", started)

    def finished() -> bool:
        state = persistence()
        return state.get("rdb_bgsave_in_progress") == "0" \
            and int(state.get("rdb_saves", "0")) > saves[0]

    _poll("the background save", finished)
    if persistence().get("rdb_last_bgsave_status") != "ok":
        raise PlatformError(f"Redis could not save {spec.name}'s data (see its log)",
                            code="service_backup_failed")


def _restore_redis(client: docker.DockerClient, container: Container,
                   spec: BackingServiceSpec, snapshot: Path, helper_name: str, home: str,
                   stop_seconds: int) -> None:
    api, container_id = client.api, reported(container.id, "container id")
    # The snapshot goes onto the volume as redis (so redis owns it) and is checked before
    # anything stops.
    copied = run_exec(api, container_id, ["dd", f"of={REDIS_RESTORE_FILE}", "bs=65536",
                                          "status=none"], user="redis", stdin=snapshot)
    if not copied.ok:
        raise PlatformError(f"the backup could not be copied into {spec.name}: "
                            f"{copied.stderr.strip()}", code="service_restore_failed")
    checked = run_exec(api, container_id, ["redis-check-rdb", REDIS_RESTORE_FILE], user="redis")
    if not checked.ok:
        run_exec(api, container_id, ["rm", "-f", REDIS_RESTORE_FILE], user="redis")
        raise SnapshotRefused("redis-check-rdb refused the backup, nothing was changed: "
                              f"{checked.stderr.strip() or 'not a valid RDB file'}")
    container.stop(timeout=stop_seconds)
    try:
        with _redis_helper(client, spec, helper_name, home) as helper:
            _load_as_aof(client, helper)
    finally:
        container.start()


@contextlib.contextmanager
def _redis_helper(client: docker.DockerClient, spec: BackingServiceSpec, helper_name: str,
                  home: str) -> Iterator[Container]:
    """A redis-server on the service's volume that loads restore.rdb, with no AOF, no
    network (a unix socket in its /tmp only), confined like the service; always removed."""
    kwargs: dict[str, Any] = confined_create_kwargs(
        ContainerLimits(memory=spec.memory, pids=spec.pids),
        {spec.volume: {"bind": REDIS_DIR, "mode": "rw"}})
    with contextlib.suppress(docker.errors.NotFound):
        client.containers.get(helper_name).remove(force=True)  # a crashed restore's
    helper = client.containers.run(
        spec.image, ["redis-server", "--dir", REDIS_DIR, "--dbfilename", "restore.rdb",
                     "--appendonly", "no", "--save", "", "--port", "0",
                     "--unixsocket", REDIS_HELPER_SOCKET, "--daemonize", "no"],
        name=helper_name, user="redis", detach=True, network_mode="none",
        labels={LABEL_HOME: home}, **kwargs)
    try:
        yield helper
    finally:
        with contextlib.suppress(docker.errors.APIError):
            helper.remove(force=True)


def _load_as_aof(client: docker.DockerClient, helper: Container) -> None:
    def cli(*args: str) -> str:
        return _redis_cli(helper, None, *args, socket=REDIS_HELPER_SOCKET)

    def loaded() -> bool:
        helper.reload()
        if helper.status != "running":
            raise PlatformError(f"Redis could not load the backup: "
                                f"{helper.logs(tail=5).decode('utf-8', 'replace')}",
                                code="service_restore_failed")
        with contextlib.suppress(PlatformError):  # not listening yet, or still loading
            return cli("PING") == "PONG"
        return False

    _poll("Redis to load the backup", loaded)
    cli("CONFIG", "SET", "appendonly", "yes")  # starts a rewrite: the AOF from the data

    def rewritten() -> bool:
        state = _info(cli("INFO", "persistence"))
        return state.get("aof_rewrite_in_progress") == "0" \
            and state.get("aof_rewrite_scheduled") == "0" \
            and int(state.get("aof_rewrites", "0")) > 0
    _poll("the append-only file to be written", rewritten)
    state = _info(cli("INFO", "persistence"))
    if state.get("aof_last_bgrewrite_status") != "ok":
        raise PlatformError("Redis could not write the restored data",
                            code="service_restore_failed")
    # dump.rdb too, so both files hold the restored data; then the restore file can go.
    cli("CONFIG", "SET", "dbfilename", "dump.rdb")
    cli("SAVE")
    run_exec(client.api, reported(helper.id, "container id"), ["rm", "-f", REDIS_RESTORE_FILE],
             user="redis")
    with contextlib.suppress(PlatformError, docker.errors.APIError):
        cli("SHUTDOWN", "NOSAVE")  # the connection ends with the server
    helper.wait()
