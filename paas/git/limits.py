"""The bounds on what a push may send: its size, its objects' sizes, and how long it may take.

A push's body reaches dulwich through ``BoundedBody``, which counts the bytes actually read
(a chunked body has no Content-Length to trust) both as they arrive and, for a gzip body, as
they are decompressed, so a small gzip bomb is cut off at the same bound.

Every refusal is a ``PushRefused``, an ``OSError``: that is the family dulwich's receive-pack
reports as a failed unpack, which moves no ref (see ``paas.git.quarantine``).
"""

import gzip
import io
import time
import zlib
from collections.abc import Callable
from typing import Protocol


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class PushRefused(OSError):
    """A push broke a bound or sent something that is not a pack; its text says which."""


class BoundedBody:
    """A request body that refuses to yield more than ``limit`` bytes and turns a stalled,
    truncated or corrupt body into PushRefused."""

    def __init__(self, raw: Readable, limit: int, gzipped: bool = False,
                 within_seconds: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._raw = _Counted(raw, limit)
        self._stream: Readable = (gzip.GzipFile(fileobj=self._raw, mode="rb") if gzipped
                                  else self._raw)
        self.bytes_read = 0
        # A client that sends a byte now and then never trips the per-read timeout: the
        # whole body must arrive within this many seconds.
        self.within_seconds = within_seconds
        self._clock = clock
        self._deadline = None if within_seconds is None else clock() + within_seconds

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes (all that is left for -1). Raises PushRefused."""
        if self._deadline is not None and self._clock() > self._deadline:
            raise PushRefused(f"the push took longer than {self.within_seconds:g} seconds to "
                              "send (PAAS_GIT_PUSH_TIMEOUT); the push was abandoned")
        if size is None or size < 0:
            size = self.limit + 1 - self.bytes_read
        try:
            data = self._stream.read(min(size, self.limit + 1 - self.bytes_read))
        except PushRefused:
            raise
        except TimeoutError:
            raise PushRefused("the client stopped sending; the push was abandoned") from None
        except (EOFError, zlib.error, gzip.BadGzipFile) as error:
            raise PushRefused(f"the gzip request body is corrupt or truncated ({error})") from None
        self.bytes_read += len(data)
        if self.bytes_read > self.limit:
            raise PushRefused(_too_large(self.limit))
        return data


class _Counted:
    """The raw body, counted: a gzip body's compressed bytes are bounded too."""

    def __init__(self, raw: Readable, limit: int) -> None:
        self._raw = raw
        self._limit = limit
        self._count = 0

    def read(self, size: int = -1, /) -> bytes:
        if size is None or size < 0:
            size = self._limit + 1 - self._count
        data = self._raw.read(min(size, self._limit + 1 - self._count))
        self._count += len(data)
        if self._count > self._limit:
            raise PushRefused(_too_large(self._limit))
        return data


    def seek(self, offset: int, /) -> int:
        # GzipFile wants a seekable file in its signature; it never seeks while reading.
        raise io.UnsupportedOperation("a request body cannot seek")


def _too_large(limit: int) -> str:
    return (f"the push is larger than {limit} bytes (PAAS_MAX_PUSH_BYTES); "
            "push less history at once, or keep large files out of git")
