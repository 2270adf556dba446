"""The bounds on what a push may send: its size, its objects' sizes, and how long it may stall.

A push's body reaches dulwich through ``BoundedBody``, which counts the bytes actually read
(a chunked body has no Content-Length to trust) both as they arrive and, for a gzip body, as
they are decompressed, so a small gzip bomb is cut off at the same bound.

Every refusal is a ``PushRefused``, an ``OSError``: that is the family dulwich's receive-pack
reports as a failed unpack, which moves no ref (see ``paas.git.quarantine``).
"""

import gzip
import io
import zlib
from dataclasses import dataclass
from typing import Protocol


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class PushLimits:
    """``max_push_bytes``: the most a request body may hold, decompressed (and sent);
    ``max_object_bytes``: the largest object a pack may hold, uncompressed;
    ``read_timeout``: seconds a read of the body may wait for the client."""

    max_push_bytes: int
    max_object_bytes: int
    read_timeout: float


class PushRefused(OSError):
    """A push broke a bound or sent something that is not a pack; its text says which."""


class BoundedBody:
    """A request body that refuses to yield more than ``limit`` bytes and turns a stalled,
    truncated or corrupt body into PushRefused."""

    def __init__(self, raw: Readable, limit: int, gzipped: bool = False) -> None:
        self.limit = limit
        self._raw = _Counted(raw, limit)
        self._stream: Readable = (gzip.GzipFile(fileobj=self._raw, mode="rb") if gzipped
                                  else self._raw)
        self.bytes_read = 0

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes (all that is left for -1). Raises PushRefused."""
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
