"""Backups of backing services: files under ``PAAS_HOME/backups/services/<service>/``, each
with a small JSON record beside it (no database row: a backup outlives its service, and the
database is not where bulk data goes).

A backup is ``<id>.dump`` (PostgreSQL's ``pg_dump -Fc``) or ``<id>.rdb`` (a Redis snapshot),
and ``<id>.json``: id, service, kind, owner, created, size, sha256. Ids are unique across the
installation (``<service>-<UTC date>-<UTC time>-<4 hex>``), so a restore takes any backup of
the same kind its user may see: one of another service, or of a service destroyed since.
Destroying a service keeps its backups (as Heroku does); ``delete_backup`` removes one.

Who: a backup is its service owner's (recorded when it is made); they and superusers see,
download, restore and delete it; to others it does not exist.
"""

import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from django.conf import settings

from paas.core.models import Service
from paas.core.platform import platform
from paas.core.services import get_service, record_service_state, service_spec, validate_kind
from paas.errors import NotFound, PaasError, UserError
from paas.names import validate_app_name
from paas.runtime.scheduler import Log, ignore
from paas.runtime.services import SNAPSHOT_SUFFIXES

logger = logging.getLogger(__name__)

BACKUP_ID_RE = re.compile(r"(?P<service>[a-z][a-z0-9-]{0,29})-\d{8}-\d{6}-[0-9a-f]{4}")
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Backup:
    id: str
    service: str
    kind: str
    owner: str
    owner_id: int
    service_uid: str  # which service of that name: names can be taken again
    created: str  # ISO 8601, UTC
    size: int
    sha256: str

    @property
    def filename(self) -> str:
        return self.id + SNAPSHOT_SUFFIXES[self.kind]

    @property
    def path(self) -> Path:
        return service_backups_dir(self.service) / self.filename


def backups_root() -> Path:
    return settings.PAAS_HOME / "backups" / "services"


def service_backups_dir(name: str) -> Path:
    return backups_root() / name


def _record_path(backup_id: str) -> Path:
    found = BACKUP_ID_RE.fullmatch(backup_id)
    if found is None:
        raise UserError(f"{backup_id!r} is not a backup id (like db-20261202-170102-ab12)",
                        code="invalid_backup_id")
    return service_backups_dir(found["service"]) / f"{backup_id}.json"


def _may_see(backup: Backup, user) -> bool:
    return bool(user.is_superuser or backup.owner_id == user.pk)


def _read(record: Path) -> Backup | None:
    try:
        return Backup(**json.loads(record.read_text()))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as error:
        logger.warning("backup record %s unreadable: %s", record, error)
        return None


class _Hashing:
    """A file being written, with the sha256 and size of what went into it."""

    def __init__(self, out: BinaryIO) -> None:
        self.out, self.digest, self.size = out, hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.out.write(data)


def create_backup(service: Service, log: Log = ignore) -> Backup:
    """Back ``service`` up into a new file under PAAS_HOME, streamed from its container.

    The caller found it for the user (``get_service``). Raises PlatformError
    (service_not_running / service_backup_failed); a failed backup leaves no file.
    """
    now = datetime.now(UTC)
    backup_id = f"{service.name}-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
    directory = service_backups_dir(service.name)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = directory / f".{backup_id}.partial"
    log(f"-----> Backing up {service.kind} {service.name}")
    try:
        with partial.open("xb") as out:
            hashing = _Hashing(out)
            platform().services.dump_backing_service(service_spec(service), hashing)
            out.flush()
            os.fsync(out.fileno())
        backup = Backup(id=backup_id, service=service.name, kind=service.kind,
                        owner=service.owner.get_username(), owner_id=service.owner_id,
                        service_uid=service.uid, created=now.isoformat(), size=hashing.size,
                        sha256=hashing.digest.hexdigest())
        partial.replace(backup.path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    _write_record(backup)
    return backup


def _write_record(backup: Backup) -> None:
    record = _record_path(backup.id)
    partial = record.with_name(f".{record.name}.partial")
    partial.write_text(json.dumps(asdict(backup), indent=2) + "\n")
    partial.replace(record)


def list_backups(name: str, user, kind: str | None = None) -> list[Backup]:
    """The backups of service ``name`` that ``user`` may see, newest first, also when the
    service has been destroyed since. Raises UserError(invalid_app_name), and
    NotFound(service_not_found) when there is neither such a service nor such a backup."""
    validate_app_name(name)
    if kind is not None:
        validate_kind(kind)
    records = sorted(service_backups_dir(name).glob("*.json"), reverse=True)
    found = [backup for backup in map(_read, records)
             if backup is not None and _may_see(backup, user)
             and (kind is None or backup.kind == kind)]
    if not found:
        get_service(name, user, kind)  # raises when the service is unknown to them too
    return sorted(found, key=lambda backup: backup.created, reverse=True)


def get_backup(backup_id: str, user, service: str | None = None,
               kind: str | None = None) -> Backup:
    """Backup ``backup_id`` if ``user`` may see it (and it is one of ``service``, if given).

    Raises UserError(invalid_backup_id), NotFound(backup_not_found) (also for others' ones),
    UserError(backup_wrong_kind) when it is not of ``kind``.
    """
    backup = _read(_record_path(backup_id))
    if backup is None or not _may_see(backup, user) \
            or (service is not None and backup.service != service):
        where = f" of {service}" if service else ""
        raise NotFound(f"no backup {backup_id}{where}", code="backup_not_found")
    if kind is not None and backup.kind != kind:
        raise UserError(f"{backup_id} is a {backup.kind} backup, not {kind}",
                        code="backup_wrong_kind")
    return backup


def verify_backup(backup: Backup) -> None:
    """Raises UserError(backup_corrupt) unless the file is there with its size and sha256."""
    digest = hashlib.sha256()
    try:
        with backup.path.open("rb") as snapshot:
            while chunk := snapshot.read(CHUNK):
                digest.update(chunk)
            size = snapshot.tell()
    except FileNotFoundError:
        raise UserError(f"the file of backup {backup.id} is missing",
                        code="backup_corrupt") from None
    if size != backup.size or digest.hexdigest() != backup.sha256:
        raise UserError(f"backup {backup.id} is corrupt: its file does not match the size "
                        "and sha256 recorded when it was made", code="backup_corrupt")


def open_backup(backup: Backup) -> BinaryIO:
    """The backup's file, checked first, open for reading (the caller closes it). Raises
    UserError(backup_corrupt)."""
    verify_backup(backup)
    return backup.path.open("rb")


def delete_backup(backup: Backup) -> None:
    """Remove the backup's file and record."""
    backup.path.unlink(missing_ok=True)
    _record_path(backup.id).unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # only when empty: other backups of the service stay
        service_backups_dir(backup.service).rmdir()


def restore_backup(service: Service, backup: Backup, log: Log = ignore) -> None:
    """Replace ``service``'s data with ``backup`` (one of any service of its kind): its
    database dropped and restored (PostgreSQL), its dataset replaced (Redis, restarted).

    The caller found both for the user. Raises UserError(backup_wrong_kind /
    backup_corrupt), SnapshotRefused (UserError backup_unusable) and PlatformError
    (service_restore_failed). After a failure the service's data is as it was and it is
    started again if it stopped; the message says so.
    """
    if backup.kind != service.kind:
        raise UserError(f"{backup.id} is a {backup.kind} backup; {service.name} is "
                        f"{service.kind}", code="backup_wrong_kind")
    verify_backup(backup)
    runner, spec = platform().services, service_spec(service)
    record_service_state(service, runner.ensure_backing_service(spec, log))
    log(f"-----> Restoring {backup.id} into {service.kind} {service.name}")
    try:
        runner.restore_backing_service(spec, backup.path)
    except PaasError as error:
        error.message = (f"the restore of {backup.id} into {service.name} failed, its data "
                         f"is as it was: {error.message}")
        _start_again(service)
        raise
    _start_again(service)


def _start_again(service: Service) -> None:
    try:
        state = platform().services.ensure_backing_service(service_spec(service))
        record_service_state(service, state)
    except PaasError as error:
        logger.warning("service %s not started after a restore: %s", service.name, error)
        record_service_state(service, None, str(error))


def backups_kept(name: str, user) -> int:
    """How many of ``name``'s backups ``user`` may still see (a destroy keeps them)."""
    try:
        return len(list_backups(name, user))
    except NotFound:
        return 0
