"""Periodic and start-up reconcile: make Docker and the router match the database again.

After a crash, a container removed by hand or a dockerd restart, every app's current release is
converged again, containers of apps paas no longer knows are removed, and the router's
configuration is rewritten from the database.

Each app is reconciled under its deploy lock, and so is its route: a reconcile that ran beside
a deploy must never point the router back at containers the deploy is about to stop.

``reroute_moved_ports`` is the cheap check that runs every few seconds between full reconciles:
Docker gives a web container it restarts after a crash a new loopback port, and the router must
follow at once rather than at the next reconcile.
"""

import logging
from collections import defaultdict

from django.conf import settings
from django.utils import timezone

from paas.core import processes
from paas.core.buildguard import fail_if_worker_lost, fail_unclaimed_builds
from paas.core.locks import app_lock
from paas.core.models import App, Build, Release
from paas.core.platform import platform
from paas.core.releases import desired_state
from paas.core.services import reconcile_services
from paas.core.tlssites import control_site
from paas.errors import PaasError
from paas.runtime.scheduler import Instance

logger = logging.getLogger(__name__)

# The engine restarts a crashed instance a few times (Docker: 5, see DockerEngine.start); an
# instance that used 3 of them and is down again is crash-looping, not having a bad moment.
CRASH_LOOP_RESTARTS = 3
ABANDONED_DEPLOY_MESSAGE = "the deploy stopped: its worker went away; what served before serves"
# How long past its timeout a one-off container may live: the worker running it kills and
# removes it at the timeout, which takes a moment.
ONEOFF_GRACE_SECONDS = 60


def crash_report(instances: list[Instance], release: int) -> str | None:
    """Why the app counts as crashed, or None: an instance of the current release that its
    engine restarted CRASH_LOOP_RESTARTS times and that is down (or restarting) again."""
    for instance in instances:
        if instance.release != release or instance.running:
            continue
        if instance.restart_count >= CRASH_LOOP_RESTARTS:
            return (f"{instance.label} crashed {instance.restart_count + 1} times "
                    f"(last exit code {instance.exit_code})")
    return None


def reconcile_app(app: App, listed: list[Instance] | None = None,
                  lock_wait: float = 0.1) -> None:
    """Converge ``app``'s current release; skip it if another change holds its deploy lock
    for longer than ``lock_wait`` seconds.

    A crash loop is recorded on the app (crashed_at, crash_reason; the next successful deploy
    clears them) and the crashed containers are replaced, once per reconcile interval. A
    release left ``deploying`` by a deploy whose worker died is marked failed: deploys mark a
    release deploying only while they hold the lock that reconcile holds now. ``listed`` is
    what the scheduler ran of the app a moment ago (reconcile_all lists every app at once);
    without it, the app's instances are listed here.
    """
    try:
        with app_lock(app.name, "deploy", wait=lock_wait):
            abandoned = app.releases.filter(status=Release.Status.DEPLOYING).update(
                status=Release.Status.FAILED, failure_reason=ABANDONED_DEPLOY_MESSAGE)
            if abandoned:
                logger.warning("%s: %d deploy(s) abandoned by their worker", app.name,
                               abandoned)
            release = app.current_release
            if release is not None:
                _converge_current(app, release, listed)
    except PaasError as error:
        if error.code == "lock_timeout":
            # A deploy, scale or config change is under way; it converges this app itself.
            logger.info("reconcile of %s skipped: another change holds its deploy lock",
                        app.name)
        else:
            logger.warning("reconcile of %s: %s", app.name, error)


def _converge_current(app: App, release: Release, listed: list[Instance] | None) -> None:
    scheduler = platform().scheduler
    # An earlier listing only says where to look: a crash is recorded from the instances as
    # they are now, under the lock (a deploy since may have replaced the crashing ones).
    if listed is None or crash_report(listed, release.number):
        report = crash_report(scheduler.instances(app.name), release.number)
        if report:
            logger.warning("%s is crash-looping: %s", app.name, report)
            App.objects.filter(pk=app.pk).update(crashed_at=timezone.now(),
                                                 crash_reason=report)
    scheduler.converge(desired_state(release)).run()


def reconcile_all() -> None:
    """Reconcile every app, remove orphan and stale one-off containers, rewrite the router
    from the database.

    Routes are written per app by its converge (from the database's current release and the
    healthy containers); here only routes of apps that no longer exist or have no release are
    removed, and the control plane's server block is rewritten (PAAS_CONTROL_DOMAIN and its
    certificate). Backing services are started again where their containers stopped or went
    away (``paas.core.services.reconcile_services``). Builds whose worker went away
    mid-build are marked failed, and so are builds no builder took before their pusher
    stopped waiting.
    """
    for build_id in Build.objects.filter(status=Build.Status.RUNNING).values_list("pk", flat=True):
        fail_if_worker_lost(build_id)
    fail_unclaimed_builds()
    scheduler = platform().scheduler
    scheduler.remove_orphans(set(App.objects.values_list("name", flat=True)))
    remove_stale_oneoffs()
    # Before the apps: a linked app's containers join its services' networks.
    reconcile_services()
    # One listing of every app's instances for the crash checks, instead of one per app.
    listed: dict[str, list[Instance]] = defaultdict(list)
    for instance in scheduler.instances():
        listed[instance.app].append(instance)
    for app in App.objects.all():
        reconcile_app(app, listed.get(app.name, []))
    # Read after the reconciles: an app whose first release deployed meanwhile keeps its
    # route. A release being deployed counts, so its route is not pulled from under it.
    served = set(Release.objects.filter(
        status__in=[Release.Status.CURRENT, Release.Status.DEPLOYING],
    ).values_list("app__name", flat=True))
    router = platform().router
    stale = router.routed_apps() - served
    if stale:
        router.remove_routes(stale)
    try:
        router.set_control(control_site())
    except PaasError as error:
        logger.warning("the control plane's server block: %s", error)


def remove_stale_oneoffs() -> list[str]:
    """Remove one-off containers (release phase, ``run``) whose worker died mid-run; return
    their names.

    Each carries its timeout; older than that plus ONEOFF_GRACE_SECONDS, nobody waits for it
    (the worker that ran it kills and removes it itself at the timeout). One without the label
    (made before paas labelled them) gets the longest timeout paas gives a one-off.
    """
    default_timeout = max(settings.PAAS_RELEASE_TIMEOUT, processes.DEFAULT_TIMEOUT)
    try:
        removed = platform().scheduler.remove_stale_oneoffs(default_timeout,
                                                            grace_seconds=ONEOFF_GRACE_SECONDS)
    except PaasError as error:
        logger.warning("stale one-off containers not checked: %s", error)
        return []
    for name in removed:
        logger.info("removed stale one-off container %s", name)
    return removed


def reroute_moved_ports() -> list[str]:
    """Reconcile the apps whose router lacks the port of a running web instance of the
    current release; return their names.

    When Docker restarts a crashed web container it gets a new loopback port, so the router
    would keep sending its share of requests to a dead port until the next full reconcile.
    The scheduler's check is cheap enough to run every few seconds; only the apps that need
    it are reconciled, under their deploy lock.
    """
    current = list(Release.objects.filter(status=Release.Status.CURRENT).select_related("app"))
    try:
        moved = platform().scheduler.unrouted_apps(
            {release.app.name: release.number for release in current})
    except PaasError as error:
        logger.warning("routes not checked against the scheduler: %s", error)
        return []
    for release in current:
        if release.app.name in moved:
            logger.info("%s: re-routing", release.app.name)
            reconcile_app(release.app)
    return moved
