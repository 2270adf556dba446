"""DockerScheduler.converge: the order that keeps an app serving, with a fake Docker."""

import pytest

from paas.errors import PlatformError
from paas.runtime import docker_scheduler, scheduler
from paas.runtime.docker_scheduler import DockerScheduler
from paas.runtime.health import HealthCheckFailed
from paas.runtime.scheduler import DesiredApp
from tests.fakes import FakeRouter
from tests.unit.runtime.fake_docker import FakeDocker


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    monkeypatch.setattr(scheduler, "ROUTER_SETTLE_SECONDS", 0)


@pytest.fixture
def healthy(monkeypatch):
    calls = []

    def fake_wait(address, checks, is_running, deadline_seconds, log):
        calls.append(address)

    monkeypatch.setattr(docker_scheduler, "wait_until_healthy", fake_wait)
    return calls


def desired(release=2, web=1, worker=0, **overrides) -> DesiredApp:
    values = dict(app="shop", release=release, image=f"paas/shop:v{release}",
                  env={"GREETING": "hi"}, process_types={"web": None, "worker": "run-worker",
                                                         "release": "migrate"},
                  quantities={"web": web, "worker": worker}, hostnames=("shop.localhost",))
    values.update(overrides)
    return DesiredApp(**values)


def make_runtime() -> tuple[DockerScheduler, FakeDocker, FakeRouter]:
    engine = FakeDocker()
    router = FakeRouter(engine.events)
    return (DockerScheduler(engine, router, healthcheck_timeout=5,
                            drain_seconds=7), engine, router)


def running_names(engine: FakeDocker) -> list[str]:
    return sorted(engine.containers)


def test_it_switches_the_router_before_draining_the_old_release(healthy):
    runtime, engine, router = make_runtime()
    old = engine.add("shop", 1, "web", 1)

    retirement = runtime.converge(desired())

    new_address = engine.containers["paas.shop.web.1.v2"].upstream
    assert retirement.upstreams == [new_address]
    assert engine.events == [("start", "paas.shop.web.1.v2"), ("route", (new_address,))]
    assert old.name in engine.containers  # still draining-to-be: the caller retires it

    assert retirement.run() == []

    assert engine.events[-1] == ("stop", old.name, 7)
    assert healthy == [new_address]
    assert running_names(engine) == ["paas.shop.web.1.v2"]
    assert engine.saved_logs[old.name].parts[-2:] == ("shop", "v1")


def test_it_gives_only_web_a_port_and_never_runs_the_release_type(healthy):
    runtime, engine, router = make_runtime()

    runtime.converge(desired(web=1, worker=2))

    specs = {name: c.spec for name, c in engine.containers.items()}
    assert sorted(specs) == ["paas.shop.web.1.v2", "paas.shop.worker.1.v2",
                             "paas.shop.worker.2.v2"]
    assert specs["paas.shop.web.1.v2"].publish is True
    assert specs["paas.shop.worker.1.v2"].publish is False
    assert specs["paas.shop.worker.2.v2"].env["DYNO"] == "worker.2"
    assert specs["paas.shop.worker.1.v2"].command == "run-worker"
    assert healthy == [engine.containers["paas.shop.web.1.v2"].upstream]  # workers: no HTTP check


def test_a_failing_health_check_removes_the_new_containers_and_keeps_the_route(monkeypatch):
    runtime, engine, router = make_runtime()
    old = engine.add("shop", 1, "web", 1)

    def failing(address, checks, is_running, deadline_seconds, log):
        raise HealthCheckFailed("health check 'x' failed after 3 attempts: HTTP 500")

    monkeypatch.setattr(docker_scheduler, "wait_until_healthy", failing)
    lines = []
    with pytest.raises(HealthCheckFailed):
        runtime.converge(desired(), lines.append)

    assert running_names(engine) == [old.name]
    assert router.routes == {}
    assert ("stop", "paas.shop.web.1.v2", 0) in engine.events
    assert "       removing web.1" in lines


def test_scaling_down_drains_only_the_surplus_after_the_router_drops_it(healthy):
    runtime, engine, router = make_runtime()
    for number in (1, 2, 3):
        engine.add("shop", 2, "web", number,
                   spec_hash=runtime._spec(desired(web=3), "web", number).spec_hash)

    runtime.converge(desired(web=1)).run()

    kept_address = engine.containers["paas.shop.web.1.v2"].upstream
    assert engine.events[0] == ("route", (kept_address,))
    assert sorted(engine.events[1:]) == [("stop", "paas.shop.web.2.v2", 7),
                                         ("stop", "paas.shop.web.3.v2", 7)]


def test_scaling_up_routes_to_every_healthy_instance(healthy):
    runtime, engine, router = make_runtime()
    engine.add("shop", 2, "web", 1, spec_hash=runtime._spec(desired(), "web", 1).spec_hash)

    upstreams = runtime.converge(desired(web=3)).upstreams

    assert len(upstreams) == 3
    assert router.routes["shop"].upstreams == tuple(upstreams)
    assert not [event for event in engine.events if event[0] == "stop"]


def test_new_limits_replace_a_running_instance_side_by_side(healthy):
    runtime, engine, router = make_runtime()
    before = desired()
    engine.add("shop", 2, "web", 1, spec_hash=runtime._spec(before, "web", 1).spec_hash)

    runtime.converge(desired(limits={"web": {"memory": "256m"}})).run()

    (name,) = engine.containers
    assert name.startswith("paas.shop.web.1.v2.")  # beside the old one, then the old goes
    assert engine.containers[name].spec.mem_limit == "256m"
    assert engine.events[-1] == ("stop", "paas.shop.web.1.v2", 7)


def test_dead_containers_are_cleared_first_and_replaced(healthy):
    runtime, engine, router = make_runtime()
    spec_hash = runtime._spec(desired(), "web", 1).spec_hash
    engine.add("shop", 2, "web", 1, spec_hash=spec_hash, status="exited", exit_code=137)

    runtime.converge(desired())

    assert engine.events[0] == ("stop", "paas.shop.web.1.v2", 0)
    assert engine.events[1] == ("start", "paas.shop.web.1.v2")
    assert engine.containers["paas.shop.web.1.v2"].status == "running"


def test_a_converged_app_is_left_alone(healthy):
    runtime, engine, router = make_runtime()
    engine.add("shop", 2, "web", 1, spec_hash=runtime._spec(desired(), "web", 1).spec_hash)

    retirement = runtime.converge(desired())

    assert retirement.run() == []
    assert [event[0] for event in engine.events] == ["route"]
    assert retirement.upstreams == [engine.containers["paas.shop.web.1.v2"].upstream]


def test_converging_a_converged_app_reads_one_listing_and_nothing_else(healthy):
    runtime, engine, router = make_runtime()
    wanted = desired(worker=1, volumes={"paas-shop-data": {"bind": "/data", "mode": "rw"}})
    for process_type in ("web", "worker"):
        engine.add("shop", 2, process_type, 1,
                   spec_hash=runtime._spec(wanted, process_type, 1).spec_hash)

    runtime.converge(wanted)

    # Reconcile does this for every app every interval: no inspect of each container, no
    # network or volume check (running containers have theirs), no address read again.
    assert engine.listings == ["shop"]
    assert engine.refreshed == [] and engine.network_checks == 0 and engine.volumes == set()


def test_after_starting_instances_every_routed_address_is_read_again(healthy):
    runtime, engine, router = make_runtime()
    engine.add("shop", 2, "web", 1, spec_hash=runtime._spec(desired(), "web", 1).spec_hash)

    upstreams = runtime.converge(desired(web=2)).upstreams

    # Health checks took a while: Docker may have restarted web.1 at a new address meanwhile.
    assert set(engine.refreshed) == {"paas.shop.web.1.v2", "paas.shop.web.2.v2"}
    assert engine.network_checks == 1 and len(upstreams) == 2


def test_volumes_are_created_and_mounted_in_every_process(healthy):
    runtime, engine, router = make_runtime()
    volumes = {"paas-shop-data": {"bind": "/data", "mode": "rw"}}

    runtime.converge(desired(worker=1, volumes=volumes))

    assert engine.volumes == {"paas-shop-data"}
    assert all(c.spec.volumes == volumes for c in engine.containers.values())


def test_a_oneoff_gets_the_config_and_volumes_but_no_port():
    runtime, engine, router = make_runtime()
    volumes = {"paas-shop-data": {"bind": "/data", "mode": "rw"}}

    result = runtime.run_oneoff(desired(volumes=volumes), "echo hi", kind="run", timeout=5)

    assert result.exit_code == 0
    (spec,) = engine.oneoffs
    assert spec.command == "echo hi"
    assert spec.env["GREETING"] == "hi" and spec.env["PAAS_RELEASE"] == "2"
    assert "PORT" not in spec.env
    assert spec.volumes == volumes
    assert router.routes == {}


def test_an_old_container_that_cannot_be_stopped_is_reported_not_raised(healthy):
    runtime, engine, router = make_runtime()
    engine.add("shop", 1, "web", 1)
    stuck = engine.add("shop", 1, "worker", 1)
    engine.fail_stop.add(stuck.name)
    retirement = runtime.converge(desired())
    lines = []

    problems = retirement.run(lines.append)

    assert len(problems) == 1 and problems[0].startswith("could not stop worker.1 of v1")
    assert f"       {problems[0]}" in lines
    assert "paas.shop.web.1.v1" not in engine.containers  # the others still went
    assert router.routes["shop"].upstreams == (engine.containers["paas.shop.web.1.v2"].upstream,)


def test_a_start_that_fails_among_several_removes_every_new_one_and_keeps_the_route(healthy):
    runtime, engine, router = make_runtime()
    old = engine.add("shop", 1, "web", 1)
    engine.fail_start.add("paas.shop.web.2.v2")

    with pytest.raises(PlatformError):
        runtime.converge(desired(web=3))

    assert running_names(engine) == [old.name]
    assert router.routes == {}
    assert sorted(e[1] for e in engine.events if e[0] == "stop") == [
        "paas.shop.web.1.v2", "paas.shop.web.3.v2"]


def test_side_by_side_keeps_every_result_in_order_and_raises_the_first_failure_last():
    called, results = [], []

    def start(number):
        called.append(number)
        if number in (2, 4):
            raise ValueError(f"no {number}")
        return number * 10

    with pytest.raises(ValueError, match="no 2"):
        docker_scheduler.side_by_side(start, [1, 2, 3, 4, 5], results)

    assert sorted(called) == [1, 2, 3, 4, 5]
    assert results == [10, 30, 50]
