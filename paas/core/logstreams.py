"""Build logs and app logs as iterators of lines, for the API and the dashboard to stream.

A finished build is read from its log file; a queued or running one is followed on its Redis
stream, which replays from the start, so a late viewer sees the whole log and then the news.
"""

import logging
import queue
import threading
from collections.abc import Iterator

import redis
from django.conf import settings

from paas.core.applogs import app_logs
from paas.core.buildlog import follow_lines, log_path, stream_key
from paas.core.models import App, Build
from paas.core.platform import platform

logger = logging.getLogger(__name__)


def build_log_lines(build: Build) -> Iterator[str | None]:
    """Yield the lines of ``build``'s log, following it live while it runs.

    Yields None when nothing happened for a second, so a streaming response can send a
    keep-alive and notice a gone client. Never raises for a missing log: it just ends.
    """
    path = log_path(settings.PAAS_HOME, build.app.name, build.pk)
    if build.is_finished:
        yield from _file_lines(path)
        return
    try:
        yield from follow_lines(platform().redis, stream_key(build.pk))
    except redis.RedisError as error:
        # Without Redis there is no live view; the file holds what was written so far.
        logger.warning("following build %s: %s", build.pk, error)
        yield from _file_lines(path)


def _file_lines(path) -> Iterator[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as log_file:
            for line in log_file:
                yield line.rstrip("\n")
    except FileNotFoundError:
        return


def app_log_lines(app: App, tail: int, follow_logs: bool) -> Iterator[str | None]:
    """The app's container output via the runtime's ``app_logs``; None marks idle seconds
    while following (see with_keepalive)."""
    lines = app_logs(app, tail=tail, follow=follow_logs)
    return with_keepalive(lines) if follow_logs else lines


_DONE = object()


def with_keepalive(lines: Iterator[str], idle_seconds: float = 5.0) -> Iterator[str | None]:
    """``lines``, with a None after every ``idle_seconds`` without one.

    A followed log can stay quiet for hours; a web thread blocked in it would never notice its
    client left. Reading in a helper thread lets the response send keep-alives, fail on a
    closed connection and free the web thread; the helper stops at the next line.
    """
    found: queue.Queue = queue.Queue(maxsize=1000)
    stop = threading.Event()

    def pump() -> None:
        try:
            for line in lines:
                if stop.is_set():
                    break
                found.put(line)
        except Exception as error:  # surfaced to the reader below, in its thread
            found.put(error)
        finally:
            found.put(_DONE)

    threading.Thread(target=pump, daemon=True, name="log-follow").start()
    try:
        while True:
            try:
                item = found.get(timeout=idle_seconds)
            except queue.Empty:
                yield None
                continue
            if item is _DONE:
                return
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        stop.set()
