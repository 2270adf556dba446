"""The user's terminal in an interactive session (``paas run`` from a terminal,
``paas postgres:connect``): raw mode, keystrokes and window sizes out, the remote terminal's
output in, and the remote exit code at the end (frames of ``paas.ttyframes``).

Raw mode hands every key to the remote terminal as it is (Ctrl-C reaches the remote
process, not this one); the terminal's settings are put back however the session ends.
"""

import contextlib
import os
import selectors
import signal
import socket
import termios
import tty
from collections.abc import Iterator

from paas.ttyframes import (
    ERROR,
    EXIT,
    INPUT,
    OUTPUT,
    FrameReader,
    ProtocolError,
    frame,
    parse_code,
    resize_frame,
)

READ_SIZE = 65536
# What the session ends with when the connection breaks before an exit code came.
LOST_CONNECTION = 255


def is_terminal(fd: int) -> bool:
    return os.isatty(fd)


def window_size(fd: int) -> tuple[int, int]:
    """(rows, cols) of the terminal on ``fd`` (24x80 if it does not say)."""
    try:
        size = os.get_terminal_size(fd)
    except OSError:
        return 24, 80
    return size.lines or 24, size.columns or 80


@contextlib.contextmanager
def raw_mode(fd: int) -> Iterator[None]:
    """The terminal on ``fd`` in raw mode for the block; its settings restored after it,
    whatever ends it (an error, a signal's exception)."""
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd, termios.TCSANOW)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def resize_signals() -> Iterator[int]:
    """A descriptor that turns readable when the window changes size (SIGWINCH), for the
    block; the previous handler restored after it."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)

    def changed(_signum: int, _frame: object) -> None:
        with contextlib.suppress(BlockingIOError):
            os.write(write_end, b"w")

    previous = signal.signal(signal.SIGWINCH, changed)
    try:
        yield read_end
    finally:
        signal.signal(signal.SIGWINCH, previous)
        os.close(read_end)
        os.close(write_end)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def relay(sock: socket.socket, received: bytes, in_fd: int, out_fd: int,
          err_fd: int | None = None) -> int:
    """Relay the session on ``sock`` (``received``: what came with the 101) between the
    terminal on ``in_fd`` / ``out_fd`` and the server until the remote process ends; return
    its exit code (LOST_CONNECTION if the connection ended first). The caller sets raw mode.
    """
    frames = FrameReader()
    selector = selectors.DefaultSelector()
    stdin_open = True
    with resize_signals() as resized:
        try:
            selector.register(sock, selectors.EVENT_READ)
            selector.register(in_fd, selectors.EVENT_READ)
            selector.register(resized, selectors.EVENT_READ)
            pending = received
            while True:
                for kind, payload in frames.feed(pending):
                    if kind == OUTPUT:
                        _write_all(out_fd, payload)
                    elif kind == ERROR and err_fd is not None:
                        _write_all(err_fd, b"\r\n" + payload + b"\r\n")
                    elif kind == EXIT:
                        return parse_code(payload)
                pending = b""
                # A new size before the keys typed with it, so that they meet the new size.
                ready = sorted(selector.select(), key=lambda event: event[0].fileobj != resized)
                for key, _events in ready:
                    if key.fileobj is sock:
                        pending = sock.recv(READ_SIZE)
                        if not pending:
                            return LOST_CONNECTION
                    elif key.fileobj == resized:
                        os.read(resized, 512)
                        sock.sendall(resize_frame(*window_size(in_fd)))
                    elif stdin_open:
                        typed = os.read(in_fd, READ_SIZE)
                        if typed:
                            sock.sendall(frame(INPUT, typed))
                        else:  # the terminal went away: nothing more to send
                            selector.unregister(in_fd)
                            stdin_open = False
        except (OSError, ProtocolError):
            return LOST_CONNECTION
        finally:
            selector.close()
            with contextlib.suppress(OSError):
                sock.close()


def interactive(sock: socket.socket, received: bytes, in_fd: int, out_fd: int,
                err_fd: int | None = None) -> int:
    """``relay`` with the terminal on ``in_fd`` in raw mode meanwhile."""
    with raw_mode(in_fd):
        return relay(sock, received, in_fd, out_fd, err_fd)
