"""The backing-services API: the same permission rules as apps (outsiders get 404), links
through a new release, destroy refused while linked, and the OpenAPI description."""

from django.test import Client

from paas.core.models import Service, ServiceLink
from tests.unit.api.helpers import api_for


def create(api, kind="postgres", name="db"):
    return api.call("POST", "/services", {"kind": kind, "name": name})


def test_the_owner_creates_lists_and_shows_a_service(users, platform):
    api = api_for(users.owner)

    created = create(api)

    assert created.status_code == 201, created.content
    body = created.json()
    assert body["name"] == "db" and body["kind"] == "postgres"
    assert body["status"] == "running" and body["container"] == "running"
    assert body["url"].startswith("postgres://paas:") and body["url_var"] == "DATABASE_URL"
    assert [s["name"] for s in api.call("GET", "/services").json()] == ["db"]
    assert api.call("GET", "/services?kind=redis").json() == []
    assert api.call("GET", "/services/db").json()["host"] == "db.postgres"
    assert Service.objects.get(name="db").owner == users.owner


def test_outsiders_and_collaborators_are_told_it_does_not_exist(users, platform):
    create(api_for(users.owner))

    for user in (users.outsider, users.collaborator):
        api = api_for(user)
        assert api.call("GET", "/services/db").status_code == 404
        assert api.call("DELETE", "/services/db").status_code == 404
        assert api.call("GET", "/services").json() == []
    assert Service.objects.filter(name="db").exists()


def test_a_taken_name_is_a_conflict_and_a_bad_kind_a_bad_request(users, platform):
    api = api_for(users.owner)
    create(api)

    assert create(api, "redis", "db").json()["error"]["code"] == "service_exists"
    assert create(api, "redis", "db").status_code == 409
    bad = create(api, "mysql", "other")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_service_kind"


def test_linking_sets_the_url_and_unlinking_removes_it(users, platform, app):
    api = api_for(users.owner)
    create(api)

    linked = api.call("POST", "/services/db/links", {"app": "shop"})

    assert linked.status_code == 201, linked.content
    assert linked.json()["links"] == ["shop"]
    app.refresh_from_db()
    assert app.current_release.config_snapshot["DATABASE_URL"] == linked.json()["url"]
    unlinked = api.call("DELETE", "/services/db/links/shop")
    assert unlinked.status_code == 200 and unlinked.json()["links"] == []
    app.refresh_from_db()
    assert "DATABASE_URL" not in app.current_release.config_snapshot


def test_linking_an_app_the_user_cannot_see_is_not_found(users, platform, app):
    outsider = api_for(users.outsider)
    create(outsider, name="theirs")

    answer = outsider.call("POST", "/services/theirs/links", {"app": "shop"})

    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "app_not_found"
    assert not ServiceLink.objects.exists()


def test_destroy_is_refused_while_linked_unless_forced(users, platform, app):
    api = api_for(users.owner)
    create(api)
    api.call("POST", "/services/db/links", {"app": "shop"})

    refused = api.call("DELETE", "/services/db")
    forced = api.call("DELETE", "/services/db?force=true")

    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "service_linked"
    assert forced.status_code == 200 and forced.json() == {"destroyed": "db", "backups_kept": 0}
    assert not Service.objects.exists()


def test_the_kind_in_the_query_must_match(users, platform):
    api = api_for(users.owner)
    create(api)

    assert api.call("GET", "/services/db?kind=redis").status_code == 404
    assert api.call("GET", "/services/db?kind=postgres").status_code == 200


def test_restart_restarts_the_container(users, platform):
    api = api_for(users.owner)
    create(api, "redis", "cache")

    assert api.call("POST", "/services/cache/restart").status_code == 201
    assert platform.services.started == ["cache", "cache"]


def test_the_openapi_document_describes_the_service_routes():
    document = Client().get("/api/openapi.json").json()

    assert {"/services", "/services/{name}", "/services/{name}/links",
            "/services/{name}/links/{app}", "/services/{name}/restart"} \
        <= set(document["paths"])
    assert "Service" in document["components"]["schemas"]


def test_the_app_shows_its_linked_services(users, platform, app):
    api = api_for(users.owner)
    create(api)
    api.call("POST", "/services/db/links", {"app": "shop"})

    shown = api.call("GET", "/apps/shop").json()

    assert shown["services"] == [{"name": "db", "kind": "postgres", "status": "running",
                                  "url_var": "DATABASE_URL"}]
