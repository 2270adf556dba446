"""A restarted web container may get a new address: the cheap route check notices and
re-routes."""

from types import SimpleNamespace

import pytest

from paas.core import reconcile
from paas.core.models import App, Release
from paas.router.nginx import AppRoute, Router
from paas.runtime.docker_engine import DockerEngine
from paas.runtime.docker_networks import app_network_name
from paas.runtime.docker_scheduler import DockerScheduler

pytestmark = pytest.mark.django_db


class FakeContainers:
    """The SDK's ``client.containers`` for sparse listings: ``attrs`` as /containers/json."""

    def __init__(self, listed: list[dict]) -> None:
        self.listed = listed
        self.filters: list[dict] = []

    def list(self, all=False, sparse=False, filters=None):  # noqa: A002 - the SDK's name
        assert sparse, "the route check must not inspect every container"
        self.filters.append(filters)
        return [SimpleNamespace(attrs=attrs, id=attrs["Id"]) for attrs in self.listed]


def web(app: str, release: int, address: str, **labels) -> dict:
    """A listed web container with ``address`` on its app's network (and another address on
    a linked app's network, which the router must not use)."""
    return {"Id": f"{app}-{release}-{address}", "State": "running",
            "Labels": {"paas.home": "/srv/paas", "paas.app": app, "paas.release": str(release),
                       "paas.process": "web", "paas.instance": "1", **labels},
            "Ports": [{"IP": "127.0.0.1", "PrivatePort": 5000, "PublicPort": 32768,
                       "Type": "tcp"}],
            "NetworkSettings": {"Networks": {
                app_network_name("/srv/paas", app): {"IPAddress": address},
                app_network_name("/srv/paas", "linked"): {"IPAddress": "10.9.9.9"}}}}


def test_the_engine_lists_running_web_addresses_by_app_and_release():
    engine = DockerEngine(home="/srv/paas")
    containers = FakeContainers([web("shop", 3, "10.1.0.3"), web("shop", 3, "10.1.0.2"),
                                 web("blog", 1, "10.1.1.2"),
                                 {**web("shop", 3, "10.1.0.9"), "NetworkSettings": {}}])
    engine._client = SimpleNamespace(containers=containers)

    upstreams = engine.web_upstreams()

    assert upstreams == {("shop", 3): ["10.1.0.2:5000", "10.1.0.3:5000"],
                         ("blog", 1): ["10.1.1.2:5000"]}
    (filters,) = containers.filters
    assert filters["status"] == "running"
    assert set(filters["label"]) == {"paas.home=/srv/paas", "paas.process=web"}


def test_the_router_reports_the_upstreams_it_sends_an_app_to(tmp_path):
    router = Router(nginx_dir=tmp_path / "nginx", log_dir=tmp_path / "logs",
                    run_dir=tmp_path / "run", port=18999)
    router.write_main_config()
    router.set_route(AppRoute("shop", ("shop.localhost",), ("10.1.0.3:5000", "10.1.0.2:5000")))
    router.set_route(AppRoute("idle", ("idle.localhost",), ()))

    assert router.routed_upstreams("shop") == ("10.1.0.2:5000", "10.1.0.3:5000")
    assert router.routed_upstreams("idle") == ()
    assert router.routed_upstreams("unknown") is None


@pytest.fixture
def apps(users):
    for name, number in (("shop", 3), ("blog", 1), ("idle", 2)):
        app = App.objects.create(name=name, owner=users.owner)
        Release.objects.create(app=app, number=number, image=f"paas/{name}:v{number}",
                               image_id="sha256:x", status=Release.Status.CURRENT)
    # An older, superseded release of shop still has a container (draining).
    Release.objects.create(app=App.objects.get(name="shop"), number=2, image="paas/shop:v2",
                           image_id="sha256:x", status=Release.Status.SUPERSEDED)


def docker_scheduler(running: dict, routed: dict) -> DockerScheduler:
    """A Docker scheduler whose Docker lists ``running`` web addresses and whose router sends
    each app to ``routed`` addresses."""
    engine = SimpleNamespace(web_upstreams=lambda: running, home="/srv/paas")
    router = SimpleNamespace(routed_upstreams=routed.get)
    return DockerScheduler(engine, router, healthcheck_timeout=1,
                           drain_seconds=0)


def test_the_scheduler_names_apps_with_an_unrouted_running_address_of_the_current_release():
    running = {("shop", 3): ["10.1.0.4:5000"], ("shop", 2): ["10.1.0.2:5000"],
               ("blog", 1): ["10.1.1.2:5000"], ("idle", 2): ["10.1.2.2:5000"]}
    routed = {"shop": ("10.1.0.3:5000",), "blog": ("10.1.1.2:5000",), "idle": None}

    moved = docker_scheduler(running, routed).unrouted_apps({"shop": 3, "blog": 1, "idle": 2})

    # shop v3 came back at .4 while the router still says .3; blog is routed right;
    # idle has no route file (that is the full reconcile's business); shop v2 is not current.
    assert moved == ["shop"]


def test_only_the_apps_the_scheduler_names_are_reconciled(apps, platform, monkeypatch):
    asked = []

    def unrouted_apps(current):
        asked.append(current)
        return ["shop"]

    platform.scheduler.unrouted_apps = unrouted_apps
    reconciled = []
    monkeypatch.setattr(reconcile, "reconcile_app", lambda app: reconciled.append(app.name))

    moved = reconcile.reroute_moved_ports()

    assert asked == [{"shop": 3, "blog": 1, "idle": 2}]  # the current releases only
    assert moved == ["shop"]
    assert reconciled == ["shop"]
