"""Releases: creating them, deploying them, and the actions that make new ones.

A release is immutable (image + config snapshot + process types). Setting config or rolling back
creates a new release and deploys it through the same path as a build.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import transaction
from django.db.models import Max

from paas.core.applogs import prune_release_logs
from paas.core.locks import app_lock
from paas.core.models import App, AppLink, Build, Formation, Release, ServiceLink, Volume
from paas.core.platform import platform
from paas.core.tlssites import app_hostnames, tls_site
from paas.errors import NotFound, PaasError, UserError
from paas.names import validate_config_key, validate_config_size, validate_config_value
from paas.runtime.health import HealthCheck
from paas.runtime.scheduler import DesiredApp, Limits, Log, Retirement, ignore

logger = logging.getLogger(__name__)

# The Procfile type that runs once per new release, before traffic moves, instead of running
# as long-lived containers.
RELEASE_PROCESS = "release"


class ReleasePhaseFailed(UserError):
    code = "release_phase_failed"


def image_repository(app_name: str) -> str:
    return f"paas/{app_name}"


def create_release(
    app: App,
    image_id: str,
    config: dict[str, str],
    process_types: dict[str, str | None],
    description: str,
    user=None,
    build: Build | None = None,
    app_json: dict | None = None,
) -> Release:
    """Record release v<n+1> of ``app`` and tag its image ``paas/<app>:v<n+1>``.

    New process types get a formation row (quantity from app.json ``formation`` or 0; web 1).
    Raises UserError(image_missing) if ``image_id`` is not in Docker.
    """
    images = platform().images
    if images.image_id(image_id) is None:
        raise UserError(f"image {image_id} does not exist", code="image_missing")
    formation_defaults = (app_json or {}).get("formation") or {}
    with transaction.atomic():
        number = (app.releases.aggregate(last=Max("number"))["last"] or 0) + 1
        release = Release.objects.create(
            app=app, number=number, image=f"{image_repository(app.name)}:v{number}",
            image_id=image_id, config_snapshot=dict(config), process_types=dict(process_types),
            description=description, created_by=user, build=build, app_json=app_json or {},
        )
        for process_type in process_types:
            if process_type == RELEASE_PROCESS:
                continue  # runs once per release, never scaled
            default = 1 if process_type == "web" else 0
            quantity = formation_defaults.get(process_type, {}).get("quantity", default)
            Formation.objects.get_or_create(
                app=app, process_type=process_type, defaults={"quantity": int(quantity)})
    images.tag_image(image_id, image_repository(app.name), f"v{number}")
    return release


def default_limits() -> Limits:
    """The limits of a container whose process type has none of its own, and of one-offs."""
    return Limits(memory=settings.PAAS_DEFAULT_MEMORY, pids=settings.PAAS_PIDS_LIMIT)


def container_limits(formation: Formation | None) -> Limits:
    """The effective limits of ``formation``'s containers: its own (``ps:resize``) over the
    defaults (PAAS_DEFAULT_MEMORY, PAAS_PIDS_LIMIT)."""
    limit = default_limits()
    if formation is not None and formation.memory_limit:
        limit["memory"] = formation.memory_limit
    if formation is not None and formation.cpu_limit:
        limit["nano_cpus"] = int(formation.cpu_limit * 1_000_000_000)
    return limit


def desired_state(release: Release) -> DesiredApp:
    """What Docker should run for ``release`` given the app's formation, domains, links and
    linked backing services."""
    app = release.app
    formations = list(app.formations.all())
    quantities = {f.process_type: f.quantity for f in formations
                  if f.process_type in release.process_types
                  and f.process_type != RELEASE_PROCESS}
    limits = {formation.process_type: container_limits(formation) for formation in formations}
    volumes = {volume.docker_name: {"bind": volume.mount_path, "mode": "rw"}
               for volume in Volume.objects.filter(app=app).select_related("app")}
    hostnames = app_hostnames(app)
    checks = [HealthCheck.from_app_json(entry)
              for entry in (release.app_json.get("healthchecks") or {}).get("web", [])]
    links = tuple(AppLink.objects.filter(app=app).order_by("target__name")
                  .values_list("target__name", flat=True))
    services = tuple(ServiceLink.objects.filter(app=app).order_by("service__name")
                     .values_list("service__name", flat=True))
    return DesiredApp(
        app=app.name,
        release=release.number,
        image=release.image,
        env={str(k): str(v) for k, v in release.config_snapshot.items()},
        process_types=dict(release.process_types),
        quantities=quantities,
        hostnames=hostnames,
        healthchecks=tuple(checks),
        limits=limits,
        default_limits=default_limits(),
        volumes=volumes,
        links=links,
        services=services,
        read_only_rootfs=settings.PAAS_READ_ONLY_ROOTFS,
        tls=tls_site(app),
    )


def run_release_phase(release: Release, log: Log = ignore) -> None:
    """Run the release's ``release`` command once, if it has one.

    Raises ReleasePhaseFailed (a UserError) with the command's exit code when it fails or runs
    past PAAS_RELEASE_TIMEOUT.
    """
    command = release.process_types.get(RELEASE_PROCESS)
    if not command:
        return
    log(f"-----> Running release command: {command}")
    result = platform().scheduler.run_oneoff(desired_state(release), command, kind=RELEASE_PROCESS,
                                      timeout=settings.PAAS_RELEASE_TIMEOUT,
                                      log=lambda line: log(f"       {line}"))
    if result.timed_out:
        raise ReleasePhaseFailed(
            f"the release command ran longer than {settings.PAAS_RELEASE_TIMEOUT} seconds "
            "(PAAS_RELEASE_TIMEOUT)")
    if result.exit_code != 0:
        raise ReleasePhaseFailed(f"the release command failed with exit code {result.exit_code}")


@contextmanager
def deploying(release: Release, log: Log = ignore) -> Iterator[Release]:
    """Make ``release`` the one serving, with no downtime; the block runs once it serves.

    A new release first runs its ``release`` command (see ``run_release_phase``), then
    converges; on failure it is marked failed, what served before keeps serving, and the
    error is raised from the ``with`` statement before the block runs: UserError for a
    failing release command or health check, PlatformError otherwise. The current release
    (scale, limits, volumes) is converged again and stays current whatever happens.

    The block runs as soon as the router serves ``release`` and it is marked current (a push
    returns there). When the block ends, however it ends, the old containers are drained and
    removed, still under the app's deploy lock; nothing that goes wrong while they drain
    fails the deploy: it is logged, and the next reconcile removes what is left.
    """
    app = release.app
    # Another change may hold the lock for as long as a deploy may take.
    wait = settings.PAAS_HEALTHCHECK_TIMEOUT + settings.PAAS_RELEASE_TIMEOUT + 600
    with app_lock(app.name, "deploy", wait=wait,
                  on_wait=lambda: log("       waiting for another change to this app")):
        retirement = _converge(release, log)
        try:
            yield release
        finally:
            retirement.run(log)
    prune_images(app)
    prune_release_logs(app, settings.PAAS_KEEP_RELEASES)


def deploy_release(release: Release, log: Log = ignore) -> Release:
    """Deploy ``release`` (see ``deploying``) and return it once its old containers are gone."""
    with deploying(release, log):
        pass
    return release


def _converge(release: Release, log: Log) -> Retirement:
    """Converge ``release`` and record it current; return the retirement of what it replaced."""
    app = release.app
    scheduler = platform().scheduler
    release.refresh_from_db(fields=["status"])
    if release.status == Release.Status.CURRENT:
        # Never flip the serving release out of "current", not even for a moment:
        # reconcile and the router read it to know what must be served.
        retirement = scheduler.converge(desired_state(release), log)
        App.objects.filter(pk=app.pk).update(crashed_at=None, crash_reason="")
        return retirement
    # A release runs its release command once, when it first deploys.
    first_deploy = release.status == Release.Status.PENDING
    release.status = Release.Status.DEPLOYING
    release.save(update_fields=["status"])
    try:
        if first_deploy:
            run_release_phase(release, log)
        retirement = scheduler.converge(desired_state(release), log)
    except PaasError as error:
        release.status = Release.Status.FAILED
        release.failure_reason = str(error)
        release.save(update_fields=["status", "failure_reason"])
        raise
    with transaction.atomic():
        app.releases.filter(status=Release.Status.CURRENT).exclude(pk=release.pk).update(
            status=Release.Status.SUPERSEDED)
        release.status = Release.Status.CURRENT
        release.save(update_fields=["status"])
        App.objects.filter(pk=app.pk).update(crashed_at=None, crash_reason="")
    return retirement


def prune_images(app: App) -> None:
    """Remove the image tags of releases beyond the newest PAAS_KEEP_RELEASES.

    Never the current release's, nor one a container still runs (its containers, or a
    rollback in flight, may use it): Docker refuses to remove an image in use, and a tag
    shared with a kept release (config releases reuse the image) only loses that tag.
    """
    keep = settings.PAAS_KEEP_RELEASES
    in_use = {f"{image_repository(app.name)}:v{instance.release}"
              for instance in platform().scheduler.instances(app.name)}
    old = app.releases.exclude(status=Release.Status.CURRENT).order_by("-number")[keep:]
    for release in old:
        if release.image in in_use:
            continue
        platform().images.remove_image(release.image)


def set_config(app: App, changes: dict[str, str], unset: list[str], user=None,
               log: Log = ignore) -> Release | None:
    """Set and unset config vars, make a release with the new config and deploy it.

    Returns the new release, or None if nothing changed or the app has no release yet (the
    config is then used by the first build). Values are stored and passed to containers
    verbatim, as environment variables. Raises what ``check_config_change`` raises, before
    anything changes; if the deploy fails (UserError or PlatformError, re-raised) the app's
    config is restored, so a failed change leaves nothing changed.
    """
    config = check_config_change(app, changes, unset)
    previous = dict(app.config)
    if config == previous:
        return None
    current = app.current_release
    if current is None:
        _store_config(app, config)  # the first build's release will snapshot it
        return None
    return _release_config(app, config, current.image_id, current,
                           describe_config_change(changes, unset), user, log)


def check_config_change(app: App, changes: dict[str, str], unset: list[str]
                        ) -> dict[str, str]:
    """The app's config once ``changes`` are set and ``unset`` removed.

    Values are kept verbatim (see ``paas.names.validate_config_value``: text, no NUL,
    newlines allowed, size-capped). Raises UserError(invalid_config_key),
    UserError(invalid_config_value) or UserError(config_too_large).
    """
    for key in [*changes, *unset]:
        validate_config_key(key)
    for key, value in changes.items():
        validate_config_value(key, value)
    config = dict(app.config)
    config.update(changes)
    for key in unset:
        config.pop(key, None)
    validate_config_size(config)
    return config


def describe_config_change(changes: dict[str, str], unset: list[str]) -> str:
    """What a config change does, in a release's words: "Set A, B; Unset C"."""
    parts = [f"Set {', '.join(sorted(changes))}"] if changes else []
    if unset:
        parts.append(f"Unset {', '.join(sorted(unset))}")
    return "; ".join(parts)


def rollback(app: App, version: int, user=None, log: Log = ignore) -> Release:
    """Release again the image *and* config of v<version> as a new release, and deploy it.

    Raises NotFound if there is no such release, UserError(image_missing) if its image is gone.
    """
    target = app.releases.filter(number=version).first()
    if target is None:
        raise NotFound(f"{app.name} has no release v{version}", code="release_not_found")
    images = platform().images
    # By id, not tag: config releases share one image, so v<version>'s tag may have been
    # pruned while the image lives on under a newer release's tag.
    image_id = images.image_id(target.image_id) or images.image_id(target.image)
    if image_id is None:
        raise UserError(
            f"cannot roll back to v{version}: its image was removed "
            f"(only the last {settings.PAAS_KEEP_RELEASES} releases keep their images)",
            code="image_missing",
        )
    return _release_config(app, dict(target.config_snapshot), image_id, target,
                           f"Rollback to v{version}", user, log)


def _store_config(app: App, config: dict[str, str]) -> None:
    App.objects.filter(pk=app.pk).update(config=config)
    app.config = config


def _release_config(app: App, config: dict[str, str], image_id: str, source: Release,
                    description: str, user, log: Log) -> Release:
    """Deploy a new release of ``image_id`` with ``config`` and ``source``'s process types;
    ``config`` becomes the app's once that release serves, so a failed deploy, or one whose
    worker died, leaves the app's config as it was."""
    release = create_release(app, image_id, config, source.process_types, description,
                             user=user, app_json=source.app_json)
    with deploying(release, log):
        _store_config(app, config)
    return release
