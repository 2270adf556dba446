"""Apps over the API: list, create, show, destroy; who may do what."""

import pytest

from paas.build.buildpack_runner import cache_marker
from paas.core.applications import create_app
from paas.core.builds import cache_id
from paas.core.models import App
from tests.unit.api.helpers import api_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def shared_app(users, platform):
    app = create_app("shared", users.owner)
    app.collaborators.add(users.collaborator)
    platform.deploy(app)
    return app


def test_it_creates_an_app_owned_by_the_caller(users):
    response = api_for(users.owner).call("POST", "/apps", {"name": "my-app"})
    assert response.status_code == 201
    assert response.json()["name"] == "my-app"
    assert response.json()["status"] == "stopped"
    assert App.objects.get(name="my-app").owner == users.owner


def test_it_rejects_an_invalid_app_name_with_its_code(users):
    response = api_for(users.owner).call("POST", "/apps", {"name": "Bad_Name"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_app_name"
    assert not App.objects.filter(name="Bad_Name").exists()


def test_it_reports_an_existing_name_as_a_conflict(users, shared_app):
    response = api_for(users.outsider).call("POST", "/apps", {"name": "shared"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "app_exists"


def test_owner_and_collaborator_see_the_app_in_their_list(users, shared_app):
    for user in (users.owner, users.collaborator):
        listed = api_for(user).call("GET", "/apps").json()
        assert [a["name"] for a in listed] == ["shared"]
        assert listed[0]["status"] == "running"
        assert listed[0]["current_release"] == "v1"
        assert listed[0]["formation"] == {"web": 1}


def test_outsider_sees_nothing_of_the_app(users, shared_app):
    api = api_for(users.outsider)
    assert api.call("GET", "/apps").json() == []
    for path in ("", "/config", "/releases", "/builds", "/formation", "/domains"):
        response = api.call("GET", f"/apps/shared{path}")
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "app_not_found"


def test_show_gives_the_git_remote_and_collaborators(users, shared_app):
    body = api_for(users.collaborator).call("GET", "/apps/shared").json()
    assert body["git_remote"] == "http://testserver/git/shared.git"
    assert body["collaborators"] == ["collaborator"]
    assert body["owner"] == "owner"


def test_the_apps_list_costs_the_same_queries_for_many_apps(users, django_assert_max_num_queries):
    api = api_for(users.owner)
    for number in range(3):
        create_app(f"few-{number}", users.owner)
    with django_assert_max_num_queries(8) as few:
        api.call("GET", "/apps")
    for number in range(30):
        create_app(f"many-{number}", users.owner)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(api.call("GET", "/apps").json()) == 33


def test_owner_destroys_the_app_and_its_containers(users, shared_app, platform):
    assert "paas/shared:v1" in platform.images.images
    platform.images.build_cache = [f"RUN {cache_marker(cache_id(shared_app))} pip install"]
    response = api_for(users.owner).call("DELETE", "/apps/shared")
    assert response.status_code == 200
    assert not App.objects.filter(name="shared").exists()
    assert platform.scheduler.removed == ["shared"]
    assert platform.scheduler.instances("shared") == []
    # A later app of the same name starts clean: no old release images, no old build cache.
    assert not [ref for ref in platform.images.images if ref.startswith("paas/shared:")]
    assert platform.images.build_cache == []


def test_collaborator_may_not_destroy_the_app(users, shared_app, platform):
    response = api_for(users.collaborator).call("DELETE", "/apps/shared")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert App.objects.filter(name="shared").exists()
    assert platform.scheduler.removed == []


def test_outsider_may_not_destroy_the_app(users, shared_app, platform):
    assert api_for(users.outsider).call("DELETE", "/apps/shared").status_code == 404
    assert App.objects.filter(name="shared").exists()
