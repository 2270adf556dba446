"""Interactive sessions over the API: an HTTP/1.1 upgrade, then a terminal relayed both ways.

The client sends its request with ``Connection: Upgrade`` and ``Upgrade: paas-tty`` and then
nothing until the answer. Errors (a bad token, an outsider, no release) are ordinary JSON
answers; once the session is open the view writes ``101 Switching Protocols`` itself on the
connection gunicorn hands the app as ``environ["gunicorn.socket"]`` and relays frames
(``paas.ttyframes``) between it and the process's terminal until the process ends (its exit
code is the last frame) or the client leaves (the process is then ended).

Taking the connection over: gunicorn writes the status and headers a WSGI app returns, so
after a session the view returns ``ConnectionTakenOver`` and ``hijack_aware`` (around the
WSGI app in ``paas.wsgi``) raises StopIteration in its place. That is how gunicorn's own
workers signal a request whose socket the app took (eventlet's "already handled" in
``geventlet.EventletWorker.is_already_handled``): the gthread worker's ``handle`` catches it,
closes the connection and writes nothing more. A session holds one gthread thread for as
long as it lasts, as a push does; the worker's ``--timeout`` counts the worker's own
heartbeat, not a request's length, so a long session is not killed (only a restart of
gunicorn ends it, after its graceful timeout).

In front of gunicorn a proxy must pass the upgrade on (nginx: ``proxy_http_version 1.1;
proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection "upgrade";``) and not time
out an idle one: the server sends a keep-alive frame every KEEPALIVE_SECONDS.
"""

import contextlib
import logging
import selectors
import socket
from collections.abc import Callable, Iterable
from typing import Any

from django.http import HttpRequest, HttpResponse

from paas.errors import UserError
from paas.runtime.scheduler import TtySession
from paas.ttyframes import (
    ERROR,
    INPUT,
    KEEPALIVE,
    OUTPUT,
    RESIZE,
    UPGRADE_PROTOCOL,
    FrameReader,
    ProtocolError,
    exit_frame,
    frame,
    parse_size,
)

logger = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 20.0
READ_SIZE = 65536
SWITCHING = (f"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
             f"Upgrade: {UPGRADE_PROTOCOL}\r\n\r\n").encode("ascii")


class ConnectionTakenOver(HttpResponse):
    """What a view returns once it has answered on the socket itself: nothing to send."""


def wants_session(request: HttpRequest) -> bool:
    """Whether the request asks to upgrade to an interactive session."""
    upgrade = request.headers.get("Upgrade", "").lower()
    connection = request.headers.get("Connection", "").lower()
    return (UPGRADE_PROTOCOL in [p.strip() for p in upgrade.split(",")]
            and "upgrade" in [t.strip() for t in connection.split(",")])


def client_socket(request: HttpRequest) -> socket.socket:
    """The connection to take over. Raises UserError(tty_unavailable) under a server that
    does not hand it out (gunicorn does; Django's test server does not)."""
    sock = request.META.get("gunicorn.socket")
    if not isinstance(sock, socket.socket):
        raise UserError("this server cannot open interactive sessions; run the command "
                        "without a terminal", code="tty_unavailable")
    return sock


def relay(session: TtySession, sock: socket.socket,
          keepalive_seconds: float = KEEPALIVE_SECONDS) -> int | None:
    """Answer 101, then relay between the client on ``sock`` and ``session`` until one side
    ends; return the exit code sent (None if the client left first). Always closes the
    session and the connection."""
    code: int | None = None
    frames = FrameReader()
    selector = selectors.DefaultSelector()
    try:
        sock.sendall(SWITCHING)
        selector.register(sock, selectors.EVENT_READ)
        selector.register(session, selectors.EVENT_READ)
        while code is None:
            ready = selector.select(timeout=keepalive_seconds)
            if not ready:
                sock.sendall(frame(KEEPALIVE))
            for key, _events in ready:
                if key.fileobj is session:
                    output = session.read()
                    if output:
                        sock.sendall(frame(OUTPUT, output))
                        continue
                    code = session.finish()
                    sock.sendall(exit_frame(code))
                    break
                received = sock.recv(READ_SIZE)
                if not received:
                    logger.info("the client of %s left", session.name)
                    return None
                for kind, payload in frames.feed(received):
                    if kind == INPUT:
                        session.write(payload)
                    elif kind == RESIZE:
                        session.resize(*parse_size(payload))
    except ProtocolError as error:
        logger.warning("session %s: %s", session.name, error)
        with contextlib.suppress(OSError):
            sock.sendall(frame(ERROR, f"protocol error: {error}".encode()) + exit_frame(1))
    except OSError as error:  # the client's connection broke
        logger.info("session %s: the connection ended: %s", session.name, error)
    finally:
        selector.close()
        session.close()
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    return code


def serve(request: HttpRequest, open_session: Callable[[], TtySession]) -> ConnectionTakenOver:
    """Open the session (its errors are the view's answer, before the upgrade) and relay it
    on the request's connection. Raises UserError(tty_unavailable), and what
    ``open_session`` raises."""
    sock = client_socket(request)
    relay(open_session(), sock)
    return ConnectionTakenOver()


def hijack_aware(application: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """The WSGI app ``application``, except that for a ``ConnectionTakenOver`` answer gunicorn
    writes nothing and closes the connection (see the module's docstring)."""

    def taking_over(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        response = application(environ, start_response)
        if isinstance(response, ConnectionTakenOver):
            response.close()  # Django's request_finished: database connections are released
            raise StopIteration
        return response

    return taking_over
