"""App logs: saved logs of removed containers and live logs merge by time, with prefixes."""

import pytest

from paas.core import applogs
from paas.errors import UserError
from paas.runtime.docker_scheduler import DockerScheduler
from tests.fakes import FakeRouter
from tests.unit.runtime.fake_docker import FakeDocker


@pytest.fixture
def docker(platform, tmp_path):
    """The Docker scheduler on a fake Docker, as the platform's scheduler."""
    engine = FakeDocker(home=str(tmp_path))
    runtime = DockerScheduler(engine, FakeRouter(engine.events), healthcheck_timeout=1,
                              drain_seconds=0)
    platform.scheduler = runtime
    return engine, runtime


class FakeApp:
    name = "shop"


def test_it_merges_kept_and_live_logs_in_time_order_with_prefixes(docker):
    engine, runtime = docker
    kept = runtime.logs_dir("shop", 1)
    kept.mkdir(parents=True)
    (kept / "web.1.log").write_bytes(
        b"2026-11-30T10:00:00.000000001Z booting v1\n"
        b"2026-11-30T10:00:02.000000000Z stopping v1\n")
    engine.add("shop", 2, "web", 1, log=b"2026-11-30T10:00:01.500000000Z booting v2\n")
    engine.add("shop", 2, "worker", 1, log=b"2026-11-30T10:00:03.000000000Z tick\n")

    lines = list(applogs.app_logs(FakeApp(), tail=100))

    assert lines == ["web.1 | booting v1", "web.1 | booting v2", "web.1 | stopping v1",
                     "worker.1 | tick"]


def test_tail_keeps_the_newest_lines_and_release_filters(docker):
    engine, runtime = docker
    kept = runtime.logs_dir("shop", 1)
    kept.mkdir(parents=True)
    (kept / "web.1.log").write_bytes(b"2026-11-30T10:00:00.000000000Z old\n")
    engine.add("shop", 2, "web", 1, log=b"2026-11-30T10:00:01.000000000Z a\n"
                                         b"2026-11-30T10:00:02.000000000Z b\n")

    assert list(applogs.app_logs(FakeApp(), tail=2)) == ["web.1 | a", "web.1 | b"]
    assert list(applogs.app_logs(FakeApp(), tail=0)) == []
    assert list(applogs.app_logs(FakeApp(), release=1)) == ["web.1 | old"]


@pytest.mark.parametrize("tail", [-1, 10_001, "5", True])
def test_it_rejects_a_bad_tail(platform, tail):
    with pytest.raises(UserError):
        list(applogs.app_logs(FakeApp(), tail=tail))
