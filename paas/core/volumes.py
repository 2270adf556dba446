"""Persistent storage: named Docker volumes mounted into every container of an app.

A volume's data survives redeploys, restarts, config changes and rollbacks; containers are
replaced, the volume stays. Adding or removing a mount replaces the running containers with
zero downtime.
"""

import re

from paas.core.models import App, Volume
from paas.core.platform import platform
from paas.core.releases import deploy_release
from paas.errors import NotFound, UserError
from paas.runtime.scheduler import Log, ignore

VOLUME_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,29}$")
MOUNT_PATH_RE = re.compile(r"^(/[A-Za-z0-9._-]+)+$")
# Mounting over these would break the container itself.
RESERVED_MOUNTS = ("/bin", "/dev", "/etc", "/lib", "/proc", "/sbin", "/sys", "/usr")


def validate_mount_path(path: str) -> str:
    """Return ``path`` if it is an absolute, normalised path outside the system directories.

    Raises UserError(invalid_mount_path) otherwise.
    """
    parts = path.split("/")
    if not MOUNT_PATH_RE.fullmatch(path) or any(part in (".", "..") for part in parts) \
            or any(path == top or path.startswith(top + "/") for top in RESERVED_MOUNTS):
        raise UserError(f"invalid mount path {path!r}: use an absolute path like /data, "
                        f"not under {', '.join(RESERVED_MOUNTS)}", code="invalid_mount_path")
    return path


def check_new_volume(app: App, name: str, mount_path: str) -> None:
    """Raise UserError(invalid_volume / invalid_mount_path / volume_exists) unless ``app`` can
    mount a new volume ``name`` at ``mount_path``."""
    if not VOLUME_NAME_RE.fullmatch(name):
        raise UserError(f"invalid volume name {name!r}: use lowercase letters, digits and "
                        "dashes, starting with a letter", code="invalid_volume")
    validate_mount_path(mount_path)
    if app.volumes.filter(name=name).exists() or app.volumes.filter(mount_path=mount_path) \
            .exists():
        raise UserError(f"{app.name} already has a volume named {name!r} or mounted at "
                        f"{mount_path}", code="volume_exists")


def add_volume(app: App, name: str, mount_path: str,
               log: Log = ignore) -> Volume:
    """Mount persistent volume ``name`` at ``mount_path`` in every container of ``app``.

    Raises UserError(invalid_volume / invalid_mount_path / volume_exists) and what
    ``deploy_release`` raises (the volume row stays; the next deploy mounts it).
    """
    check_new_volume(app, name, mount_path)
    volume = Volume.objects.create(app=app, name=name, mount_path=mount_path)
    platform().scheduler.ensure_volume(volume.docker_name, app.name)
    release = app.current_release
    if release is not None:
        deploy_release(release, log)
    return volume


def remove_volume(app: App, name: str, delete_data: bool = False,
                  log: Log = ignore) -> None:
    """Unmount volume ``name`` from ``app``'s containers; with ``delete_data``, delete it too.

    Raises NotFound(volume_not_found) and what ``deploy_release`` raises.
    """
    volume = app.volumes.filter(name=name).first()
    if volume is None:
        raise NotFound(f"{app.name} has no volume {name!r}", code="volume_not_found")
    docker_name = volume.docker_name
    volume.delete()
    release = app.current_release
    if release is not None:
        deploy_release(release, log)
    if delete_data:
        platform().scheduler.remove_volume(docker_name)
