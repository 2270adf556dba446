"""Keep-alives for followed logs, so a web thread notices a client that left."""

import threading
from collections.abc import Iterator

import pytest

from paas.core.logstreams import with_keepalive
from paas.errors import PlatformError


def test_it_passes_lines_through_and_marks_idle_time_with_none():
    release = threading.Event()

    def slow() -> Iterator[str]:
        yield "first"
        release.wait(5)
        yield "second"

    stream = with_keepalive(slow(), idle_seconds=0.05)
    assert next(stream) == "first"
    assert next(stream) is None  # nothing for a while: a keep-alive
    release.set()
    assert [line for line in stream if line is not None] == ["second"]


def test_it_raises_the_followers_error_in_the_readers_thread():
    def broken() -> Iterator[str]:
        yield "ok"
        raise PlatformError("docker went away", code="docker_down")

    stream = with_keepalive(broken(), idle_seconds=1)
    assert next(stream) == "ok"
    with pytest.raises(PlatformError):
        next(stream)
