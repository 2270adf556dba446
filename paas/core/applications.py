"""Creating, finding and destroying apps, and who may see and administer them."""

import shutil
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q

from paas.core.buildcache import purge_build_cache
from paas.core.buildlog import app_build_logs_dir
from paas.core.models import App, Domain, Formation, Release
from paas.core.platform import platform
from paas.core.reconcile import reconcile_app
from paas.core.tlssites import certs_dir
from paas.errors import Forbidden, NotFound, UserError
from paas.names import validate_app_name, validate_hostname
from paas.runtime.scheduler import Instance


def repo_path(app_name: str) -> Path:
    """Where the app's bare git repository lives."""
    return settings.PAAS_HOME / "repos" / f"{app_name}.git"


def create_app(name: str, owner) -> App:
    """Create app ``name`` owned by ``owner`` with the default formation (web=1).

    Raises UserError(invalid_app_name), UserError(app_exists), or UserError(domain_taken)
    when the app's default host ``<name>.<PAAS_DOMAIN>`` is already another app's domain or
    the control plane's (PAAS_CONTROL_DOMAIN).
    """
    validate_app_name(name)
    if default_host(name) == settings.PAAS_CONTROL_DOMAIN:
        raise UserError(f"the name {name!r} is not available: its address {default_host(name)} "
                        "is the control plane's", code="domain_taken")
    owner_of_host = Domain.objects.filter(hostname=default_host(name)).select_related("app")
    if (taken := owner_of_host.first()) is not None:
        raise UserError(f"the name {name!r} is not available: its address {default_host(name)} "
                        f"is a domain of app {taken.app.name}", code="domain_taken")
    try:
        with transaction.atomic():
            app = App.objects.create(name=name, owner=owner)
            Formation.objects.create(app=app, process_type="web", quantity=1)
    except IntegrityError:
        raise UserError(f"app {name!r} already exists", code="app_exists") from None
    return app


def visible_apps(user):
    """The apps ``user`` may see: all for superusers, else owned or collaborating."""
    if user.is_superuser:
        return App.objects.all()
    return App.objects.filter(Q(owner=user) | Q(collaborators=user)).distinct()


def get_app(name: str, user) -> App:
    """Return app ``name`` if ``user`` may see it. Raises NotFound (also for outsiders)."""
    validate_app_name(name)
    app = visible_apps(user).filter(name=name).first()
    if app is None:
        raise NotFound(f"app {name!r} not found", code="app_not_found")
    return app


def get_or_create_app_for_push(name: str, user) -> App:
    """The app a push to ``name`` goes to: created on the first push of a valid, unknown name.

    Raises UserError(invalid_app_name), or NotFound when the app exists but belongs to others.
    """
    validate_app_name(name)
    if not App.objects.filter(name=name).exists():
        try:
            return create_app(name, user)
        except UserError as error:
            if error.code != "app_exists":  # lost a race with a concurrent first push
                raise
    return get_app(name, user)


def default_host(app_name: str) -> str:
    """The hostname every app is served at without a custom domain: ``<app>.<PAAS_DOMAIN>``."""
    return f"{app_name}.{settings.PAAS_DOMAIN}"


def add_domain(app: App, hostname: str) -> Domain:
    """Route ``hostname`` to ``app``.

    Raises UserError(invalid_domain) for a name that is no lowercase DNS name (see
    ``validate_hostname``), and UserError(domain_taken) for one that is another app's domain,
    the control plane's (PAAS_CONTROL_DOMAIN), or the default host of any app
    (``<app>.<PAAS_DOMAIN>``, whether that app exists yet or not: it may be created later,
    and its address is its own).
    """
    validate_hostname(hostname)
    if hostname == settings.PAAS_CONTROL_DOMAIN:
        raise UserError(f"{hostname} is the control plane's address", code="domain_taken")
    _check_not_a_default_host(app, hostname)
    try:
        with transaction.atomic():  # a savepoint: the caller's transaction stays usable
            domain = Domain.objects.create(app=app, hostname=hostname)
    except IntegrityError:
        raise UserError(f"domain {hostname} is already in use", code="domain_taken") from None
    _reroute(app)
    return domain


def _check_not_a_default_host(app: App, hostname: str) -> None:
    label, dot, parent = hostname.partition(".")
    if not dot or parent != settings.PAAS_DOMAIN.lower():
        return
    if label == app.name:
        raise UserError(f"{hostname} is the address of {app.name} already",
                        code="domain_taken")
    # Any name an app could have is reserved for that app, existing or not.
    raise UserError(f"{hostname} is reserved: it is the address of app {label!r} "
                    f"(<app>.{settings.PAAS_DOMAIN} names belong to apps)", code="domain_taken")


def _reroute(app: App) -> None:
    """Give the router the app's new set of hostnames (a no-op before its first release)."""
    reconcile_app(app)


def destroy_app(app: App, user) -> None:
    """Stop every container of ``app``; remove its route, release images, build cache,
    volumes (with their data), saved app logs, build logs, git repository and records.

    Nothing is left that a later app of the same name could find: its images, logs and repo
    are found by name, so they go; its volumes and build cache are named after the app's uid
    and row, which a new app never gets, so one Docker cannot remove now (or a volume
    unmounted earlier with its data kept) is orphaned, never reused.
    Builds, releases, formations, volumes and domains rows go with the app (cascade). Raises
    Forbidden unless ``user`` administers the app, and PlatformError if Docker cannot be
    reached, before anything is deleted, so a failed destroy can be retried.
    """
    require_admin(app, user, "destroy it")
    scheduler = platform().scheduler
    scheduler.remove_app(app.name)
    images = platform().images
    for image in app.releases.values_list("image", flat=True):
        # Without this a later app of the same name would find v1, v2... of this one.
        images.remove_image(image)
    purge_build_cache(app)
    for volume in app.volumes.select_related("app"):
        scheduler.remove_volume(volume.docker_name)
    # remove_app has saved the output of the containers it removed: that goes too.
    shutil.rmtree(scheduler.saved_logs_dir(app.name), ignore_errors=True)
    shutil.rmtree(app_build_logs_dir(settings.PAAS_HOME, app.name), ignore_errors=True)
    shutil.rmtree(repo_path(app.name), ignore_errors=True)
    shutil.rmtree(certs_dir(app.name), ignore_errors=True)  # its route went with remove_app
    app.delete()


def remove_domain(app: App, hostname: str) -> None:
    """Stop routing ``hostname`` to ``app``. Raises NotFound if the app has no such domain."""
    deleted, _ = Domain.objects.filter(app=app, hostname=hostname.lower()).delete()
    if not deleted:
        raise NotFound(f"{app.name} has no domain {hostname}", code="domain_not_found")
    _reroute(app)


def can_administer(app: App, user) -> bool:
    """Whether ``user`` may destroy ``app`` and manage its collaborators: owner or superuser."""
    return bool(user.is_superuser or app.owner_id == user.pk)


def require_admin(app: App, user, what: str) -> None:
    """Raise Forbidden ("only the owner of shop may destroy it") unless ``user`` administers
    ``app``. Callers have found the app through ``get_app``, so ``user`` may see it."""
    if not can_administer(app, user):
        raise Forbidden(f"only the owner of {app.name} may {what}")


def add_collaborator(app: App, username: str, by):
    """Let ``username`` see and change ``app``. Raises Forbidden unless ``by`` administers the
    app, NotFound for an unknown user."""
    require_admin(app, by, "add collaborators")
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise NotFound(f"no user {username!r}", code="user_not_found")
    if user.pk == app.owner_id:
        raise UserError(f"{username} owns {app.name} already", code="already_owner")
    app.collaborators.add(user)
    return user


def remove_collaborator(app: App, username: str, by) -> None:
    """Take ``username``'s access to ``app`` away. Raises Forbidden unless ``by`` administers
    the app, NotFound if ``username`` was no collaborator."""
    require_admin(app, by, "remove collaborators")
    user = app.collaborators.filter(username=username).first()
    if user is None:
        raise NotFound(f"{username!r} is not a collaborator of {app.name}",
                       code="collaborator_not_found")
    app.collaborators.remove(user)


@dataclass(frozen=True)
class AppSummary:
    """One row of the apps list: what the dashboard, API and CLI show without opening the app.

    Plain values, not models: a list of many apps is read as rows, which costs a fraction of
    loading each app, owner, release and formation as a model instance.
    """

    name: str
    owner_id: int
    owner: str  # the owner's username
    status: str
    current_version: str | None  # "v3", or None before the first release
    quantities: dict[str, int]
    last_deploy_at: datetime | None
    created_at: datetime
    crashed_at: datetime | None
    crash_reason: str
    url: str


def app_summaries(user) -> list[AppSummary]:
    """The apps ``user`` may see, with status, formation and current release, by name.

    Three queries however many apps there are (apps with owners, their current and deploying
    releases, their formations).
    """
    return _summaries(visible_apps(user))


def app_summary(app: App) -> AppSummary:
    """The summary of one app (see app_summaries)."""
    return _summaries(App.objects.filter(pk=app.pk))[0]


def _summaries(apps) -> list[AppSummary]:
    owner_name = f"owner__{get_user_model().USERNAME_FIELD}"
    rows = apps.order_by("name").values_list("pk", "name", "owner_id", owner_name,
                                              "created_at", "crashed_at", "crash_reason")
    ids = apps.values("pk")
    current: dict[int, tuple[int, datetime]] = {}  # app -> its current release's number, date
    deploying: set[int] = set()
    # Newest first, so the current release kept is the one App.current_release gives.
    for app_id, number, status, created_at in Release.objects.filter(
            app__in=ids, status__in=[Release.Status.CURRENT, Release.Status.DEPLOYING],
    ).order_by("-number").values_list("app_id", "number", "status", "created_at"):
        if status == Release.Status.DEPLOYING:
            deploying.add(app_id)
        else:
            current.setdefault(app_id, (number, created_at))
    quantities: dict[int, dict[str, int]] = defaultdict(dict)
    for app_id, process_type, quantity in Formation.objects.filter(app__in=ids).order_by(
            "process_type").values_list("app_id", "process_type", "quantity"):
        quantities[app_id][process_type] = quantity
    url = app_url_pattern()
    summaries = []
    for pk, name, owner_id, owner, created_at, crashed_at, crash_reason in rows:
        release = current.get(pk)
        formation = quantities.get(pk, {})
        status = App.derive_status(
            deploying=pk in deploying, crashed=crashed_at is not None,
            has_current=release is not None, running=any(q > 0 for q in formation.values()))
        summaries.append(AppSummary(
            name=name, owner_id=owner_id, owner=owner, status=status,
            current_version=f"v{release[0]}" if release else None, quantities=formation,
            last_deploy_at=release[1] if release else None, created_at=created_at,
            crashed_at=crashed_at,
            crash_reason=crash_reason, url=url.format(name)))
    return summaries


def app_url(app_name: str) -> str:
    """Where the router serves app ``app_name`` (the port is left out when it is 80)."""
    return app_url_pattern().format(app_name)


def app_url_pattern() -> str:
    """``app_url`` with ``{}`` for the app's name: a list reads the settings once."""
    port = "" if settings.PAAS_ROUTER_PORT == 80 else f":{settings.PAAS_ROUTER_PORT}"
    return f"http://{default_host('{}')}{port}/"


def app_instances(app: App) -> list[Instance]:
    """The instances of ``app`` right now, sorted by process type and number.

    Raises PlatformError(docker_down) when the engine cannot be reached.
    """
    return sorted(platform().scheduler.instances(app.name),
                  key=lambda i: (i.process_type, i.number, i.release))
