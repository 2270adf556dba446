"""Backups of backing services in paas.core: files with a record beside them, listed,
verified, restored into the same or another service of the kind, kept after a destroy; who
may see them (owner, outsider, superuser)."""

import hashlib
import json

import pytest

from paas.core import service_backups, services
from paas.errors import NotFound, PlatformError, UserError
from paas.runtime.services import SnapshotRefused


@pytest.fixture(autouse=True)
def home(settings, tmp_path):
    settings.PAAS_HOME = tmp_path / "home"
    return settings.PAAS_HOME


@pytest.fixture
def pg(users, platform):
    made = services.create_service("postgres", "db", users.owner)
    platform.services.data["db"] = b"rows: first"
    return made


def test_a_backup_is_a_file_with_its_size_and_sha256_recorded_beside_it(pg, home):
    backup = service_backups.create_backup(pg)

    assert service_backups.BACKUP_ID_RE.fullmatch(backup.id)["service"] == "db"
    assert backup.path == home / "backups" / "services" / "db" / f"{backup.id}.dump"
    content = backup.path.read_bytes()
    assert content == b"postgres:rows: first"
    record = json.loads((backup.path.with_suffix(".json")).read_text())
    assert record["sha256"] == hashlib.sha256(content).hexdigest()
    assert record["size"] == len(content)
    assert (record["service"], record["kind"], record["owner"]) == ("db", "postgres", "owner")
    assert sorted(p.name for p in backup.path.parent.iterdir()) == [
        f"{backup.id}.dump", f"{backup.id}.json"]


def test_a_redis_backup_is_an_rdb_file(users, platform):
    cache = services.create_service("redis", "cache", users.owner)

    assert service_backups.create_backup(cache).filename.endswith(".rdb")


def test_a_failed_backup_leaves_no_file(pg, platform):
    platform.services.crash("db")

    with pytest.raises(PlatformError) as failed:
        service_backups.create_backup(pg)

    assert failed.value.code == "service_not_running"
    assert list(service_backups.service_backups_dir("db").iterdir()) == []


def test_backups_are_listed_newest_first_for_the_owner_only(users, pg, django_user_model):
    first = service_backups.create_backup(pg)
    second = service_backups.create_backup(pg)
    admin = django_user_model.objects.create_superuser("admin", password="admin-pass")

    listed = service_backups.list_backups("db", users.owner)

    assert {b.id for b in listed} == {first.id, second.id}
    assert listed[0].created >= listed[1].created
    assert [b.id for b in service_backups.list_backups("db", admin)] == [b.id for b in listed]
    with pytest.raises(NotFound) as hidden:
        service_backups.list_backups("db", users.outsider)
    assert hidden.value.code == "service_not_found"
    with pytest.raises(NotFound):
        service_backups.get_backup(first.id, users.outsider)


def test_a_restore_puts_the_data_back(users, pg, platform):
    backup = service_backups.create_backup(pg)
    platform.services.data["db"] = b"rows: changed"

    service_backups.restore_backup(pg, service_backups.get_backup(backup.id, users.owner))

    assert platform.services.data["db"] == b"rows: first"
    assert platform.services.running["db"].running


def test_a_backup_of_a_destroyed_service_is_kept_and_restores_into_a_fresh_one(
        users, pg, platform):
    backup = service_backups.create_backup(pg)
    services.destroy_service(pg, users.owner)

    assert [b.id for b in service_backups.list_backups("db", users.owner)] == [backup.id]
    assert service_backups.backups_kept("db", users.owner) == 1
    fresh = services.create_service("postgres", "fresh", users.owner)
    service_backups.restore_backup(fresh, service_backups.get_backup(backup.id, users.owner))

    assert platform.services.data["fresh"] == b"rows: first"


def test_a_restore_refuses_a_backup_of_another_kind(users, pg):
    cache = services.create_service("redis", "cache", users.owner)
    backup = service_backups.create_backup(cache)

    with pytest.raises(UserError) as refused:
        service_backups.restore_backup(pg, backup)
    with pytest.raises(UserError) as wrong_kind:
        service_backups.get_backup(backup.id, users.owner, kind="postgres")

    assert refused.value.code == wrong_kind.value.code == "backup_wrong_kind"


def test_unknown_and_malformed_ids_are_refused_clearly(users, pg):
    backup = service_backups.create_backup(pg)

    with pytest.raises(NotFound) as unknown:
        service_backups.get_backup("db-20000101-000000-abcd", users.owner)
    with pytest.raises(UserError) as malformed:
        service_backups.get_backup("../../etc/passwd", users.owner)
    with pytest.raises(NotFound) as other_service:
        service_backups.get_backup(backup.id, users.owner, service="other")

    assert unknown.value.code == other_service.value.code == "backup_not_found"
    assert malformed.value.code == "invalid_backup_id"


def test_a_corrupt_file_is_refused_and_nothing_is_restored(users, pg, platform):
    backup = service_backups.create_backup(pg)
    backup.path.write_bytes(b"postgres:tampered")
    platform.services.data["db"] = b"rows: now"

    with pytest.raises(UserError) as corrupt:
        service_backups.restore_backup(pg, backup)
    with pytest.raises(UserError):
        service_backups.open_backup(backup)

    assert corrupt.value.code == "backup_corrupt"
    assert platform.services.data["db"] == b"rows: now" and platform.services.restored == []


def test_a_refused_restore_says_so_and_leaves_the_service_running(users, pg, platform,
                                                                  monkeypatch):
    backup = service_backups.create_backup(pg)

    def refusing(spec, snapshot):
        raise SnapshotRefused("pg_restore: error: bad archive")

    monkeypatch.setattr(platform.services, "restore_backing_service", refusing)

    with pytest.raises(SnapshotRefused) as refused:
        service_backups.restore_backup(pg, backup)

    assert refused.value.code == "backup_unusable"
    assert "failed, its data is as it was" in str(refused.value)
    assert "bad archive" in str(refused.value)
    assert platform.services.running["db"].running


def test_deleting_a_backup_removes_its_file_and_record(users, pg):
    backup = service_backups.create_backup(pg)

    service_backups.delete_backup(backup)

    assert not backup.path.exists()
    with pytest.raises(NotFound):
        service_backups.get_backup(backup.id, users.owner)
    assert service_backups.list_backups("db", users.owner) == []
