"""What runs, read from one container listing: the Docker wrapper inspects a container only
where the listing lacks what the caller needs."""

from types import SimpleNamespace

from paas.runtime.docker_containers import RunningInstance
from paas.runtime.docker_engine import DockerEngine

HOME = "/srv/paas"


def listed(app: str, number: int, state: str = "running", port: int | None = 32770) -> dict:
    """A container as ``GET /containers/json`` gives it (Docker 20.10)."""
    return {
        "Id": f"id-{app}-{number}", "Names": [f"/paas.{app}.web.{number}.v3"], "State": state,
        "Labels": {"paas.home": HOME, "paas.app": app, "paas.release": "3",
                   "paas.process": "web", "paas.instance": str(number), "paas.spec": "abc123"},
        "Ports": [{"IP": "127.0.0.1", "PrivatePort": 5000, "PublicPort": port, "Type": "tcp"}]
        if port else [],
        "NetworkSettings": {"Networks": {"paas-net": {"IPAddress": "10.213.0.2"}}},
    }


def inspected(attrs: dict) -> dict:
    """The same container as ``GET /containers/<id>/json`` gives it."""
    port = attrs["Ports"][0]["PublicPort"] if attrs["Ports"] else None
    return {
        "Id": attrs["Id"], "Name": attrs["Names"][0], "RestartCount": 4,
        "State": {"Status": attrs["State"], "ExitCode": 3},
        "Config": {"Labels": attrs["Labels"]},
        "NetworkSettings": {"Ports": {"5000/tcp": [{"HostIp": "127.0.0.1",
                                                   "HostPort": str(port)}]} if port else {}},
    }


class SdkContainer:
    """The SDK's Container: ``attrs`` from the listing until ``reload`` inspects it."""

    def __init__(self, attrs: dict, inspections: list) -> None:
        self.attrs, self.id, self.inspections = attrs, attrs["Id"], inspections

    @property
    def status(self) -> str:
        state = self.attrs["State"]
        return state["Status"] if isinstance(state, dict) else state

    def reload(self) -> None:
        self.inspections.append(self.id)
        self.attrs = inspected(self.attrs)


def engine_listing(*containers: dict) -> tuple[DockerEngine, list, list]:
    inspections: list = []
    listings: list = []

    def list_containers(all=False, sparse=False, filters=None):  # noqa: A002 - the SDK's
        listings.append({"all": all, "sparse": sparse, "filters": filters})
        return [SdkContainer(dict(attrs), inspections) for attrs in containers]

    engine = DockerEngine(home=HOME)
    engine._client = SimpleNamespace(containers=SimpleNamespace(list=list_containers))
    return engine, listings, inspections


def test_a_listed_instance_has_its_name_spec_state_and_port():
    engine, listings, inspections = engine_listing(listed("shop", 1))

    (found,) = engine.instances("shop")

    assert (found.app, found.release, found.process_type, found.instance) == ("shop", 3, "web", 1)
    assert found.name == "paas.shop.web.1.v3"
    assert found.spec_hash == "abc123"
    assert found.running and found.host_port() == 32770
    assert inspections == []
    assert listings == [{"all": True, "sparse": True,
                         "filters": {"label": [f"paas.home={HOME}", "paas.app=shop"]}}]


def test_only_the_instances_that_are_down_are_inspected_for_their_restarts():
    engine, _, inspections = engine_listing(listed("shop", 1),
                                            listed("shop", 2, state="restarting", port=None))

    up, down = engine.instances("shop")

    assert inspections == ["id-shop-2"]
    assert (up.restart_count, down.restart_count, down.exit_code) == (0, 4, 3)
    assert down.name == "paas.shop.web.2.v3" and down.host_port() is None


def test_an_inspected_instance_reads_the_same_as_a_listed_one():
    engine, _, inspections = engine_listing(listed("shop", 1, port=32999))
    (found,) = engine.instances("shop")

    refreshed = engine.refresh(found)

    assert inspections == ["id-shop-1"]
    assert refreshed.name == "paas.shop.web.1.v3" and refreshed.spec_hash == "abc123"
    assert refreshed.host_port() == 32999 and refreshed.restart_count == 4


def test_a_listing_is_read_without_a_published_port_or_labels():
    bare = SimpleNamespace(attrs={"Names": ["/x"], "State": "running", "Ports": [],
                                  "Labels": None}, status="running")
    instance = RunningInstance(bare, "shop", 1, "worker", 1)
    assert instance.host_port() is None and instance.spec_hash == "" and instance.name == "x"
