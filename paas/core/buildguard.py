"""Watching a running build from beside it: a heartbeat, so that a build whose worker died is
noticed, and cancellation, which stops the build's processes while it is still building.

A build can be cancelled while it is queued (it never runs) or while its image builds (its
build client is killed, so BuildKit stops too). Once its image is built it goes on to release
and deploy: stopping a deploy half-way would leave more behind than it saves.
"""

import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import redis
from django.utils import timezone

from paas.core.buildlog import end_stream, follow_limit_seconds, stream_key
from paas.core.heartbeat import HEARTBEAT_TTL_SECONDS, alive, heartbeat
from paas.core.models import Build
from paas.core.platform import platform
from paas.errors import UserError
from paas.procfs import thread_children

logger = logging.getLogger(__name__)

CANCEL_POLL_SECONDS = 1
WORKER_LOST_MESSAGE = "the build stopped: its worker went away mid-build; push again"
CANCELLED_MESSAGE = "the build was cancelled"
UNCLAIMED_MESSAGE = "no builder started this build in time; push again"


class BuildCancelled(UserError):
    code = "build_cancelled"


def heartbeat_key(build_id: int) -> str:
    return f"paas:build:{build_id}:alive"


def cancel_key(build_id: int) -> str:
    return f"paas:build:{build_id}:cancel"


class BuildWatch:
    """What the build itself asks its watcher: whether it was cancelled."""

    def __init__(self, build_id: int) -> None:
        self.build_id = build_id
        self.building = threading.Event()  # set while the image builds: cancelling kills it
        self.building.set()

    def cancel_requested(self) -> bool:
        return bool(platform().redis.exists(cancel_key(self.build_id)))

    def image_built(self) -> None:
        """The build moves on to release and deploy. Raises BuildCancelled if it was cancelled
        before this point."""
        self.building.clear()
        if self.cancel_requested():
            raise BuildCancelled(CANCELLED_MESSAGE)


@contextmanager
def watch(build_id: int) -> Iterator[BuildWatch]:
    """Keep the build's heartbeat fresh and act on a cancel request while the block runs (from
    a thread: the build itself blocks for minutes in docker calls)."""
    client = platform().redis
    build_watch = BuildWatch(build_id)
    stop = threading.Event()
    # The build runs in this thread, and the worker may run other builds in other threads:
    # cancelling kills what this thread started, and only that.
    build_thread = threading.get_native_id()

    def cancel_when_asked() -> None:
        while not stop.wait(CANCEL_POLL_SECONDS):
            try:
                if build_watch.building.is_set() and client.exists(cancel_key(build_id)):
                    _kill_child_processes(build_thread)
            except redis.RedisError as error:
                logger.warning("build %s watch: %s", build_id, error)

    thread = threading.Thread(target=cancel_when_asked, name=f"build-{build_id}-watch",
                              daemon=True)
    with heartbeat(heartbeat_key(build_id)):
        thread.start()
        try:
            yield build_watch
        finally:
            stop.set()
            thread.join()
            client.delete(cancel_key(build_id))


def _kill_child_processes(thread_id: int) -> None:
    """Kill the processes thread ``thread_id`` of this process started, and their process
    groups: the build client (the docker CLI, which runs in a session of its own) or a
    buildpack's git clone."""
    for pid in thread_children(os.getpid(), thread_id):
        try:
            os.killpg(os.getpgid(pid), signal.SIGKILL)
        except ProcessLookupError:
            continue


def fail_if_worker_lost(build_id: int) -> bool:
    """Mark build ``build_id`` failed if it is running but its worker stopped heart-beating,
    and end its log so a waiting push reports it. Returns whether it did."""
    if alive(heartbeat_key(build_id)):
        return False
    return _end_as_failed(build_id, Build.Status.RUNNING, "worker_lost", WORKER_LOST_MESSAGE)


def fail_unclaimed_builds() -> list[int]:
    """Fail the builds still queued after ``follow_limit_seconds``: no builder took them
    (none runs, or the broker lost the task), and their pushers have stopped waiting.
    Returns their ids."""
    cutoff = timezone.now() - timedelta(seconds=follow_limit_seconds())
    stale = Build.objects.filter(status=Build.Status.QUEUED, created_at__lt=cutoff)
    return [build_id for build_id in stale.values_list("pk", flat=True)
            if _end_as_failed(build_id, Build.Status.QUEUED, "not_started", UNCLAIMED_MESSAGE)]


def _end_as_failed(build_id: int, status: str, code: str, message: str) -> bool:
    """Fail build ``build_id`` if it is still ``status``, and end its log with ``message``
    so whoever follows it hears. Returns whether it did."""
    failed = Build.objects.filter(pk=build_id, status=status).update(
        status=Build.Status.FAILED, finished_at=timezone.now(), error_code=code,
        error_message=message)
    if failed:
        logger.warning("build %s failed: %s", build_id, code)
        end_stream(platform().redis, stream_key(build_id), Build.Status.FAILED, message)
    return bool(failed)


def cancel_build(build: Build) -> str:
    """Cancel ``build``: a queued one at once, a building one as soon as its watcher sees it.

    Returns the build's status afterwards ("cancelled", or "running" while it stops). Raises
    UserError(build_finished) for a finished build, UserError(build_deploying) once its image
    is built.
    """
    cancelled = Build.objects.filter(pk=build.pk, status=Build.Status.QUEUED).update(
        status=Build.Status.CANCELLED, finished_at=timezone.now(), error_code="cancelled",
        error_message=CANCELLED_MESSAGE)
    if cancelled:
        end_stream(platform().redis, stream_key(build.pk), Build.Status.CANCELLED,
                   CANCELLED_MESSAGE)
        return Build.Status.CANCELLED
    build.refresh_from_db()
    if build.is_finished:
        raise UserError(f"build {build.pk} has finished ({build.status})", code="build_finished")
    if build.image_id:
        raise UserError(f"build {build.pk} is deploying its release and cannot be cancelled",
                        code="build_deploying")
    platform().redis.set(cancel_key(build.pk), "1", ex=HEARTBEAT_TTL_SECONDS * 30)
    return build.status
