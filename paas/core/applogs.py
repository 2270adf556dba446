"""App logs: what every instance of an app printed, across releases, readable and followable.

Docker keeps a container's log only as long as the container; the scheduler appends it to
``<saved_logs_dir(app)>/v<release>/<type>.<n>.log`` (with Docker's timestamps) before it
removes the container. Reading merges those files with the live containers' logs by time.
Lines come out as ``web.1 | <text>``.

Their size is bounded: each file keeps its newest lines up to the runtime's APP_LOG_MAX_BYTES,
and the logs of releases beyond PAAS_KEEP_RELEASES are deleted (``prune_release_logs``) after
each deploy, like their images.
"""

import heapq
import logging
import queue
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from paas.core.models import App, Release
from paas.core.platform import platform
from paas.errors import UserError
from paas.runtime.scheduler import Instance, Scheduler

logger = logging.getLogger(__name__)

MAX_TAIL = 10_000
# How often following looks for containers that started since (a deploy, a scale, a restart).
FOLLOW_POLL_SECONDS = 1.0


def _split(raw: bytes | str) -> tuple[str, str]:
    """(timestamp, text) of one Docker log line ``<RFC 3339 nano timestamp> <text>``."""
    line = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    line = line.rstrip("\r\n")
    stamp, _, text = line.partition(" ")
    # Docker always writes 9 fractional digits and Z, so the stamps sort as strings.
    if len(stamp) < 20 or stamp[4] != "-" or not stamp.endswith("Z"):
        return "", line
    return stamp, text


def _saved_lines(app_dir: Path, release: int | None) -> Iterator[tuple[str, str]]:
    pattern = f"v{release}/*.log" if release is not None else "v*/*.log"
    for path in sorted(app_dir.glob(pattern)):
        label = path.stem
        with path.open("rb") as log_file:
            for raw in log_file:
                stamp, text = _split(raw)
                yield stamp, f"{label} | {text}"


def _live_lines(scheduler: Scheduler, instances: list[Instance]
                ) -> Iterator[tuple[str, str]]:
    for instance in instances:
        for raw in scheduler.logs(instance):
            stamp, text = _split(raw)
            yield stamp, f"{instance.label} | {text}"


def app_logs(app: App, tail: int = 100, follow: bool = False,
             release: int | None = None) -> Iterator[str]:
    """The last ``tail`` log lines of all of ``app``'s instances, oldest first, then (with
    ``follow``) new lines as they come, until the caller stops iterating.

    ``release`` limits the output to one release's instances. Raises UserError(invalid_tail)
    for a ``tail`` outside 0..MAX_TAIL.
    """
    if isinstance(tail, bool) or not isinstance(tail, int) or not 0 <= tail <= MAX_TAIL:
        raise UserError(f"invalid tail {tail!r}: use 0 to {MAX_TAIL}", code="invalid_tail")
    scheduler = platform().scheduler
    started_at = time.time()
    instances = [i for i in scheduler.instances(app.name)
                 if release is None or i.release == release]
    saved = sorted(_saved_lines(scheduler.saved_logs_dir(app.name), release))
    live = sorted(_live_lines(scheduler, instances))
    merged = list(heapq.merge(saved, live))
    for _stamp, line in merged[len(merged) - tail:] if tail else []:
        yield line
    if follow:
        yield from _follow(scheduler, app.name, release, started_at)


def _follow(scheduler: Scheduler, app: str, release: int | None,
            since: float) -> Iterator[str]:
    """New lines of every instance of ``app``, including instances started later."""
    lines: queue.Queue[str] = queue.Queue(maxsize=10_000)
    followed: set[str] = set()
    stop = threading.Event()

    def pump(instance: Instance, start: float) -> None:
        for raw in scheduler.logs(instance, follow=True, since=start):
            if stop.is_set():
                return
            _stamp, text = _split(raw)
            lines.put(f"{instance.label} | {text}")

    try:
        first = True
        while True:
            for instance in scheduler.instances(app):
                if release is not None and instance.release != release:
                    continue
                if instance.id in followed:
                    continue
                followed.add(instance.id)
                # Containers there from the start continue where the tail ended; later ones
                # are read from their beginning.
                start = since if first else 0
                threading.Thread(target=pump, args=(instance, start), daemon=True).start()
            first = False
            deadline = time.monotonic() + FOLLOW_POLL_SECONDS
            while (remaining := deadline - time.monotonic()) > 0:
                try:
                    yield lines.get(timeout=remaining)
                except queue.Empty:
                    break
    finally:
        stop.set()


def prune_release_logs(app: App, keep: int) -> list[int]:
    """Delete the saved logs of ``app``'s releases beyond the newest ``keep``; return the
    release numbers whose logs went.

    As with images (``paas.core.releases.prune_images``): the current release's logs and
    those of a release that still has containers are kept whatever their age.
    """
    scheduler = platform().scheduler
    app_dir = scheduler.saved_logs_dir(app.name)
    if not app_dir.is_dir():
        return []
    kept = set(app.releases.exclude(status=Release.Status.CURRENT)
               .order_by("-number").values_list("number", flat=True)[:keep])
    kept |= set(app.releases.filter(status=Release.Status.CURRENT)
                .values_list("number", flat=True))
    kept |= {instance.release for instance in scheduler.instances(app.name)}
    removed = []
    for release_dir in app_dir.glob("v*"):
        number = release_dir.name[1:]
        if not number.isdigit() or int(number) in kept:
            continue
        shutil.rmtree(release_dir, ignore_errors=True)
        removed.append(int(number))
    if removed:
        logger.info("%s: removed the saved logs of releases %s", app.name, sorted(removed))
    return sorted(removed)
