"""The backing-service verbs of `paas` against a live test server."""


from paas.core.models import Service


def test_postgres_create_link_info_unlink_destroy(terminal, users, shop):
    term = terminal(users.owner)

    created = term("postgres:create", "db")
    linked = term("postgres:link", "db", "-a", "shop")
    info = term("postgres:info", "db")

    assert created.code == 0, created.err
    assert "done, link it with `paas postgres:link db -a APP`" in created.err
    assert linked.code == 0, linked.err
    assert "setting DATABASE_URL and restarting shop... done" in linked.err
    password = Service.objects.get(name="db").password
    assert f"DATABASE_URL: postgres://paas:{password}@db.postgres:5432/db" in info.out
    assert "Linked apps:  shop" in info.out
    refused = term("postgres:destroy", "db", "--confirm", "db")
    assert refused.code == 1 and "(service_linked)" in refused.err
    assert term("postgres:unlink", "db", "-a", "shop").code == 0
    destroyed = term("postgres:destroy", "db", "--confirm", "db")
    assert destroyed.code == 0, destroyed.err
    assert not Service.objects.exists()


def test_listing_shows_each_kind_and_all(terminal, users, shop):
    term = terminal(users.owner)
    term("postgres:create", "db")
    term("redis:create", "cache")
    term("redis:link", "cache", "-a", "shop")

    everything = term("services")
    only_redis = term("redis")

    assert everything.out.splitlines()[0].split() == ["NAME", "KIND", "STATUS", "LINKED",
                                                      "APPS"]
    assert [line.split()[:2] for line in everything.out.splitlines()[1:]] == [
        ["cache", "redis"], ["db", "postgres"]]
    assert only_redis.out.splitlines()[1].split() == ["cache", "redis", "running", "shop"]
    assert len(only_redis.out.splitlines()) == 2


def test_destroy_asks_for_the_name_and_force_unlinks(terminal, users, shop):
    term = terminal(users.owner)
    term("postgres:create", "db")
    term("postgres:link", "db", "-a", "shop")

    wrong = term("postgres:destroy", "db", "--force", answers=["nope"])
    forced = term("postgres:destroy", "db", "--force", answers=["db"])

    assert wrong.code == 1 and "nothing was destroyed" in wrong.err
    assert forced.code == 0, forced.err
    shop.refresh_from_db()
    assert "DATABASE_URL" not in shop.config


def test_an_outsider_cannot_see_or_link_anothers_service(terminal, users, shop):
    terminal(users.owner)("postgres:create", "db")
    outsider = terminal(users.outsider)

    info = outsider("postgres:info", "db")
    link = outsider("postgres:link", "db", "-a", "shop")

    assert info.code == 1 and "(service_not_found)" in info.err
    assert link.code == 1 and "(service_not_found)" in link.err
    assert outsider("services").out.startswith("No services.")


def test_the_kind_of_the_verb_must_be_the_services(terminal, users, shop):
    term = terminal(users.owner)
    term("redis:create", "cache")

    wrong = term("postgres:info", "cache")

    assert wrong.code == 1 and "postgres 'cache' not found" in wrong.err


def test_apps_info_shows_the_linked_services_and_their_status(terminal, users, shop):
    term = terminal(users.owner)
    term("postgres:create", "db")
    term("redis:create", "cache")
    term("postgres:link", "db", "-a", "shop")
    term("redis:link", "cache", "-a", "shop")

    info = term("apps:info", "-a", "shop")

    assert "Services:      cache (redis, running), db (postgres, running)" in info.out


def test_backup_list_download_restore_and_delete(terminal, users, shop, platform, settings,
                                                 tmp_path, monkeypatch):
    import hashlib

    settings.PAAS_HOME = tmp_path / "home"
    monkeypatch.chdir(tmp_path)
    term = terminal(users.owner)
    term("postgres:create", "db")
    platform.services.data["db"] = b"rows"

    made = term("postgres:backup", "db")
    backup_id = made.out.split()[1]
    listed = term("postgres:backups", "db")
    downloaded = term("postgres:backups:download", "db", backup_id)
    again = term("postgres:backups:download", "db", backup_id)
    platform.services.data["db"] = b"changed"
    unconfirmed = term("postgres:restore", "db", backup_id, answers=["nope"])
    restored = term("postgres:restore", "db", backup_id, "--confirm", "db")
    deleted = term("postgres:backups:delete", "db", backup_id)

    assert made.code == 0, made.err
    assert listed.out.splitlines()[0].split()[:2] == ["ID", "CREATED"]
    assert backup_id in listed.out
    content = (tmp_path / f"{backup_id}.dump").read_bytes()
    assert content == b"postgres:rows"
    assert hashlib.sha256(content).hexdigest() in downloaded.out
    assert again.code == 1 and "exists already" in again.err
    assert unconfirmed.code == 1 and "nothing was restored" in unconfirmed.err
    assert restored.code == 0, restored.err
    assert platform.services.data["db"] == b"rows" and platform.services.restored == ["db"]
    assert deleted.code == 0
    assert "No backups of db" in term("postgres:backups", "db").out
    unknown = term("postgres:restore", "db", backup_id, "--confirm", "db")
    assert unknown.code == 1 and "(backup_not_found)" in unknown.err
