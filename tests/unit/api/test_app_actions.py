"""Config, scaling, releases, rollback, builds, domains and collaborators over the API."""

import pytest
from django.conf import settings

from paas.core.applications import create_app
from paas.core.buildlog import log_path
from paas.core.models import App, Build, Domain, Release
from tests.unit.api.helpers import api_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def app(users, platform):
    app = create_app("shop", users.owner)
    app.collaborators.add(users.collaborator)
    platform.deploy(app, process_types={"web": None, "worker": "python worker.py"})
    return app


def test_collaborator_sets_config_which_makes_and_deploys_a_release(users, app, platform):
    response = api_for(users.collaborator).call(
        "PATCH", "/apps/shop/config", {"set": {"GREETING": "Howdy"}})
    assert response.status_code == 200
    assert response.json()["release"]["version"] == "v2"
    assert response.json()["release"]["description"] == "Set GREETING"
    release = Release.objects.get(app=app, number=2)
    assert release.config_snapshot == {"GREETING": "Howdy"}
    assert release.status == Release.Status.CURRENT
    assert release.created_by == users.collaborator
    assert platform.scheduler.converged[-1].env == {"GREETING": "Howdy"}


def test_it_unsets_config_and_shows_the_rest(users, app):
    api = api_for(users.owner)
    api.call("PATCH", "/apps/shop/config", {"set": {"A": "1", "B": "2"}})
    response = api.call("PATCH", "/apps/shop/config", {"unset": ["A"]})
    assert response.json()["config"] == {"B": "2"}
    assert api.call("GET", "/apps/shop/config").json() == {"B": "2"}
    assert App.objects.get(name="shop").config == {"B": "2"}


def test_it_rejects_an_invalid_config_key(users, app):
    response = api_for(users.owner).call("PATCH", "/apps/shop/config", {"set": {"1BAD": "x"}})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_config_key"
    assert app.releases.count() == 1


def test_outsider_cannot_set_config(users, app):
    response = api_for(users.outsider).call("PATCH", "/apps/shop/config", {"set": {"A": "1"}})
    assert response.status_code == 404
    assert App.objects.get(name="shop").config == {}


def test_it_scales_and_shows_the_instances(users, app, platform):
    api = api_for(users.collaborator)
    response = api.call("PATCH", "/apps/shop/formation", {"web": 2, "worker": 1})
    assert response.status_code == 200
    assert response.json()["formation"] == {"web": 2, "worker": 1}
    shown = api.call("GET", "/apps/shop/formation").json()
    assert [i["name"] for i in shown["instances"]] == ["web.1", "web.2", "worker.1"]
    assert platform.scheduler.converged[-1].quantities == {"web": 2, "worker": 1}


def test_it_refuses_to_scale_an_unknown_process_type_or_a_silly_number(users, app):
    api = api_for(users.owner)
    unknown = api.call("PATCH", "/apps/shop/formation", {"clock": 1})
    assert unknown.json()["error"]["code"] == "unknown_process_type"
    too_many = api.call("PATCH", "/apps/shop/formation", {"web": 500})
    assert too_many.json()["error"]["code"] == "invalid_quantity"
    text = api.call("PATCH", "/apps/shop/formation", {"web": "2"})
    assert text.status_code == 400
    assert app.formations.get(process_type="web").quantity == 1


def test_outsider_cannot_scale(users, app, platform):
    response = api_for(users.outsider).call("PATCH", "/apps/shop/formation", {"web": 3})
    assert response.status_code == 404
    assert app.formations.get(process_type="web").quantity == 1


def test_rollback_restores_the_old_config_as_a_new_release(users, app):
    api = api_for(users.owner)
    api.call("PATCH", "/apps/shop/config", {"set": {"GREETING": "Howdy"}})
    response = api.call("POST", "/apps/shop/rollback", {"version": "v1"})
    assert response.status_code == 201
    assert response.json()["version"] == "v3"
    assert response.json()["description"] == "Rollback to v1"
    assert App.objects.get(name="shop").config == {}
    releases = api.call("GET", "/apps/shop/releases").json()
    assert [(r["version"], r["status"]) for r in releases] == [
        ("v3", "current"), ("v2", "superseded"), ("v1", "superseded")]


def test_rollback_to_a_missing_release_is_not_found(users, app):
    response = api_for(users.collaborator).call("POST", "/apps/shop/rollback", {"version": 9})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "release_not_found"


def test_rollback_needs_a_version(users, app):
    response = api_for(users.owner).call("POST", "/apps/shop/rollback", {"version": "latest"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_outsider_cannot_roll_back(users, app):
    assert api_for(users.outsider).call(
        "POST", "/apps/shop/rollback", {"version": 1}).status_code == 404
    assert app.releases.count() == 1


def test_it_lists_builds_and_serves_a_finished_builds_log(users, app):
    build = Build.objects.create(app=app, commit_sha="a" * 40, branch="main",
                                 status=Build.Status.SUCCEEDED, created_by=users.owner)
    path = log_path(settings.PAAS_HOME, app.name, build.pk)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("-----> Building shop\n-----> Released v1\n")
    api = api_for(users.collaborator)
    builds = api.call("GET", "/apps/shop/builds").json()
    assert [(b["id"], b["status"], b["created_by"]) for b in builds] == [
        (build.pk, "succeeded", "owner")]
    log = api.call("GET", f"/apps/shop/builds/{build.pk}/log")
    assert log["Content-Type"].startswith("text/plain")
    assert b"".join(log.streaming_content).decode() == \
        "-----> Building shop\n-----> Released v1\n"
    assert api_for(users.outsider).call(
        "GET", f"/apps/shop/builds/{build.pk}/log").status_code == 404


def test_a_build_of_another_app_is_not_found(users, app):
    other = create_app("other", users.outsider)
    build = Build.objects.create(app=other, commit_sha="b" * 40, branch="main")
    response = api_for(users.owner).call("GET", f"/apps/shop/builds/{build.pk}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "build_not_found"


def test_it_adds_and_removes_a_domain_and_reroutes(users, app, platform):
    api = api_for(users.collaborator)
    added = api.call("POST", "/apps/shop/domains", {"hostname": "shop.example.com"})
    assert added.status_code == 201
    assert added.json()["hostname"] == "shop.example.com"
    assert "shop.example.com" in platform.scheduler.converged[-1].hostnames
    taken = api_for(users.outsider).call("POST", "/apps/shop/domains",
                                         {"hostname": "shop.example.com"})
    assert taken.status_code == 404
    removed = api.call("DELETE", "/apps/shop/domains/shop.example.com")
    assert removed.status_code == 200
    assert not Domain.objects.exists()


def test_a_taken_domain_is_a_conflict(users, app):
    other = create_app("other", users.owner)
    Domain.objects.create(app=other, hostname="taken.example.com")
    response = api_for(users.owner).call("POST", "/apps/shop/domains",
                                         {"hostname": "taken.example.com"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "domain_taken"


def test_owner_manages_collaborators_and_collaborators_may_not(users, app):
    owner = api_for(users.owner)
    added = owner.call("POST", "/apps/shop/collaborators", {"username": "outsider"})
    assert added.json()["collaborators"] == ["collaborator", "outsider"]
    assert api_for(users.outsider).call("GET", "/apps/shop").status_code == 200
    assert owner.call("DELETE", "/apps/shop/collaborators/outsider").status_code == 200
    assert api_for(users.outsider).call("GET", "/apps/shop").status_code == 404
    refused = api_for(users.collaborator).call("POST", "/apps/shop/collaborators",
                                               {"username": "outsider"})
    assert refused.status_code == 403
    unknown = owner.call("POST", "/apps/shop/collaborators", {"username": "nobody"})
    assert unknown.json()["error"]["code"] == "user_not_found"
