"""A restarted web container gets a new port: the cheap route check notices and re-routes."""

from types import SimpleNamespace

import pytest

from paas.core import reconcile
from paas.core.models import App, Release
from paas.router.nginx import AppRoute, Router
from paas.runtime.docker_engine import DockerEngine
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


def web(app: str, release: int, port: int, **labels) -> dict:
    return {"Id": f"{app}-{release}-{port}", "State": "running",
            "Labels": {"paas.home": "/srv/paas", "paas.app": app, "paas.release": str(release),
                       "paas.process": "web", "paas.instance": "1", **labels},
            "Ports": [{"IP": "127.0.0.1", "PrivatePort": 5000, "PublicPort": port,
                       "Type": "tcp"}]}


def test_the_engine_lists_running_web_ports_by_app_and_release():
    engine = DockerEngine(home="/srv/paas")
    containers = FakeContainers([web("shop", 3, 32790), web("shop", 3, 32788),
                                 web("blog", 1, 32800),
                                 {**web("shop", 3, 32999), "Ports": []}])
    engine._client = SimpleNamespace(containers=containers)

    ports = engine.web_ports()

    assert ports == {("shop", 3): [32788, 32790], ("blog", 1): [32800]}
    (filters,) = containers.filters
    assert filters["status"] == "running"
    assert set(filters["label"]) == {"paas.home=/srv/paas", "paas.process=web"}


def test_the_router_reports_the_ports_it_sends_an_app_to(tmp_path):
    router = Router(nginx_dir=tmp_path / "nginx", log_dir=tmp_path / "logs",
                    run_dir=tmp_path / "run", port=18999)
    router.write_main_config()
    router.set_route(AppRoute("shop", ("shop.localhost",), (32770, 32768)))
    router.set_route(AppRoute("idle", ("idle.localhost",), ()))

    assert router.routed_ports("shop") == (32768, 32770)
    assert router.routed_ports("idle") == ()
    assert router.routed_ports("unknown") is None


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
    """A Docker scheduler whose Docker lists ``running`` web ports and whose router sends
    each app to ``routed`` ports."""
    engine = SimpleNamespace(web_ports=lambda: running, home="/srv/paas")
    router = SimpleNamespace(routed_ports=routed.get)
    return DockerScheduler(engine, router, healthcheck_timeout=1,
                           drain_seconds=0)


def test_the_scheduler_names_apps_with_an_unrouted_running_port_of_the_current_release():
    running = {("shop", 3): [32790], ("shop", 2): [32700], ("blog", 1): [32800],
               ("idle", 2): [32900]}
    routed = {"shop": (32788,), "blog": (32800,), "idle": None}

    moved = docker_scheduler(running, routed).unrouted_apps({"shop": 3, "blog": 1, "idle": 2})

    # shop v3 restarted on 32790 while the router still says 32788; blog is routed right;
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
