"""Periodic and start-up reconcile: make Docker and the router match the database again.

After a crash, a container removed by hand or a dockerd restart, every app's current release is
converged again, containers of apps paas no longer knows are removed, and the router's
configuration is rewritten from the database.

Each app is reconciled under its deploy lock, and so is its route: a reconcile that ran beside
a deploy must never point the router back at containers the deploy is about to stop.
"""

import logging

from django.conf import settings
from django.utils import timezone

from paas.core.errors import PaasError
from paas.core.locks import app_lock
from paas.core.models import App, Release
from paas.core.platform import get_engine, get_router, get_runtime
from paas.core.releases import desired_state
from paas.runtime.docker_containers import RunningInstance

logger = logging.getLogger(__name__)

# Docker restarts a crashed container up to 5 times (see DockerEngine.start); an instance that
# used 3 of them and is down again is crash-looping, not having a bad moment.
CRASH_LOOP_RESTARTS = 3


def crash_report(instances: list[RunningInstance], release: int) -> str | None:
    """Why the app counts as crashed, or None: an instance of the current release that Docker
    restarted CRASH_LOOP_RESTARTS times and that is down (or restarting) again."""
    for instance in instances:
        if instance.release != release or instance.running:
            continue
        if instance.restart_count >= CRASH_LOOP_RESTARTS:
            return (f"{instance.label} crashed {instance.restart_count + 1} times "
                    f"(last exit code {instance.exit_code})")
    return None


def reconcile_app(app: App) -> None:
    """Converge ``app``'s current release; skip it if another change holds its deploy lock.

    A crash loop is recorded on the app (crashed_at, crash_reason; the next successful deploy
    clears them) and the crashed containers are replaced, once per reconcile interval.
    """
    release = app.current_release
    if release is None:
        return
    try:
        with app_lock(app.name, "deploy", timeout=settings.PAAS_HEALTHCHECK_TIMEOUT + 600,
                      wait=0.1):
            report = crash_report(get_engine().instances(app.name), release.number)
            if report:
                logger.warning("%s is crash-looping: %s", app.name, report)
                App.objects.filter(pk=app.pk).update(crashed_at=timezone.now(),
                                                     crash_reason=report)
            get_runtime().converge(desired_state(release)).run()
    except PaasError as error:
        logger.warning("reconcile of %s: %s", app.name, error)


def reconcile_all() -> None:
    """Reconcile every app, remove orphan containers, rewrite the router from the database.

    Routes are written per app by its converge (from the database's current release and the
    healthy containers); here only routes of apps that no longer exist or have no release are
    removed.
    """
    engine = get_engine()
    known = set(App.objects.values_list("name", flat=True))
    for instance in engine.instances():
        if instance.app not in known:
            logger.info("removing orphan container %s", instance.container.name)
            engine.stop_and_remove(instance, grace_seconds=settings.PAAS_DRAIN_SECONDS)
    for app in App.objects.all():
        reconcile_app(app)
    # Read after the reconciles: an app whose first release deployed meanwhile keeps its
    # route. A release being deployed counts, so its route is not pulled from under it.
    served = set(Release.objects.filter(
        status__in=[Release.Status.CURRENT, Release.Status.DEPLOYING],
    ).values_list("app__name", flat=True))
    router = get_router()
    stale = {path.stem for path in router.apps_dir.glob("*.conf")} - served
    if stale:
        router.apply(dict.fromkeys(stale))
