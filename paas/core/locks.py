"""Per-app locks in Redis, shared by the web processes and the workers.

``push``: one build per app at a time (a second push waits its turn).
``deploy``: one change of running containers per app at a time (deploy, scale, config, reconcile).

A lock lives for LOCK_TTL_SECONDS and its holder renews it while it holds it. A holder that
dies (a worker killed mid-deploy, a web process killed mid-push) stops renewing, so its lock
frees itself within LOCK_TTL_SECONDS instead of blocking the app until a long timeout.
"""

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import redis

from paas.core.platform import Lock, platform
from paas.errors import PlatformError

logger = logging.getLogger(__name__)

LOCK_TTL_SECONDS = 30.0


@contextmanager
def app_lock(
    app_name: str,
    purpose: str,
    wait: float,
    on_wait: Callable[[], None] | None = None,
) -> Iterator[None]:
    """Hold the ``purpose`` lock of ``app_name`` for the block, renewing it meanwhile.

    Calls ``on_wait`` once if the lock is busy, then waits up to ``wait`` seconds.
    Raises PlatformError(lock_timeout) if it cannot be had in time, PlatformError(redis_down)
    if Redis cannot be reached.
    """
    name = f"paas:app:{app_name}:{purpose}"
    try:
        lock = platform().new_lock(name, LOCK_TTL_SECONDS)
        acquired = lock.acquire(blocking=False)
        if not acquired:
            if on_wait:
                on_wait()
            acquired = lock.acquire(blocking=True, blocking_timeout=wait)
    except redis.RedisError as error:
        raise PlatformError(f"Redis is not reachable, so {app_name} cannot be changed now: "
                            f"{error}", code="redis_down") from None
    if not acquired:
        raise PlatformError(f"timed out waiting for the {purpose} lock of {app_name}",
                            code="lock_timeout")
    stop = threading.Event()
    renewer = threading.Thread(target=_renew, args=(lock, name, stop), daemon=True,
                               name=f"lock-{app_name}-{purpose}")
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()
        try:
            lock.release()
        except redis.RedisError as error:  # LockError too
            # Expired meanwhile (Redis was away longer than the TTL): nothing to release.
            logger.warning("releasing %s: %s", name, error)


def _renew(lock: Lock, name: str, stop: threading.Event) -> None:
    """Push the lock's expiry out every third of its lifetime until ``stop`` is set."""
    while not stop.wait(LOCK_TTL_SECONDS / 3):
        try:
            lock.extend(LOCK_TTL_SECONDS, replace_ttl=True)
        except redis.RedisError as error:  # LockError too
            # Redis away for a moment: try again at the next tick; the lock may lapse.
            logger.warning("renewing %s: %s", name, error)
