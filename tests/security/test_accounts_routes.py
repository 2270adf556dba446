"""Every API and dashboard route of an app answers an outsider 404 with any method, and a
collaborator may not administer the app. The routes are read from the URL configuration, so a
route added later is covered without touching this file."""

import base64

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from paas.core import actions, applications, links, service_backups, services
from paas.core.accounts import create_token
from paas.core.models import App, Build, Volume
from tests.unit.api.helpers import api_for

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")


def app_routes(namespace: str) -> list[str]:
    """The route templates under ``namespace`` (api, webui) that name an app."""
    found = []

    def walk(patterns, prefix: str, inside: bool) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern),
                     inside or pattern.namespace == namespace)
            elif isinstance(pattern, URLPattern) and inside:
                route = prefix + str(pattern.pattern)
                if "<str:name>" in route:
                    found.append(route)

    walk(get_resolver().url_patterns, "/", False)
    return found


@pytest.fixture
def shop(app, users, platform, settings):
    """The app with one of everything a route can name: build, action, domain, volume, link,
    service and its backup."""
    build = Build.objects.create(app=app, commit_sha="a" * 40, branch="main",
                                 status=Build.Status.SUCCEEDED)
    action = actions.start_config_change(app, users.owner, {"GREETING": "hi"}, [])
    applications.add_domain(app, "shop.example.com")
    Volume.objects.create(app=app, name="data", mount_path="/data")
    blog = applications.create_app("blog", users.owner)
    links.link(app, "blog", users.owner)
    # A service routes as /api/services/<name>: the owner's, named as the app, linked to it.
    service = services.create_service("postgres", "shop", users.owner)
    services.link_service(service, app, users.owner)
    backup = service_backups.create_backup(service)
    return {"name": "shop", "backup_id": backup.id, "build_id": str(build.pk),
            "action_id": action.id, "process_type": "web", "volume": "data",
            "hostname": "shop.example.com", "username": "collaborator", "target": blog.name,
            "app": "shop"}


def not_found_code(route: str) -> str:
    """The 404 an outsider gets: a backup's routes say the backup (they answer for a
    destroyed service's backups too), the other service routes the service, the rest the
    app."""
    if route.startswith("/api/services/") and "<str:backup_id>" in route:
        return "backup_not_found"
    return "service_not_found" if route.startswith("/api/services/") else "app_not_found"


def fill(route: str, values: dict) -> str:
    for key, value in values.items():
        route = route.replace(f"<str:{key}>", value).replace(f"<int:{key}>", value)
    assert "<" not in route, route
    return route


def snapshot(platform) -> tuple:
    """What an outsider's request could have changed: the app's records and the platform."""
    app = App.objects.get(name="shop")
    return (
        dict(app.config),
        sorted(app.formations.values_list("process_type", "quantity", "memory_limit",
                                          "cpu_limit")),
        sorted(app.domains.values_list("hostname", flat=True)),
        sorted(app.collaborators.values_list("username", flat=True)),
        sorted(app.releases.values_list("number", "status")),
        sorted(app.builds.values_list("pk", "status")),
        sorted(app.volumes.values_list("name", "mount_path")),
        len(platform.scheduler.converged), list(platform.scheduler.removed),
        len(platform.scheduler.commands), dict(platform.scheduler.volumes),
        dict(platform.images.images), list(platform.images.build_cache),
        sorted(platform.router.routes),
    )


def test_the_route_lists_are_not_empty():
    assert len(app_routes("api")) >= 15 and len(app_routes("webui")) >= 15


@pytest.mark.parametrize("route", app_routes("api"))
def test_it_answers_an_outsider_404_on_every_api_route(route, shop, users, platform):
    api = api_for(users.outsider)
    path = fill(route, shop)
    before = snapshot(platform)
    statuses = {}
    for method in METHODS:
        body = {} if method == "get" else {"data": "{}", "content_type": "application/json"}
        response = getattr(api.client, method)(path, HTTP_AUTHORIZATION=f"Bearer {api.token}",
                                               **body)
        statuses[method] = response.status_code
        if response.status_code == 404:
            assert response.json()["error"]["code"] == not_found_code(route), (method, path)
    assert set(statuses.values()) <= {404, 405}, statuses
    assert 404 in statuses.values(), statuses
    assert snapshot(platform) == before


@pytest.mark.parametrize("route", app_routes("webui"))
def test_it_answers_an_outsider_404_on_every_dashboard_route(route, shop, users, platform):
    client = Client()
    client.force_login(users.outsider)
    path = fill(route, shop)
    before = snapshot(platform)
    form = {"key": "GREETING", "value": "pwned", "qty-web": "5", "version": "1",
            "confirm": "shop", "hostname": "evil.example.com", "username": "outsider",
            "name": "data", "mount_path": "/x", "memory": "6m", "process_type": "web"}
    statuses = {method: getattr(client, method)(path, form if method == "post" else None)
                .status_code for method in ("get", "post")}
    assert set(statuses.values()) <= {404, 405}, statuses
    assert 404 in statuses.values(), statuses
    assert snapshot(platform) == before


def test_it_refuses_a_collaborator_the_owners_powers(shop, users, platform):
    api = api_for(users.collaborator)
    before = snapshot(platform)
    assert api.call("DELETE", "/apps/shop").status_code == 403
    assert api.call("POST", "/apps/shop/collaborators", {"username": "outsider"}).status_code \
        == 403
    assert api.call("DELETE", "/apps/shop/collaborators/collaborator").status_code == 403
    client = Client()
    client.force_login(users.collaborator)
    assert client.post("/apps/shop/destroy", {"confirm": "shop"}).status_code == 404
    client.post("/apps/shop/collaborators/add", {"username": "outsider"})
    assert snapshot(platform) == before


def _basic(user) -> dict:
    credentials = f"{user.username}:{create_token(user)}".encode()
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(credentials).decode()}


@pytest.mark.parametrize("service", ["git-upload-pack", "git-receive-pack"])
def test_it_refuses_an_outsider_git_fetch_and_push(shop, users, platform, service):
    from paas.core.applications import repo_path
    from paas.git.receiver import ensure_repository

    ensure_repository(repo_path("shop"))
    before = snapshot(platform)
    refs = Client().get("/git/shop.git/info/refs", {"service": service},
                        **_basic(users.outsider))
    assert b"ERR app 'shop' not found" in refs.content
    rpc = Client().post(f"/git/shop.git/{service}", b"0000",
                        content_type=f"application/x-{service}-request",
                        **_basic(users.outsider))
    assert rpc.status_code == 404
    assert snapshot(platform) == before
    assert not Build.objects.filter(app__name="shop", created_by=users.outsider).exists()


def test_it_refuses_another_apps_build_or_action_through_your_own_app(shop, users, platform):
    from paas.core.applications import create_app

    own = create_app("own", users.outsider)
    platform.deploy(own, image="sha256:own")
    api = api_for(users.outsider)
    before = snapshot(platform)
    for path in (f"/apps/own/builds/{shop['build_id']}", f"/apps/own/builds/{shop['build_id']}/log",
                 f"/apps/own/actions/{shop['action_id']}",
                 f"/apps/own/actions/{shop['action_id']}/log"):
        response = api.call("GET", path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] in ("build_not_found", "action_not_found")
    assert api.call("POST", f"/apps/own/builds/{shop['build_id']}/cancel").status_code == 404
    client = Client()
    client.force_login(users.outsider)
    for path in (f"/apps/own/builds/{shop['build_id']}/",
                 f"/apps/own/builds/{shop['build_id']}/stream",
                 f"/apps/own/actions/{shop['action_id']}/stream"):
        assert client.get(path).status_code == 404, path
    assert snapshot(platform) == before
