"""A command run in a running container (``docker exec``) with its stdout streamed to a file
and, optionally, a file streamed to its stdin: what backups and restores of backing services
move their data with, so a dump of any size passes through in chunks and is never held in
memory whole.

Uses the SDK's low-level exec API on the raw connection (``exec_start(socket=True)``): the
high-level ``exec_run`` can stream stdout but not feed stdin, and its stream keeps the
client's read timeout, which a quiet ``pg_restore`` would outlast.
"""

import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docker.utils.socket import STDERR, STDOUT, frames_iter

from paas.runtime.services import Writable

CHUNK = 64 * 1024
STDERR_KEPT = 4000  # the end of a tool's complaints is what explains a failure


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    stderr: str  # its last STDERR_KEPT characters

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


def run_exec(api: Any, container_id: str, argv: list[str], user: str,
             environment: dict[str, str] | None = None, stdout: Writable | None = None,
             stdin: Path | None = None) -> ExecResult:
    """Run ``argv`` in ``container_id`` as ``user``; write its stdout to ``stdout`` (or drop
    it) as it comes, feed it ``stdin``'s bytes, then close its stdin. Returns its exit code
    and the end of its stderr. Raises docker.errors.APIError (the caller words it)."""
    exec_id = api.exec_create(container_id, argv, stdin=stdin is not None, stdout=True,
                              stderr=True, user=user, environment=environment or {})["Id"]
    connection = api.exec_start(exec_id, socket=True)
    raw = getattr(connection, "_sock", connection)
    raw.settimeout(None)  # a restore may print nothing for long
    errors = bytearray()
    failed: list[BaseException] = []
    try:
        # Read while writing: a tool that complains a lot would otherwise fill the pipe and
        # stop reading its stdin, and both sides would wait for ever.
        reader = threading.Thread(target=_drain, args=(connection, stdout, errors, failed),
                                  daemon=True)
        reader.start()
        if stdin is not None:
            _feed(raw, stdin)
        reader.join()
    finally:
        connection.close()
    if failed:  # writing the output failed (a full disk): the caller must not keep it
        raise failed[0]
    return ExecResult(_exit_code(api, exec_id), errors.decode("utf-8", "replace")[-STDERR_KEPT:])


def _feed(raw: Any, source_path: Path) -> None:
    with source_path.open("rb") as source:
        try:
            while chunk := source.read(CHUNK):
                raw.sendall(chunk)
            raw.shutdown(socket.SHUT_WR)  # end of file on the command's stdin
        except (BrokenPipeError, ConnectionResetError):
            pass  # the command stopped reading (it failed early): its exit code says why


def _drain(connection: Any, stdout: Writable | None, errors: bytearray,
           failed: list[BaseException]) -> None:
    try:
        for stream, data in frames_iter(connection, tty=False):  # type: ignore[no-untyped-call]
            if stream == STDOUT and stdout is not None:
                stdout.write(data)
            elif stream == STDERR:
                errors.extend(data)
                del errors[:-STDERR_KEPT * 2]
    except Exception as error:  # noqa: BLE001 - handed to the caller's thread
        failed.append(error)


def _exit_code(api: Any, exec_id: str) -> int:
    # The output can end a moment before dockerd records the exit.
    for _ in range(50):
        inspected = api.exec_inspect(exec_id)
        if not inspected.get("Running") and isinstance(inspected.get("ExitCode"), int):
            return int(inspected["ExitCode"])
        time.sleep(0.1)
    return -1
