"""Processes on a pseudo-terminal through Docker: a one-off container attached before it
starts (``paas run`` from a terminal), or ``docker exec`` in a backing service's container
(``paas postgres:connect``). Either way dockerd hijacks the HTTP connection of the attach or
exec call and the terminal's bytes flow over that socket as they are (a TTY has no separate
stderr, so Docker does not multiplex the stream).

Part of the one Docker wrapper (``paas.runtime.docker_engine.DockerEngine``); implements
``paas.runtime.scheduler.TtySession``.
"""

import contextlib
import logging
import socket
import time
from collections.abc import Callable
from typing import Any

import docker.errors
import requests.exceptions

logger = logging.getLogger(__name__)

# Docker watches an attached or exec'd terminal's input for a "detach" sequence (ctrl-p,
# ctrl-q by default) and holds back every key that starts one: ctrl-p, readline's "previous
# line", would wait for the next key. No key sequence can be turned off, so take one nobody
# types.
DETACH_KEYS = "ctrl-^,ctrl-@,ctrl-^,ctrl-@"
READ_SIZE = 65536
# After an exec's stream ends, dockerd may take a moment to record its exit code.
EXEC_EXIT_WAIT_SECONDS = 10.0


def raw_socket(hijacked: Any) -> socket.socket:
    """The socket under what the SDK's ``attach_socket`` / ``exec_start(socket=True)`` return
    (a ``SocketIO`` for a unix or TCP connection to dockerd)."""
    found = getattr(hijacked, "_sock", hijacked)
    if not isinstance(found, socket.socket):
        raise TypeError(f"not a socket: {type(found).__name__}")
    # The SDK's timeout applies to API calls; an idle terminal is no failed call.
    found.settimeout(None)
    return found


class DockerTty:
    """One process's terminal over a hijacked dockerd connection.

    ``resize`` and ``exit_code`` are the Docker calls for this kind of process; ``cleanup``
    runs once, when the session closes (removing a one-off container).
    """

    def __init__(self, name: str, sock: socket.socket, resize: Callable[[int, int], None],
                 exit_code: Callable[[], int], cleanup: Callable[[], None]) -> None:
        self.name = name
        self._sock = sock
        self._resize = resize
        self._exit_code = exit_code
        self._cleanup = cleanup
        self._closed = False

    def fileno(self) -> int:
        return self._sock.fileno()

    def read(self) -> bytes:
        try:
            return self._sock.recv(READ_SIZE)
        except OSError:
            return b""

    def write(self, data: bytes) -> None:
        # A process that ended stops reading; its end comes through read.
        with contextlib.suppress(OSError):
            self._sock.sendall(data)

    def resize(self, rows: int, cols: int) -> None:
        # The process may be gone already, or not have a terminal yet: nothing to resize.
        with contextlib.suppress(docker.errors.APIError, requests.exceptions.RequestException):
            self._resize(rows, cols)

    def finish(self) -> int:
        """The exit code of the process whose output ended (1 if Docker cannot tell)."""
        try:
            return self._exit_code()
        except (docker.errors.APIError, requests.exceptions.RequestException) as error:
            logger.warning("exit code of %s not read: %s", self.name, error)
            return 1

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        try:
            self._cleanup()
        except (docker.errors.APIError, requests.exceptions.RequestException) as error:
            logger.warning("clean-up of %s failed: %s", self.name, error)


def exec_exit_code(api: Any, exec_id: str, wait_seconds: float = EXEC_EXIT_WAIT_SECONDS) -> int:
    """The exit code of exec ``exec_id`` once dockerd has recorded it."""
    deadline = time.monotonic() + wait_seconds
    while True:
        inspected = api.exec_inspect(exec_id)
        if not inspected.get("Running") or time.monotonic() > deadline:
            code = inspected.get("ExitCode")
            return int(code) if code is not None else 1
        time.sleep(0.05)
