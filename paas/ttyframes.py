"""The frames of an interactive session (``paas run`` from a terminal, ``paas postgres:connect``):
what travels over the connection after the server answered ``101 Switching Protocols`` with
``Upgrade: paas-tty``.

Each frame is one type byte, a 4-byte big-endian payload length, then the payload, so that
keystrokes, a window's new size and the exit code share one byte stream in order:

- client to server: ``i`` terminal input (bytes), ``r`` a resize (rows, cols: two 16-bit
  unsigned integers);
- server to client: ``o`` terminal output (bytes), ``x`` the exit code (a 32-bit signed
  integer; the last frame), ``e`` a message about why the session ends (UTF-8, before ``x``),
  ``k`` nothing (sent while idle, so that a proxy in between sees traffic and a client that
  left is noticed).

A leaf module: the server (``paas.api``) and the CLI both speak it, and it imports nothing.
"""

import struct

UPGRADE_PROTOCOL = "paas-tty"

INPUT = b"i"
RESIZE = b"r"
OUTPUT = b"o"
EXIT = b"x"
ERROR = b"e"
KEEPALIVE = b"k"

HEADER = struct.Struct(">cI")
SIZE = struct.Struct(">HH")
CODE = struct.Struct(">i")
# Larger than any read either side makes; a bigger length means the stream is not frames.
MAX_PAYLOAD = 1 << 20


class ProtocolError(Exception):
    """The bytes received are not frames of this protocol."""


def frame(kind: bytes, payload: bytes = b"") -> bytes:
    """One frame of ``kind`` carrying ``payload``."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"a frame carries at most {MAX_PAYLOAD} bytes")
    return HEADER.pack(kind, len(payload)) + payload


def resize_frame(rows: int, cols: int) -> bytes:
    return frame(RESIZE, SIZE.pack(clamp_size(rows), clamp_size(cols)))


def exit_frame(code: int) -> bytes:
    return frame(EXIT, CODE.pack(code))


def clamp_size(value: int) -> int:
    """A terminal dimension as a frame carries it: 1 to 65535."""
    return max(1, min(int(value), 0xFFFF))


def parse_size(payload: bytes) -> tuple[int, int]:
    """(rows, cols) of a resize frame. Raises ProtocolError."""
    if len(payload) != SIZE.size:
        raise ProtocolError("a resize frame carries 4 bytes")
    rows, cols = SIZE.unpack(payload)
    return clamp_size(rows), clamp_size(cols)


def parse_code(payload: bytes) -> int:
    """The exit code of an exit frame. Raises ProtocolError."""
    if len(payload) != CODE.size:
        raise ProtocolError("an exit frame carries 4 bytes")
    return int(CODE.unpack(payload)[0])


class FrameReader:
    """Frames out of a byte stream that arrives in pieces of any size."""

    def __init__(self) -> None:
        self._pending = bytearray()

    def feed(self, data: bytes) -> list[tuple[bytes, bytes]]:
        """The (type, payload) of every frame ``data`` completes, in order. Raises
        ProtocolError for a length beyond MAX_PAYLOAD."""
        self._pending += data
        frames = []
        while len(self._pending) >= HEADER.size:
            kind, length = HEADER.unpack_from(self._pending)
            if length > MAX_PAYLOAD:
                raise ProtocolError(f"a frame of {length} bytes")
            end = HEADER.size + length
            if len(self._pending) < end:
                break
            frames.append((kind, bytes(self._pending[HEADER.size:end])))
            del self._pending[:end]
        return frames

    @property
    def partial(self) -> bool:
        """Whether the stream stopped inside a frame."""
        return bool(self._pending)
