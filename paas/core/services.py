"""Backing services: PostgreSQL and Redis containers that apps are linked to.

``create_service`` records the service, builds its image on first use (offline, from the
stack image, ``paas.build.service_images``) and starts its container with a generated
password and a named volume. ``link_service`` sets the app's ``DATABASE_URL`` / ``REDIS_URL``
in a new release, whose containers join the service's network (``DesiredApp.services``): the
only containers that can reach the service at all. ``unlink_service`` removes the variable in
a new release and takes the app off the network. ``destroy_service`` removes the container,
its network and its volume: the data is deleted (its backups, ``paas.core.service_backups``,
are kept), and it is refused while apps are linked unless forced. ``reconcile_services`` (in
every periodic reconcile) starts a service whose container stopped or went away; Docker
itself restarts one that crashes.

Services are owned as apps are: the owner and superusers see one, link it and destroy it;
others are told it does not exist.
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction

from paas.build.service_images import ensure_service_image
from paas.core.models import App, Service, ServiceLink
from paas.core.platform import platform
from paas.core.releases import deploy_release, set_config
from paas.errors import Forbidden, NotFound, PaasError, PlatformError, UserError
from paas.names import validate_app_name
from paas.runtime.scheduler import Log, Terminal, TtySession, ignore
from paas.runtime.services import (
    URL_VARS,
    BackingServiceSpec,
    BackingServiceState,
    console_command,
    service_host,
    service_url,
)

logger = logging.getLogger(__name__)

KINDS = tuple(URL_VARS)


def validate_kind(kind: str) -> str:
    """Return ``kind`` if paas runs such services. Raises UserError(invalid_service_kind)."""
    if kind not in KINDS:
        raise UserError(f"unknown service kind {kind!r}: use one of {', '.join(KINDS)}",
                        code="invalid_service_kind")
    return kind


def visible_services(user):
    """The services ``user`` may see: all for superusers, else their own."""
    if user.is_superuser:
        return Service.objects.all()
    return Service.objects.filter(owner=user)


def get_service(name: str, user, kind: str | None = None) -> Service:
    """Service ``name`` (of ``kind``, if given) if ``user`` may see it. Raises
    UserError(invalid_app_name) for a bad name, NotFound(service_not_found) otherwise (also
    for outsiders)."""
    validate_app_name(name)
    found = visible_services(user).filter(name=name)
    if kind is not None:
        found = found.filter(kind=kind)
    service = found.first()
    if service is None:
        raise NotFound(f"{kind or 'service'} {name!r} not found", code="service_not_found")
    return service


def service_spec(service: Service) -> BackingServiceSpec:
    """What the service's container runs with (the limits every paas container gets)."""
    return BackingServiceSpec(name=service.name, kind=service.kind, image=service.image,
                       password=service.password, volume=service.volume_name,
                       memory=settings.PAAS_DEFAULT_MEMORY, pids=settings.PAAS_PIDS_LIMIT)


def url_var(service: Service) -> str:
    """The config var a link sets: DATABASE_URL or REDIS_URL."""
    return URL_VARS[service.kind]


def url_of(service: Service) -> str:
    """What linked apps find in DATABASE_URL / REDIS_URL."""
    return service_url(service.kind, service.name, service.password)


def create_service(kind: str, name: str, owner, log: Log = ignore) -> Service:
    """Create and start service ``name`` of ``kind``, building its image first if needed.

    Raises UserError(invalid_service_kind / invalid_app_name / service_exists),
    PlatformError(service_image_failed) when the image cannot be built, and what the runner
    raises; on any failure nothing is left (no row, no container, no volume).
    """
    validate_kind(kind)
    validate_app_name(name)
    try:
        with transaction.atomic():
            service = Service.objects.create(name=name, kind=kind, owner=owner)
    except IntegrityError:
        raise UserError(f"a service named {name!r} exists already",
                        code="service_exists") from None
    try:
        service.image = _image(kind, log)
        Service.objects.filter(pk=service.pk).update(image=service.image)
        state = platform().services.ensure_backing_service(service_spec(service), log)
    except PaasError:
        _remove(service, delete_data=True)
        raise
    record_service_state(service, state)
    log(f"-----> {kind} {name} is {service.status}; link it with "
        f"`paas {kind}:link {name} -a APP`")
    return service


def _image(kind: str, log: Log) -> str:
    try:
        return ensure_service_image(
            platform().images, kind, settings.BASE_DIR / "deploy",
            ca_bundle=Path(settings.PAAS_BUILD_CA_BUNDLE), stack_image=settings.PAAS_STACK_IMAGE,
            log=log, timeout=settings.PAAS_BUILD_TIMEOUT)
    # BuildFailed / BuildTimedOut: user errors for an app's build, the platform's here (the
    # recipe is paas's own).
    except UserError as error:
        raise PlatformError(f"the {kind} image could not be built: {error}",
                            code="service_image_failed") from error


def linked_services(app: App) -> list[str]:
    """The names of the services linked to ``app``, sorted."""
    return list(ServiceLink.objects.filter(app=app).order_by("service__name")
                .values_list("service__name", flat=True))


def linked_service_statuses(app: App) -> list[dict[str, str]]:
    """The services linked to ``app`` as ``apps:info`` and the dashboard show them: name,
    kind, status (as the last reconcile saw it) and the variable the link sets, by name."""
    return [{"name": name, "kind": kind, "status": status, "url_var": URL_VARS[kind]}
            for name, kind, status in ServiceLink.objects.filter(app=app)
            .order_by("service__name")
            .values_list("service__name", "service__kind", "service__status")]


def link_service(service: Service, app: App, user=None, log: Log = ignore) -> ServiceLink:
    """Link ``app`` to ``service``: a new release of ``app`` with DATABASE_URL / REDIS_URL
    set, whose containers join the service's network, deployed (the app restarts).

    The caller has found both for ``user`` (``get_service``, ``get_app``). Raises
    UserError(service_link_exists) if linked already, UserError(service_var_taken) if another
    service of the kind is linked to the app (it would take the same variable), and what
    ``set_config`` raises (the link is then removed again: a failed link changes nothing).
    """
    var = url_var(service)
    other = ServiceLink.objects.filter(app=app, service__kind=service.kind) \
        .exclude(service=service).select_related("service").first()
    if other is not None:
        raise UserError(f"{app.name} is linked to {service.kind} {other.service.name} "
                        f"already, which sets {var}", code="service_var_taken")
    try:
        with transaction.atomic():
            created = ServiceLink.objects.create(service=service, app=app)
    except IntegrityError:
        raise UserError(f"{app.name} is linked to {service.name} already",
                        code="service_link_exists") from None
    try:
        _release(app, {var: url_of(service)}, [], user, log)
    except PaasError:
        created.delete()
        raise
    return created


def unlink_service(service: Service, app: App, user=None, log: Log = ignore) -> None:
    """Unlink ``app`` from ``service``: a new release without the service's variable, whose
    containers leave its network.

    Raises NotFound(service_link_not_found), and what ``set_config`` raises (the link is put
    back).
    """
    found = ServiceLink.objects.filter(service=service, app=app).first()
    if found is None:
        raise NotFound(f"{app.name} is not linked to {service.name}",
                       code="service_link_not_found")
    found.delete()
    var = url_var(service)
    # A variable the user has set to something else since is theirs: only ours goes.
    unset = [var] if app.config.get(var) == url_of(service) else []
    try:
        _release(app, {}, unset, user, log)
    except PaasError:
        ServiceLink.objects.get_or_create(service=service, app=app)
        raise


def _release(app: App, changes: dict[str, str], unset: list[str], user, log: Log) -> None:
    """The config change as a new release; without one (nothing changed), the current release
    deployed again, so that its containers join or leave the service's network."""
    app.refresh_from_db(fields=["config"])
    if set_config(app, changes, unset, user=user, log=log) is None:
        release = app.current_release
        if release is not None:
            deploy_release(release, log)


@dataclass(frozen=True)
class ServiceInfo:
    name: str
    kind: str
    owner: str
    status: str
    status_message: str
    container: str  # the engine's state: running, restarting, exited, missing
    host: str
    url_var: str
    url: str
    volume: str
    image: str
    links: list[str]
    created_at: datetime


def service_info(service: Service) -> ServiceInfo:
    """What ``paas <kind>:info`` shows, the container's state read now (``unknown`` if the
    engine cannot be reached)."""
    try:
        state = platform().services.backing_service_state(service.name)
        container = state.state if state is not None else "missing"
    except PlatformError as error:
        logger.warning("state of service %s not read: %s", service.name, error)
        container = "unknown"
    return ServiceInfo(
        name=service.name, kind=service.kind, owner=service.owner.get_username(),
        status=service.status, status_message=service.status_message, container=container,
        host=service_host(service.kind, service.name), url_var=url_var(service),
        url=url_of(service), volume=service.volume_name, image=service.image,
        links=list(service.links.order_by("app__name").values_list("app__name", flat=True)),
        created_at=service.created_at)


def can_administer_service(service: Service, user) -> bool:
    return bool(user.is_superuser or service.owner_id == user.pk)


def destroy_service(service: Service, user, force: bool = False, log: Log = ignore) -> None:
    """Remove ``service``'s container, network and volume (its data is deleted) and record.

    Raises Forbidden unless ``user`` owns it (or is a superuser), UserError(service_linked)
    while apps are linked unless ``force`` (then each is unlinked first, a new release each),
    and what unlinking raises.
    """
    if not can_administer_service(service, user):
        raise Forbidden(f"only the owner of {service.name} may destroy it")
    linked = list(service.links.select_related("app"))
    if linked and not force:
        names = ", ".join(link.app.name for link in linked)
        raise UserError(f"{service.name} is linked to {names}: unlink first, or destroy "
                        "with --force", code="service_linked")
    for link in linked:
        log(f"-----> Unlinking {link.app.name}")
        unlink_service(service, link.app, user, log)
    _remove(service, delete_data=True)


def _remove(service: Service, delete_data: bool) -> None:
    platform().services.remove_backing_service(service.name,
                                       service.volume_name if delete_data else None)
    service.delete()


def restart_service(service: Service) -> None:
    """Restart ``service``'s container (its data stays). Raises PlatformError."""
    platform().services.restart_backing_service(service.name)


def open_console(service: Service, term: Terminal, user=None) -> TtySession:
    """``psql`` / ``redis-cli`` in ``service``'s container on a pseudo-terminal, signed in
    with its password (in the client's environment, not its command line); the caller relays
    the session and closes it. The caller has found the service for ``user``
    (``get_service``: owner or superuser). Raises PlatformError(service_missing) if its
    container is not running."""
    argv, env = console_command(service.kind, service.name, service.password)
    logger.info("%s console of %s by %s", service.kind, service.name,
                getattr(user, "username", None) or "system")
    return platform().services.open_backing_service_tty(service.name, argv, env, term)


# --- keeping them running ----------------------------------------------------------------------

STATUSES = {"running": Service.Status.RUNNING, "restarting": Service.Status.RESTARTING}


def record_service_state(service: Service, state: BackingServiceState | None,
                         message: str = "") -> None:
    """Record what the engine says ``service``'s container is doing (None: it has none)."""
    if state is None:
        status = Service.Status.FAILED
    else:
        status = STATUSES.get(state.state, Service.Status.STOPPED)
    service.status, service.status_message = status, message
    Service.objects.filter(pk=service.pk).update(status=status, status_message=message)


def reconcile_services() -> None:
    """Start every recorded service whose container stopped or went missing, record what
    each is doing, and remove the containers and networks of services paas does not know.

    A service still being created is left to its creator. Never raises: a service that cannot
    be started is recorded as failed with the reason, and tried again next time.
    """
    runner = platform().services
    services = list(Service.objects.exclude(status=Service.Status.CREATING))
    try:
        runner.remove_orphan_backing_services(
            set(Service.objects.values_list("name", flat=True)))
    except PaasError as error:
        logger.warning("orphan services not checked: %s", error)
    for service in services:
        # Destroyed since the list was read: starting it again would make its container
        # (and an empty volume) anew behind the destroy's back.
        if not Service.objects.filter(pk=service.pk).exists():
            continue
        try:
            state = runner.ensure_backing_service(service_spec(service))
        except PaasError as error:
            logger.warning("service %s not started: %s", service.name, error)
            record_service_state(service, None, str(error))
            continue
        record_service_state(service, state)
