"""Per-app locks in Redis, shared by the web processes and the workers.

``push``: one build per app at a time (a second push waits its turn).
``deploy``: one change of running containers per app at a time (deploy, scale, config, reconcile).
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from paas.core.platform import platform
from paas.errors import PlatformError


@contextmanager
def app_lock(
    app_name: str,
    purpose: str,
    timeout: float,
    wait: float,
    on_wait: Callable[[], None] | None = None,
) -> Iterator[None]:
    """Hold the ``purpose`` lock of ``app_name``; the lock expires after ``timeout`` seconds.

    Calls ``on_wait`` once if the lock is busy, then waits up to ``wait`` seconds.
    Raises PlatformError(lock_timeout) if it cannot be had in time.
    """
    lock = platform().new_lock(f"paas:app:{app_name}:{purpose}", timeout)
    acquired = lock.acquire(blocking=False)
    if not acquired:
        if on_wait:
            on_wait()
        acquired = lock.acquire(blocking=True, blocking_timeout=wait)
    if not acquired:
        raise PlatformError(f"timed out waiting for the {purpose} lock of {app_name}",
                            code="lock_timeout")
    try:
        yield
    finally:
        lock.release()
