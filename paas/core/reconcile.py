"""Periodic and start-up reconcile: make Docker and the router match the database again.

After a crash, a container removed by hand or a dockerd restart, every app's current release is
converged again, containers of apps paas no longer knows are removed, and the router's
configuration is rewritten from the database.
"""

import logging

from django.conf import settings

from paas.core.errors import PaasError
from paas.core.locks import app_lock
from paas.core.models import App, Release
from paas.core.platform import get_engine, get_router, get_runtime
from paas.core.releases import desired_state
from paas.router.nginx import AppRoute

logger = logging.getLogger(__name__)


def reconcile_app(app: App) -> None:
    """Converge ``app``'s current release; skip it if another change holds its deploy lock."""
    release = app.current_release
    if release is None:
        return
    try:
        with app_lock(app.name, "deploy", timeout=settings.PAAS_HEALTHCHECK_TIMEOUT + 600,
                      wait=0.1):
            get_runtime().converge(desired_state(release))
    except PaasError as error:
        logger.warning("reconcile of %s: %s", app.name, error)


def reconcile_all() -> None:
    """Reconcile every app, remove orphan containers, rewrite the router from the database."""
    engine = get_engine()
    known = set(App.objects.values_list("name", flat=True))
    for instance in engine.instances():
        if instance.app not in known:
            logger.info("removing orphan container %s", instance.container.name)
            engine.stop_and_remove(instance, grace_seconds=settings.PAAS_DRAIN_SECONDS)
    for app in App.objects.all():
        reconcile_app(app)
    routes = []
    for release in Release.objects.filter(status=Release.Status.CURRENT).select_related("app"):
        desired = desired_state(release)
        ports = sorted(
            port for instance in engine.instances(release.app.name)
            if instance.release == release.number and instance.process_type == "web"
            and instance.running and (port := instance.host_port())
        )
        routes.append(AppRoute(release.app.name, desired.hostnames, tuple(ports)))
    get_router().replace_all(routes)
