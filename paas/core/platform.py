"""The platform's moving parts (Docker, the router, the runtime), built from settings.

Services call these instead of constructing engines themselves, so tests can swap one in one
place and nothing below ``paas.core`` ever reads settings.
"""

from functools import cache

from django.conf import settings

from paas.router.nginx import Router
from paas.runtime.docker_engine import DockerEngine
from paas.runtime.reconcile import Runtime


@cache
def get_engine() -> DockerEngine:
    return DockerEngine(home=str(settings.PAAS_HOME), base_url=settings.PAAS_DOCKER_URL)


@cache
def get_router() -> Router:
    home = settings.PAAS_HOME
    return Router(
        nginx_dir=home / "nginx", log_dir=home / "logs", run_dir=home / "run",
        port=settings.PAAS_ROUTER_PORT, nginx_binary=settings.PAAS_NGINX_BINARY,
    )


@cache
def get_runtime() -> Runtime:
    return Runtime(
        engine=get_engine(), router=get_router(),
        healthcheck_timeout=settings.PAAS_HEALTHCHECK_TIMEOUT,
        drain_seconds=settings.PAAS_DRAIN_SECONDS,
    )


def repo_path(app_name: str):
    return settings.PAAS_HOME / "repos" / f"{app_name}.git"
