"""Releases: creating them, deploying them, and the actions that make new ones.

A release is immutable (image + config snapshot + process types). Setting config or rolling back
creates a new release and deploys it through the same path as a build.
"""

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.db.models import Max

from paas.core.errors import NotFound, PaasError, UserError
from paas.core.locks import app_lock
from paas.core.models import App, Build, Formation, Release
from paas.core.names import validate_config_key
from paas.core.platform import get_engine, get_runtime
from paas.runtime.health import HealthCheck
from paas.runtime.reconcile import DesiredApp

logger = logging.getLogger(__name__)

Log = Callable[[str], None]


def _ignore(_line: str) -> None:
    pass


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
    engine = get_engine()
    if engine.image_id(image_id) is None:
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
            default = 1 if process_type == "web" else 0
            quantity = formation_defaults.get(process_type, {}).get("quantity", default)
            Formation.objects.get_or_create(
                app=app, process_type=process_type, defaults={"quantity": int(quantity)})
    engine.tag_image(image_id, image_repository(app.name), f"v{number}")
    return release


def desired_state(release: Release) -> DesiredApp:
    """What Docker should run for ``release`` given the app's formation and domains."""
    app = release.app
    quantities = {f.process_type: f.quantity for f in app.formations.all()
                  if f.process_type in release.process_types and f.process_type != "release"}
    hostnames = (f"{app.name}.{settings.PAAS_DOMAIN}",
                 *app.domains.values_list("hostname", flat=True))
    checks = [HealthCheck.from_app_json(entry)
              for entry in (release.app_json.get("healthchecks") or {}).get("web", [])]
    return DesiredApp(
        app=app.name,
        release=release.number,
        image=release.image,
        env={str(k): str(v) for k, v in release.config_snapshot.items()},
        process_types=dict(release.process_types),
        quantities=quantities,
        hostnames=hostnames,
        healthchecks=tuple(checks),
    )


def deploy_release(release: Release, log: Log = _ignore) -> None:
    """Make ``release`` the one serving, with no downtime.

    On failure the release is marked failed, what served before keeps serving, and the error
    (UserError for a failing health check, PlatformError otherwise) is raised.
    """
    app = release.app
    lock_timeout = settings.PAAS_HEALTHCHECK_TIMEOUT + 600
    with app_lock(app.name, "deploy", timeout=lock_timeout, wait=lock_timeout,
                  on_wait=lambda: log("       waiting for another change to this app")):
        release.status = Release.Status.DEPLOYING
        release.save(update_fields=["status"])
        try:
            get_runtime().converge(desired_state(release), log)
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
    prune_images(app)


def prune_images(app: App) -> None:
    """Remove the image tags of releases beyond PAAS_KEEP_RELEASES, never the current one's.

    Docker itself refuses to remove an image a container still uses.
    """
    keep = settings.PAAS_KEEP_RELEASES
    engine = get_engine()
    old = app.releases.exclude(status=Release.Status.CURRENT).order_by("-number")[keep:]
    for release in old:
        engine.remove_image(release.image)


def set_config(app: App, changes: dict[str, str], unset: list[str], user=None,
               log: Log = _ignore) -> Release | None:
    """Set and unset config vars, make a release with the new config and deploy it.

    Returns the new release, or None if nothing changed or the app has no release yet (the
    config is then used by the first build). Raises UserError on an invalid key.
    """
    for key in [*changes, *unset]:
        validate_config_key(key)
    config = dict(app.config)
    config.update({key: str(value) for key, value in changes.items()})
    for key in unset:
        config.pop(key, None)
    if config == app.config:
        return None
    App.objects.filter(pk=app.pk).update(config=config)
    app.config = config
    current = app.current_release
    if current is None:
        return None
    parts = [f"Set {', '.join(sorted(changes))}"] if changes else []
    if unset:
        parts.append(f"Unset {', '.join(sorted(unset))}")
    release = create_release(app, current.image_id, config, current.process_types,
                             "; ".join(parts), user=user, app_json=current.app_json)
    deploy_release(release, log)
    return release


def rollback(app: App, version: int, user=None, log: Log = _ignore) -> Release:
    """Release again the image *and* config of v<version> as a new release, and deploy it.

    Raises NotFound if there is no such release, UserError(image_missing) if its image is gone.
    """
    target = app.releases.filter(number=version).first()
    if target is None:
        raise NotFound(f"{app.name} has no release v{version}", code="release_not_found")
    engine = get_engine()
    if engine.image_id(target.image) is None:
        raise UserError(
            f"cannot roll back to v{version}: its image was removed "
            f"(only the last {settings.PAAS_KEEP_RELEASES} releases keep their images)",
            code="image_missing",
        )
    App.objects.filter(pk=app.pk).update(config=target.config_snapshot)
    app.config = dict(target.config_snapshot)
    release = create_release(app, engine.image_id(target.image), target.config_snapshot,
                             target.process_types, f"Rollback to v{version}", user=user,
                             app_json=target.app_json)
    deploy_release(release, log)
    return release
