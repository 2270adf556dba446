"""The CLI's side of an interactive session, on a real pseudo-terminal: raw mode for the
session and the terminal's settings back afterwards (also after an error), keystrokes and
window sizes out as frames, the remote output on the terminal, the remote exit code out."""

import fcntl
import os
import signal
import socket
import struct
import termios
import threading

import pytest

from paas.cli import terminal
from paas.ttyframes import INPUT, OUTPUT, RESIZE, FrameReader, exit_frame, frame, parse_size


@pytest.fixture
def pty_pair():
    """(the user's side, the program's side) of a new pseudo-terminal."""
    user_side, program_side = os.openpty()
    yield user_side, program_side
    os.close(user_side)
    os.close(program_side)


def read_until(fd: int, wanted: bytes) -> bytes:
    seen = b""
    while wanted not in seen:
        seen += os.read(fd, 1024)
    return seen


def next_frame(sock: socket.socket, frames: FrameReader) -> tuple[bytes, bytes]:
    found: list = []
    while not found:
        found = frames.feed(sock.recv(1024))
    assert len(found) == 1
    return found[0]


def set_window(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def test_raw_mode_lasts_the_session_and_the_settings_come_back_after_an_error(pty_pair):
    _user, program = pty_pair
    before = termios.tcgetattr(program)

    with pytest.raises(RuntimeError), terminal.raw_mode(program):
        during = termios.tcgetattr(program)
        raise RuntimeError("the connection broke")

    assert not during[3] & (termios.ICANON | termios.ECHO | termios.ISIG)
    assert termios.tcgetattr(program) == before


def test_a_session_relays_keys_output_a_resize_and_the_exit_code(pty_pair):
    user, program = pty_pair
    set_window(program, 24, 80)
    server, client = socket.socketpair()
    seen: dict = {}

    def remote() -> None:
        frames = FrameReader()
        server.sendall(frame(OUTPUT, b"ready$ "))
        read_until(user, b"ready$ ")
        os.write(user, b"ls\x03")  # Ctrl-C goes to the remote program as a byte
        seen["typed"] = next_frame(server, frames)
        set_window(program, 50, 132)
        os.kill(os.getpid(), signal.SIGWINCH)
        seen["resized"] = next_frame(server, frames)
        server.sendall(frame(OUTPUT, b"bye\r\n") + exit_frame(7))

    before = termios.tcgetattr(program)
    handler_before = signal.getsignal(signal.SIGWINCH)
    talking = threading.Thread(target=remote, daemon=True)
    talking.start()

    code = terminal.interactive(client, b"", program, program)

    talking.join(timeout=30)
    assert code == 7
    assert seen["typed"] == (INPUT, b"ls\x03")
    assert seen["resized"][0] == RESIZE and parse_size(seen["resized"][1]) == (50, 132)
    assert b"bye" in read_until(user, b"bye\r\n")
    assert termios.tcgetattr(program) == before
    assert signal.getsignal(signal.SIGWINCH) == handler_before


def test_a_connection_that_ends_without_an_exit_code_is_255(pty_pair):
    _user, program = pty_pair
    server, client = socket.socketpair()
    server.sendall(frame(OUTPUT, b"partial"))
    server.close()

    assert terminal.interactive(client, b"", program, program) == terminal.LOST_CONNECTION


def test_what_came_with_the_answer_is_relayed_first(pty_pair):
    user, program = pty_pair
    server, client = socket.socketpair()

    code = terminal.relay(client, frame(OUTPUT, b"early") + exit_frame(0), program, program)

    assert code == 0
    assert b"early" in read_until(user, b"early")
    server.close()


def test_the_window_size_is_read_from_the_terminal(pty_pair):
    _user, program = pty_pair
    set_window(program, 33, 99)
    assert terminal.window_size(program) == (33, 99)
    read_end, write_end = os.pipe()
    assert terminal.window_size(read_end) == (24, 80)
    os.close(read_end)
    os.close(write_end)
