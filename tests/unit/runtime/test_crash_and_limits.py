"""Crash-loop detection and the validation of limits and quantities."""

import pytest

from paas.core.formation import parse_cpus, parse_memory
from paas.core.reconcile import crash_report
from paas.errors import UserError
from paas.runtime.docker_scheduler import DockerScheduler
from tests.fakes import FakeRouter
from tests.unit.runtime.fake_docker import FakeDocker


def instances_of(docker: FakeDocker):
    """The shop's instances as the Docker scheduler reports them to core."""
    scheduler = DockerScheduler(docker, FakeRouter(), healthcheck_timeout=1,
                                drain_seconds=0)
    return scheduler.instances("shop")


def test_an_instance_that_used_its_restarts_and_is_down_is_a_crash_loop():
    docker = FakeDocker()
    docker.add("shop", 3, "worker", 1, status="exited", restart_count=5, exit_code=3)

    report = crash_report(instances_of(docker), release=3)

    assert report == "worker.1 crashed 6 times (last exit code 3)"


def test_a_restarting_instance_counts_too():
    docker = FakeDocker()
    docker.add("shop", 3, "web", 1, status="restarting", restart_count=3, exit_code=1)

    assert crash_report(instances_of(docker), release=3) is not None


@pytest.mark.parametrize("state", [
    {"status": "running", "restart_count": 5},     # came back and stays up
    {"status": "exited", "restart_count": 0},      # stopped by hand or by dockerd: not a loop
    {"status": "exited", "restart_count": 1},
])
def test_it_is_not_a_crash_loop(state):
    docker = FakeDocker()
    docker.add("shop", 3, "web", 1, **state)

    assert crash_report(instances_of(docker), release=3) is None


def test_old_releases_do_not_count():
    docker = FakeDocker()
    docker.add("shop", 2, "web", 1, status="exited", restart_count=5, exit_code=1)

    assert crash_report(instances_of(docker), release=3) is None


@pytest.mark.parametrize("value", ["256m", "1g", "6m", "512M", "65536k"])
def test_it_accepts_memory_limits(value):
    assert parse_memory(value) == value.lower()


@pytest.mark.parametrize("value", ["", "256", "5m", "1.5g", "-1m", "256mb", "1t", "m"])
def test_it_rejects_memory_limits(value):
    with pytest.raises(UserError) as raised:
        parse_memory(value)
    assert raised.value.code == "invalid_limit"


def test_it_accepts_cpu_limits_up_to_the_host():
    assert parse_cpus("0.5") == 0.5
    assert parse_cpus(1) == 1.0


@pytest.mark.parametrize("value", [0, "0.001", "-1", "lots", 10_000, True, None])
def test_it_rejects_cpu_limits(value):
    with pytest.raises(UserError):
        parse_cpus(value)
