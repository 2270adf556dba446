"""Backing services in paas.core: create, link as DATABASE_URL / REDIS_URL in a new release,
unlink, destroy, reconcile, and who may do what (owner, collaborator, outsider)."""

import pytest

from paas.core import services
from paas.core.models import Service, ServiceLink
from paas.core.reconcile import reconcile_all
from paas.errors import Forbidden, NotFound, PlatformError, UserError
from paas.runtime.services import service_url


@pytest.fixture
def db_service(users, platform):
    return services.create_service("postgres", "db", users.owner)


def test_it_creates_a_running_postgres_with_a_generated_password_and_its_own_volume(
        users, platform):
    service = services.create_service("postgres", "db", users.owner)

    assert service.status == Service.Status.RUNNING
    stored = Service.objects.get(name="db")
    assert stored.kind == "postgres" and stored.owner == users.owner
    assert len(stored.password) == 48
    assert stored.volume_name == f"paas.svc.db.{stored.uid}"
    assert stored.image.startswith("paas/service-postgres:")
    spec = platform.services.specs["db"]
    assert spec.password == stored.password and spec.volume == stored.volume_name
    assert platform.services.running["db"].running


def test_two_services_get_different_passwords(users, platform):
    first = services.create_service("postgres", "one", users.owner)
    second = services.create_service("redis", "two", users.owner)

    assert first.password != second.password


def test_it_builds_the_image_once_with_the_build_ca_bundle(users, platform, settings):
    services.create_service("redis", "cache", users.owner)
    services.create_service("redis", "cache2", users.owner)

    assert len(platform.images.built) == 1
    tag, secrets = platform.images.built[0]
    assert tag.startswith("paas/service-redis:")
    assert [str(path) for path in secrets.values()] == [settings.PAAS_BUILD_CA_BUNDLE]


def test_it_rejects_a_bad_name_an_unknown_kind_and_a_taken_name(users, db_service):
    with pytest.raises(UserError) as bad_name:
        services.create_service("postgres", "Bad_Name", users.owner)
    with pytest.raises(UserError) as bad_kind:
        services.create_service("mysql", "other", users.owner)
    with pytest.raises(UserError) as taken:
        services.create_service("redis", "db", users.owner)

    assert bad_name.value.code == "invalid_app_name"
    assert bad_kind.value.code == "invalid_service_kind"
    assert taken.value.code == "service_exists"
    assert Service.objects.count() == 1


def test_a_service_that_cannot_start_leaves_nothing(users, platform):
    platform.services.fail_with = PlatformError("docker is down", code="docker_down")

    with pytest.raises(PlatformError):
        services.create_service("postgres", "db", users.owner)

    assert not Service.objects.exists()
    assert platform.services.volumes == set() and platform.services.running == {}


def test_linking_sets_database_url_in_a_new_release_and_joins_the_network(
        users, platform, app, db_service):
    before = app.current_release.number

    services.link_service(db_service, app, users.owner)

    app.refresh_from_db()
    release = app.current_release
    assert release.number == before + 1
    assert release.config_snapshot["DATABASE_URL"] == (
        f"postgres://paas:{db_service.password}@db.postgres:5432/db")
    assert release.description == "Set DATABASE_URL"
    assert platform.scheduler.converged[-1].services == ("db",)
    assert "service:db" in platform.scheduler.joined["shop"]


def test_linking_redis_sets_redis_url(users, platform, app):
    cache = services.create_service("redis", "cache", users.owner)

    services.link_service(cache, app, users.owner)

    app.refresh_from_db()
    assert app.config["REDIS_URL"] == f"redis://:{cache.password}@cache.redis:6379"


def test_a_dash_in_the_name_becomes_an_underscore_in_the_database():
    assert service_url("postgres", "shop-db", "pw") == \
        "postgres://paas:pw@shop-db.postgres:5432/shop_db"


def test_an_app_not_linked_joins_no_service_network(users, platform, app, db_service):
    other = services_app(users, platform, "other")
    services.link_service(db_service, app, users.owner)
    platform.deploy(other)

    assert platform.scheduler.converged[-1].app == "other"
    assert platform.scheduler.converged[-1].services == ()
    assert "service:db" not in platform.scheduler.joined["other"]


def services_app(users, platform, name):
    from paas.core.applications import create_app

    made = create_app(name, users.owner)
    platform.deploy(made)
    return made


def test_it_refuses_a_second_postgres_on_the_same_app(users, app, db_service):
    services.link_service(db_service, app, users.owner)
    other = services.create_service("postgres", "db2", users.owner)

    with pytest.raises(UserError) as refused:
        services.link_service(other, app, users.owner)

    assert refused.value.code == "service_var_taken"
    assert not ServiceLink.objects.filter(service=other).exists()


def test_linking_twice_is_refused(users, app, db_service):
    services.link_service(db_service, app, users.owner)

    with pytest.raises(UserError) as refused:
        services.link_service(db_service, app, users.owner)

    assert refused.value.code == "service_link_exists"


def test_a_failed_deploy_leaves_no_link(users, platform, app, db_service, monkeypatch):
    def failing_converge(desired, log=None):
        raise PlatformError("docker is down", code="docker_down")

    monkeypatch.setattr(platform.scheduler, "converge", failing_converge)

    with pytest.raises(PlatformError):
        services.link_service(db_service, app, users.owner)

    app.refresh_from_db()
    assert not ServiceLink.objects.exists()
    assert "DATABASE_URL" not in app.config


def test_linking_an_app_without_a_release_sets_the_config_for_its_first_deploy(
        users, platform, db_service):
    from paas.core.applications import create_app

    fresh = create_app("fresh", users.owner)
    services.link_service(db_service, fresh, users.owner)
    platform.deploy(fresh)

    fresh.refresh_from_db()
    assert fresh.current_release.config_snapshot["DATABASE_URL"].startswith("postgres://")
    assert platform.scheduler.converged[-1].services == ("db",)


def test_unlinking_removes_the_variable_in_a_new_release_and_leaves_the_network(
        users, platform, app, db_service):
    services.link_service(db_service, app, users.owner)
    linked = app.current_release.number

    services.unlink_service(db_service, app, users.owner)

    app.refresh_from_db()
    assert app.current_release.number == linked + 1
    assert "DATABASE_URL" not in app.current_release.config_snapshot
    assert platform.scheduler.converged[-1].services == ()
    assert not ServiceLink.objects.exists()


def test_unlinking_an_app_not_linked_is_not_found(users, app, db_service):
    with pytest.raises(NotFound) as missing:
        services.unlink_service(db_service, app, users.owner)

    assert missing.value.code == "service_link_not_found"


def test_destroy_is_refused_while_linked(users, platform, app, db_service):
    services.link_service(db_service, app, users.owner)

    with pytest.raises(UserError) as refused:
        services.destroy_service(db_service, users.owner)

    assert refused.value.code == "service_linked"
    assert Service.objects.filter(name="db").exists()
    assert platform.services.running["db"].running


def test_forced_destroy_unlinks_then_removes_container_and_data(users, platform, app,
                                                                db_service):
    services.link_service(db_service, app, users.owner)
    volume = db_service.volume_name

    services.destroy_service(db_service, users.owner, force=True)

    app.refresh_from_db()
    assert not Service.objects.exists()
    assert "DATABASE_URL" not in app.current_release.config_snapshot
    assert "db" not in platform.services.running
    assert volume not in platform.services.volumes
    assert "db" not in platform.services.networks


def test_only_the_owner_sees_and_destroys_a_service(users, db_service):
    assert services.get_service("db", users.owner) == db_service
    with pytest.raises(NotFound):
        services.get_service("db", users.collaborator)
    with pytest.raises(NotFound):
        services.get_service("db", users.outsider)
    with pytest.raises(Forbidden):
        services.destroy_service(db_service, users.outsider)


def test_the_kind_must_match_when_asked_for(users, db_service):
    with pytest.raises(NotFound):
        services.get_service("db", users.owner, kind="redis")


def test_info_shows_the_url_the_links_and_the_containers_state(users, app, db_service):
    services.link_service(db_service, app, users.owner)

    info = services.service_info(db_service)

    assert info.container == "running"
    assert info.links == ["shop"]
    assert info.url_var == "DATABASE_URL"
    assert info.host == "db.postgres"
    assert info.url == app.current_release.config_snapshot["DATABASE_URL"]


def test_reconcile_starts_a_service_whose_container_stopped(users, platform, db_service):
    platform.services.crash("db")

    reconcile_all()

    assert platform.services.started == ["db", "db"]
    assert platform.services.running["db"].running
    assert Service.objects.get(name="db").status == Service.Status.RUNNING


def test_reconcile_records_a_service_that_cannot_start(users, platform, db_service):
    platform.services.crash("db")
    platform.services.fail_with = PlatformError("no such image", code="service_start_failed")

    reconcile_all()

    stored = Service.objects.get(name="db")
    assert stored.status == Service.Status.FAILED
    assert stored.status_message == "no such image"


def test_reconcile_removes_the_container_of_a_service_paas_does_not_know(users, platform,
                                                                         db_service):
    Service.objects.filter(name="db").delete()

    reconcile_all()

    assert platform.services.running == {}


def test_destroying_an_app_removes_its_links(users, platform, app, db_service):
    from paas.core.applications import destroy_app

    services.link_service(db_service, app, users.owner)
    destroy_app(app, users.owner)

    assert services.service_info(db_service).links == []
    services.destroy_service(db_service, users.owner)
    assert not Service.objects.exists()
