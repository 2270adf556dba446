"""Heartbeats: a worker doing long work (a build, a deploy action) keeps a short-lived Redis
key fresh, so whoever waits for that work can tell a worker that died from one that is busy.

A worker refreshes its key every HEARTBEAT_SECONDS; a key older than HEARTBEAT_TTL_SECONDS has
expired, and the work it stood for lost its worker (killed, or its machine restarted).
Followers check every LOST_WORKER_CHECK_SECONDS quiet seconds.
"""

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from paas.core.platform import platform

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5
HEARTBEAT_TTL_SECONDS = 20
LOST_WORKER_CHECK_SECONDS = 5


@contextmanager
def heartbeat(key: str) -> Iterator[None]:
    """Keep ``key`` alive while the block runs (from a thread: the work blocks for minutes
    in Docker calls); delete it afterwards."""
    client = platform().redis
    client.set(key, "1", ex=HEARTBEAT_TTL_SECONDS)
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            try:
                client.set(key, "1", ex=HEARTBEAT_TTL_SECONDS)
            except redis.RedisError as error:
                logger.warning("heartbeat %s: %s", key, error)

    thread = threading.Thread(target=beat, name=f"heartbeat-{key}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        client.delete(key)


def alive(key: str) -> bool:
    """Whether the worker behind ``key`` beat within HEARTBEAT_TTL_SECONDS."""
    return bool(platform().redis.exists(key))
