"""The swarm scheduler against a fake Swarm: the route follows a rolling update task by task,
never routes a stopped task or nothing, and goes back to what serves when an update fails;
tasks Swarm moved by itself are noticed between deploys."""

import itertools
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from paas.router.nginx import AppRoute
from paas.runtime import swarm_scheduler
from paas.runtime.health import HealthCheckFailed
from paas.runtime.scheduler import DesiredApp
from paas.runtime.swarm_scheduler import SwarmScheduler, running_upstreams
from paas.runtime.swarm_services import ServiceSpec

NODES = {"n1": "127.0.0.1", "n2": "10.250.99.2"}


class FakeRouter:
    """The route table, and every route it was given, in order."""

    def __init__(self) -> None:
        self.routes: dict[str, AppRoute] = {}
        self.history: list[tuple[str, ...]] = []

    def routed_upstreams(self, app: str) -> tuple[str, ...] | None:
        route = self.routes.get(app)
        return route.upstreams if route else None

    def set_route(self, route: AppRoute) -> None:
        self.routes[route.app] = route
        self.history.append(route.upstreams)

    def remove_route(self, app: str) -> None:
        self.routes.pop(app, None)


@dataclass
class FakeService:
    id: str
    spec: ServiceSpec
    attrs: dict = field(default_factory=dict)
    update_from: int = 0  # the first task (index) of the update under way

    def __post_init__(self) -> None:
        self.refresh()

    def refresh(self, update_state: str = "") -> None:
        self.attrs = {"Spec": {"Labels": self.spec.labels(),
                               "Mode": {"Replicated": {"Replicas": self.spec.replicas}}},
                      "UpdateStatus": {"State": update_state} if update_state else {}}

    @property
    def name(self) -> str:
        return self.spec.name


class FakeSwarm:
    """Swarm as the scheduler sees it through DockerEngine. Each ``tasks_of`` call is one step
    of Swarm's work: a starting task becomes running (or fails, for an image whose spec
    ``failing`` names), and a rolling update replaces one slot at a time, start first, the old
    task's process stopping one step after Swarm marked it for shutdown. It fails the test if
    a process stops while the router still sends to it."""

    home = "/srv/paas"

    def __init__(self, router: FakeRouter, failing: str = "") -> None:
        self.router = router
        self.failing = failing
        self.services: dict[str, FakeService] = {}
        self.tasks: list[dict] = []
        self.ports = itertools.count(30001)
        self.ids = itertools.count(1)
        self.stopped_while_routed: list[str] = []
        self.ports_taken = 0  # how many tasks to come fail as their port is taken

    # --- what the scheduler calls ------------------------------------------------------------

    def swarm_services(self, app=None):
        return [s for s in self.services.values() if app in (None, s.spec.app)]

    def pull_reference(self, image: str) -> str:
        return image

    def overlay_network(self, app: str) -> str:
        return f"paas-{app}-swarm"

    def ensure_overlay_network(self, app: str) -> str:
        return self.overlay_network(app)

    def ensure_volume(self, name, app) -> None:
        pass

    def create_service(self, spec: ServiceSpec) -> FakeService:
        service = FakeService(f"s{next(self.ids)}", spec)
        self.services[service.id] = service
        for slot in range(1, spec.replicas + 1):
            self._start(service, slot)
        return service

    def update_service(self, service: FakeService, spec: ServiceSpec) -> None:
        rolling = service.spec.spec_hash != spec.spec_hash
        service.previous = service.spec
        service.spec = spec
        service.update_from = len(self.tasks)  # an update watches only the tasks it starts
        service.refresh("updating" if rolling else "")
        if not rolling:
            live = self._live(service)
            for slot in range(len(live) + 1, spec.replicas + 1):
                self._start(service, slot)
            for task in live[spec.replicas:]:
                task["DesiredState"] = "shutdown"

    def rollback_service(self, service: FakeService) -> None:
        pass

    def scale_service(self, service: FakeService, replicas: int) -> None:
        pass

    def remove_service(self, service_id: str) -> bool:
        return self.services.pop(service_id, None) is not None

    def service(self, service_id: str):
        return self.services.get(service_id)

    def node_addresses(self) -> dict[str, str]:
        return dict(NODES)

    def task_logs(self, task_id, follow=False, since=None):
        return iter([f"2026-12-02T10:00:00.000000000Z output of {task_id}\n".encode()])

    def tasks_of(self, service_ids: list[str]) -> list[dict]:
        self._step()
        return [dict(t) for t in self.tasks if t["ServiceID"] in service_ids]

    # --- Swarm's own work --------------------------------------------------------------------

    def _start(self, service: FakeService, slot: int) -> dict:
        task = {"ID": f"t{next(self.ids)}", "ServiceID": service.id, "Slot": slot,
                "NodeID": "n1" if slot % 2 else "n2", "DesiredState": "running",
                "Spec": {"ContainerSpec": {"Labels": service.spec.labels()}},
                "Status": {"State": "starting", "PortStatus": {"Ports": [
                    {"PublishedPort": next(self.ports), "PublishMode": "host"}]}}}
        self.tasks.append(task)
        return task

    def _live(self, service: FakeService) -> list[dict]:
        return [t for t in self.tasks
                if t["ServiceID"] == service.id and t["DesiredState"] == "running"]

    def _step(self) -> None:
        for task in self.tasks:
            if task["DesiredState"] == "shutdown" and task["Status"]["State"] == "running":
                self._stop(task)
            elif task["Status"]["State"] == "starting":
                failing = self.failing and self.failing in self._spec_of(task).image
                if self.ports_taken and not failing:
                    self.ports_taken -= 1
                    failing = True
                    task["Status"]["Err"] = ("Error starting userland proxy: listen tcp4 "
                                             "0.0.0.0:32787: bind: address already in use")
                task["Status"]["State"] = "failed" if failing else "running"
                if failing:
                    task["DesiredState"] = "shutdown"
        for service in self.services.values():
            if service.attrs["UpdateStatus"].get("State") == "updating":
                self._roll(service)

    def _roll(self, service: FakeService) -> None:
        """One step of a start-first update: start the next slot's new task; once it runs,
        mark the old one for shutdown. A failed new task rolls the whole service back."""
        wanted = service.spec.spec_hash
        ours = [t for t in self.tasks[service.update_from:] if t["ServiceID"] == service.id
                and t["Spec"]["ContainerSpec"]["Labels"]["paas.spec"] == wanted]
        if any(t["Status"]["State"] == "failed" for t in ours):
            service.spec = service.previous
            for task in ours:
                task["DesiredState"] = "shutdown"
            service.refresh("rollback_completed")
            return
        if any(t["Status"]["State"] == "starting" for t in ours):
            return
        for slot in range(1, service.spec.replicas + 1):
            old = [t for t in self._live(service) if t["Slot"] == slot and t not in ours]
            new = [t for t in ours if t["Slot"] == slot]
            if not new:
                self._start(service, slot)
                return
            if old:
                for task in old:
                    task["DesiredState"] = "shutdown"
                return
        service.refresh("completed")

    def _spec_of(self, task: dict) -> ServiceSpec:
        return self.services[task["ServiceID"]].spec

    def _stop(self, task: dict) -> None:
        port = task["Status"]["PortStatus"]["Ports"][0]["PublishedPort"]
        address = f"{NODES[task['NodeID']]}:{port}"
        routed = self.router.routed_upstreams(self._spec_of(task).app) or ()
        if address in routed:
            self.stopped_while_routed.append(address)
        task["Status"]["State"] = "shutdown"


def desired(release: int, image: str, web: int = 2) -> DesiredApp:
    return DesiredApp(app="shop", release=release, image=image, env={},
                      process_types={"web": "exec python3 web.py"}, quantities={"web": web},
                      hostnames=("shop.example",))


@pytest.fixture
def scheduler(monkeypatch, tmp_path):
    router = FakeRouter()
    # Every running task answers paas's own probe.
    monkeypatch.setattr(swarm_scheduler, "probe", lambda address, check, timeout=None: None)
    monkeypatch.setattr(swarm_scheduler, "wait_until_healthy", lambda *args, **kwargs: None)
    engine = FakeSwarm(router)
    made = SwarmScheduler.__new__(SwarmScheduler)
    made.engine, made.router, made.healthcheck_timeout = engine, router, 5
    made.drain_seconds, made.poll_seconds, made.installation = 1, 0, "abcd1234"
    made.app_logs_dir = tmp_path / "logs"
    return SimpleNamespace(scheduler=made, engine=engine, router=router)


def routed_now(router: FakeRouter) -> set[str]:
    return set(router.routed_upstreams("shop") or ())


def test_a_first_deploy_routes_every_web_task_at_its_nodes_address(scheduler):
    retirement = scheduler.scheduler.converge(desired(1, "shop:v1"))

    assert retirement.upstreams == ["10.250.99.2:30002", "127.0.0.1:30001"]
    assert routed_now(scheduler.router) == set(retirement.upstreams)


def test_a_rolling_update_moves_the_route_task_by_task_and_never_to_a_stopped_task(scheduler):
    scheduler.scheduler.converge(desired(1, "shop:v1"))
    old = routed_now(scheduler.router)
    scheduler.router.history.clear()

    retirement = scheduler.scheduler.converge(desired(2, "shop:v2"))

    assert scheduler.engine.stopped_while_routed == []
    assert all(scheduler.router.history), "the route was never empty"
    new = set(retirement.upstreams)
    assert routed_now(scheduler.router) == new and not new & old
    # On the way, old and new tasks served side by side.
    assert any(set(route) & old and set(route) & new for route in scheduler.router.history)


def test_the_output_of_the_tasks_an_update_replaced_is_kept_once(scheduler):
    scheduler.scheduler.converge(desired(1, "shop:v1"))
    old = [t["ID"] for t in scheduler.engine.tasks]
    scheduler.scheduler.converge(desired(2, "shop:v2"))
    scheduler.scheduler.converge(desired(2, "shop:v2"))  # nothing new to keep

    kept = scheduler.scheduler.saved_logs_dir("shop") / "v1"
    assert sorted(path.name for path in kept.iterdir()) == ["web.1.log", "web.2.log"]
    text = (kept / "web.1.log").read_text() + (kept / "web.2.log").read_text()
    assert sorted(line.split()[-1] for line in text.splitlines()) == sorted(old)
    assert not (scheduler.scheduler.saved_logs_dir("shop") / "v2").exists()


def test_an_update_rolled_back_because_a_port_was_taken_is_tried_again(scheduler):
    scheduler.scheduler.converge(desired(1, "shop:v1"))
    scheduler.engine.ports_taken = 1
    lines: list[str] = []

    retirement = scheduler.scheduler.converge(desired(2, "shop:v2"), lines.append)

    assert any("port was taken" in line for line in lines), lines
    assert len(retirement.upstreams) == 2
    assert scheduler.engine.stopped_while_routed == []


def test_a_failed_update_is_rolled_back_and_the_route_is_on_the_old_tasks(scheduler):
    scheduler.scheduler.converge(desired(1, "shop:v1"))
    old = routed_now(scheduler.router)
    scheduler.engine.failing = "broken"

    with pytest.raises(HealthCheckFailed):
        scheduler.scheduler.converge(desired(2, "shop:broken"))

    assert routed_now(scheduler.router) == old
    assert scheduler.engine.stopped_while_routed == []


def test_a_task_swarm_moved_by_itself_is_noticed_between_deploys(scheduler):
    scheduler.scheduler.converge(desired(1, "shop:v1"))
    assert scheduler.scheduler.unrouted_apps({"shop": 1}) == []
    # Its node was drained: Swarm starts a replacement elsewhere.
    task = next(t for t in scheduler.engine.tasks if t["NodeID"] == "n2")
    task["DesiredState"] = "shutdown"
    scheduler.engine._start(scheduler.engine.services[task["ServiceID"]], task["Slot"])

    assert scheduler.scheduler.unrouted_apps({"shop": 1}) == ["shop"]


def test_only_running_tasks_meant_to_run_on_a_known_node_are_upstreams():
    def task(state, desired_state="running", node="n1", port=30001):
        return {"NodeID": node, "DesiredState": desired_state, "Status": {
            "State": state, "PortStatus": {"Ports": [{"PublishedPort": port}]}}}

    tasks = [task("running"), task("starting", port=2), task("running", "shutdown", port=3),
             task("running", node="gone", port=4), task("running", node="n2", port=30005),
             {"NodeID": "n1", "DesiredState": "running", "Status": {"State": "running"}}]
    assert running_upstreams(tasks, NODES) == ["10.250.99.2:30005", "127.0.0.1:30001"]
