"""Backing services on the docker engine: linked apps' containers join the service's network
and no other app's do; the service's container is confined, unpublished and on its own
network only."""

from types import SimpleNamespace

import docker.errors
import pytest

from paas.runtime import docker_scheduler, scheduler
from paas.runtime.docker_engine import DockerEngine
from paas.runtime.docker_networks import app_network_name, installation_id
from paas.runtime.docker_scheduler import DockerScheduler
from paas.runtime.docker_services import service_network_name
from paas.runtime.scheduler import DesiredApp
from paas.runtime.services import BackingServiceSpec
from tests.fakes import FakeRouter
from tests.unit.runtime.fake_docker import FakeDocker


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    monkeypatch.setattr(scheduler, "ROUTER_SETTLE_SECONDS", 0)
    monkeypatch.setattr(docker_scheduler, "wait_until_healthy", lambda *args: None)


def desired(app: str, services: tuple[str, ...] = ()) -> DesiredApp:
    return DesiredApp(app=app, release=1, image=f"paas/{app}:v1", env={},
                      process_types={"web": None}, quantities={"web": 1},
                      hostnames=(f"{app}.localhost",), services=services)


def test_a_linked_apps_containers_join_the_services_network_and_others_do_not():
    engine = FakeDocker()
    runtime = DockerScheduler(engine, FakeRouter(engine.events), healthcheck_timeout=5,
                              drain_seconds=0)

    runtime.converge(desired("shop", services=("db",)))
    runtime.converge(desired("blog"))

    assert engine.containers["paas.shop.web.1.v1"].spec.linked_networks == (
        "paas-fake_svc_db",)
    assert engine.containers["paas.blog.web.1.v1"].spec.linked_networks == ()
    assert "paas-fake_svc_db" in engine.networks


def test_linking_a_service_changes_the_spec_so_the_containers_are_replaced():
    engine = FakeDocker()
    runtime = DockerScheduler(engine, FakeRouter(engine.events), healthcheck_timeout=5,
                              drain_seconds=0)
    plain = runtime._spec(desired("shop"), "web", 1)
    linked = runtime._spec(desired("shop", services=("db",)), "web", 1)

    assert plain.spec_hash != linked.spec_hash


def test_no_app_network_can_be_a_services_network():
    # App networks are paas-<id>-<app>, and app names have no "_".
    home = "/srv/paas"
    assert service_network_name(home, "db") == f"paas-{installation_id(home)}_svc_db"
    assert app_network_name(home, "svc-db") != service_network_name(home, "db")


class RecordingContainers:
    def __init__(self) -> None:
        self.created: list[tuple[str, dict]] = []

    def get(self, name):
        raise docker.errors.NotFound("no such container")

    def create(self, image, **kwargs):
        self.created.append((image, kwargs))
        return SimpleNamespace(status="running", attrs={"Config": {"Labels": kwargs["labels"]}},
                               id="c0ffee", start=lambda: None, reload=lambda: None)


def test_the_service_container_is_confined_unpublished_and_on_its_network_only():
    engine = DockerEngine(home="/srv/paas")
    containers = RecordingContainers()
    volumes_made = []
    engine._client = SimpleNamespace(
        containers=containers,
        volumes=SimpleNamespace(get=lambda name: (_ for _ in ()).throw(
            docker.errors.NotFound("no volume")),
            create=lambda name, labels: volumes_made.append((name, labels))),
        api=SimpleNamespace(create_endpoint_config=lambda aliases: {"Aliases": aliases}))
    engine.ensure_network = lambda name, what, labels: name  # type: ignore[method-assign]

    state = engine.ensure_backing_service(BackingServiceSpec(
        name="db", kind="postgres", image="paas/service-postgres:abc", password="secret",
        volume="paas.svc.db.123", memory="512m", pids=256))

    assert state.running and state.name == "db" and state.kind == "postgres"
    ((image, kwargs),) = containers.created
    network = service_network_name("/srv/paas", "db")
    assert image == "paas/service-postgres:abc"
    assert kwargs["network"] == network
    assert kwargs["networking_config"] == {network: {"Aliases": ["db.postgres"]}}
    assert "ports" not in kwargs
    assert kwargs["user"] == "postgres"
    assert kwargs["cap_drop"] == ["ALL"] and kwargs["privileged"] is False
    assert kwargs["security_opt"] == ["no-new-privileges:true"]
    assert kwargs["pids_limit"] == 256 and kwargs["mem_limit"] == "512m"
    assert kwargs["volumes"] == {"paas.svc.db.123": {"bind": "/var/lib/postgresql/data",
                                                     "mode": "rw"}}
    assert kwargs["labels"] == {"paas.home": "/srv/paas", "paas.service": "db",
                                "paas.service.kind": "postgres"}
    assert kwargs["restart_policy"] == {"Name": "unless-stopped"}
    assert kwargs["environment"]["POSTGRES_PASSWORD"] == "secret"
    assert volumes_made == [("paas.svc.db.123", kwargs["labels"])]


def test_app_listings_skip_service_containers():
    engine = DockerEngine(home="/srv/paas")
    service = SimpleNamespace(status="running", attrs={"Labels": {
        "paas.home": "/srv/paas", "paas.service": "db"}}, reload=lambda: None)
    engine._client = SimpleNamespace(containers=SimpleNamespace(
        list=lambda **kwargs: [service]))

    assert engine.instances() == []
