"""Log streams: every line of a build (or of a deploy action) goes to a Redis stream for live
followers; a build's lines also go to a file, to keep.

The stream ends with an ``end`` entry carrying the final status, so a follower (the git
receiver relaying to ``git push``, the dashboard, the API) knows when to stop. A build ends as
soon as its release serves; what the worker logs after that (old containers draining) goes to
the file only.
"""

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import redis
from django.conf import settings

STREAM_TTL_SECONDS = 24 * 3600
# A live stream keeps its newest lines up to about this many: a build that prints without end
# cannot fill Redis, which is also the broker and the lock store. The file keeps them all.
MAX_STREAM_ENTRIES = 20_000


def stream_key(build_id: int) -> str:
    return f"paas:build:{build_id}:log"


def app_build_logs_dir(paas_home: Path, app_name: str) -> Path:
    """Where the build logs of app ``app_name`` are kept."""
    return paas_home / "logs" / "builds" / app_name


def log_path(paas_home: Path, app_name: str, build_id: int) -> Path:
    return app_build_logs_dir(paas_home, app_name) / f"{build_id}.log"


@dataclass(frozen=True)
class LogEvent:
    kind: str  # "line" or "end"
    text: str = ""
    status: str = ""


class BuildLogWriter:
    """Appends lines of one build's log to its stream and its file.

    ``end`` closes the stream (followers stop there); later lines still reach the file until
    ``close``.
    """

    def __init__(self, client: redis.Redis, build_id: int, path: Path) -> None:
        self.client = client
        self.key = stream_key(build_id)
        self.ended = False
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file = path.open("a", encoding="utf-8")

    def __call__(self, line: str) -> None:
        self.write(line)

    def write(self, line: str) -> None:
        line = line.rstrip("\n")
        if self.file.closed:
            return
        self.file.write(line + "\n")
        self.file.flush()
        if not self.ended:
            self.client.xadd(self.key, {"kind": "line", "text": line},
                             maxlen=MAX_STREAM_ENTRIES, approximate=True)

    def end(self, status: str, message: str = "") -> None:
        """Write the stream's ``end`` entry (once); the file stays open for later lines."""
        if self.ended:
            return
        self.ended = True
        end_stream(self.client, self.key, status, message)

    def close(self) -> None:
        self.file.close()


def end_stream(client: redis.Redis, key: str, status: str, message: str = "") -> None:
    """Write the ``end`` entry that tells followers of stream ``key`` how it ended."""
    client.xadd(key, {"kind": "end", "status": status, "text": message})
    client.expire(key, STREAM_TTL_SECONDS)


# How long a follower may wait its turn: a push waits for the one before it, and a queued
# build or action for a free worker.
QUEUE_WAIT_SECONDS = 15 * 60


def follow_limit_seconds() -> float:
    """How long anyone waits at most for a build's or a deploy action's log to end: the
    longest a build, its release phase and its health checks may take, plus waiting in line.
    Followers give up after this, and the push lock expires after it."""
    return (settings.PAAS_BUILD_TIMEOUT + settings.PAAS_RELEASE_TIMEOUT
            + settings.PAAS_HEALTHCHECK_TIMEOUT + QUEUE_WAIT_SECONDS)


def follow_lines(client: redis.Redis, key: str, limit_seconds: float | None = None
                 ) -> Iterator[str | None]:
    """The lines of log stream ``key``, live until its end or ``limit_seconds`` (by default
    ``follow_limit_seconds()``) pass; None on each idle second (for keep-alives). Raises
    redis.RedisError if Redis fails."""
    if limit_seconds is None:
        limit_seconds = follow_limit_seconds()
    deadline = time.monotonic() + limit_seconds
    for event in follow_stream(client, key):
        if event is None:
            if time.monotonic() > deadline:
                return
            yield None
        elif event.kind == "line":
            yield event.text


def follow_stream(client: redis.Redis, key: str, block_ms: int = 1000
                  ) -> Iterator[LogEvent | None]:
    """Yield the events of the log stream ``key`` (builds and deploy actions write the same
    shape) until its ``end`` event; None whenever ``block_ms`` passes without news."""
    last_id: bytes | str = "0"
    while True:
        # redis-py types each reply as maybe-awaitable; this client is synchronous. One
        # stream's reply: [(key, [(entry id, fields), ...])], or nothing after block_ms.
        response = cast(list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]],
                        client.xread({key: last_id}, block=block_ms, count=500))
        if not response:
            yield None
            continue
        for entry_id, raw_fields in response[0][1]:
            last_id = entry_id
            fields = {k.decode(): v.decode() for k, v in raw_fields.items()}
            event = LogEvent(fields["kind"], fields.get("text", ""), fields.get("status", ""))
            yield event
            if event.kind == "end":
                return
