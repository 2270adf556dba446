"""The one handle on the platform's moving parts: the scheduler that runs apps, the images,
the router, Redis (live logs, locks, action records), the task queue and the backing
services' runner.

Services call ``platform()`` for them instead of building engines themselves. Each process
(gunicorn, a Celery worker, ``manage.py``: the entry points, which have loaded the settings)
builds its handle from settings on first use; tests install a fake one with ``install`` in
one fixture. Nothing below ``paas.core`` reads settings: the engines get what they need here.
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import redis
import redis.lock
from django.conf import settings

from paas.router.nginx import Router
from paas.runtime.docker_engine import DockerEngine
from paas.runtime.docker_images import DockerImages
from paas.runtime.docker_scheduler import DockerScheduler
from paas.runtime.scheduler import Scheduler
from paas.runtime.services import ServiceRunner
from paas.runtime.swarm_scheduler import SwarmScheduler


class Lock(Protocol):
    """A lock shared by every paas process (redis-py's ``Lock`` is one)."""

    def acquire(self, *, blocking: bool | None = None,
                blocking_timeout: float | None = None) -> bool: ...

    def release(self) -> None: ...

    def extend(self, additional_time: float, replace_ttl: bool = False) -> bool: ...


class TaskQueue(Protocol):
    """Where work for the Celery workers goes."""

    def send(self, task: str, args: list[Any]) -> str:
        """Queue ``task`` with ``args``; return the task's id. Raises if the broker refuses."""
        ...


class CeleryQueue:
    def __init__(self, celery_app: Any) -> None:
        self.celery_app = celery_app

    def send(self, task: str, args: list[Any]) -> str:
        return str(self.celery_app.send_task(task, args=args).id)


@dataclass
class Platform:
    scheduler: Scheduler
    images: DockerImages
    router: Router
    redis: redis.Redis
    tasks: TaskQueue
    # name, timeout in seconds -> a lock that expires after the timeout.
    new_lock: Callable[[str, float], Lock]
    # Backing services' containers (PostgreSQL, Redis): on the one dockerd, whichever
    # scheduler runs the apps.
    services: ServiceRunner


def from_settings() -> Platform:
    """The platform this installation's settings describe."""
    from paas.celery import app as celery_app

    home = settings.PAAS_HOME
    engine = DockerEngine(home=str(home), base_url=settings.PAAS_DOCKER_URL,
                          network_pool=settings.PAAS_NETWORK_POOL,
                          build_memory=settings.PAAS_BUILD_MEMORY,
                          build_pids=settings.PAAS_BUILD_PIDS,
                          # None with the docker scheduler and no PAAS_REGISTRY: nothing pushed.
                          registry=settings.PAAS_REGISTRY)
    router = Router(nginx_dir=home / "nginx", log_dir=home / "logs", run_dir=home / "run",
                    port=settings.PAAS_ROUTER_PORT, tls_port=settings.PAAS_ROUTER_TLS_PORT,
                    nginx_binary=settings.PAAS_NGINX_BINARY)
    # The one choice multi-host makes here (docs/multi-host.md): everything else is the same.
    chosen = SwarmScheduler if settings.PAAS_SCHEDULER == "swarm" else DockerScheduler
    scheduler: Scheduler = chosen(engine=engine, router=router,
                                  healthcheck_timeout=settings.PAAS_HEALTHCHECK_TIMEOUT,
                                  drain_seconds=settings.PAAS_DRAIN_SECONDS)
    client = redis.Redis.from_url(settings.REDIS_URL)

    def new_lock(name: str, timeout: float) -> Lock:
        # Not thread-local: the holder renews it from a thread of its own (see core.locks).
        return redis.lock.Lock(client, name, timeout=timeout, thread_local=False)

    return Platform(scheduler=scheduler, images=engine, router=router, redis=client,
                    tasks=CeleryQueue(celery_app), new_lock=new_lock, services=engine)


_installed: Platform | None = None
_building = threading.Lock()


def platform() -> Platform:
    """This process's platform, built from settings the first time it is asked for."""
    global _installed
    if _installed is None:
        with _building:
            if _installed is None:
                _installed = from_settings()
    return _installed


def install(replacement: Platform | None) -> Platform | None:
    """Make ``replacement`` the platform every service uses (None: build from settings again
    on next use); return the one it replaces. For tests and tools."""
    global _installed
    previous, _installed = _installed, replacement
    return previous
