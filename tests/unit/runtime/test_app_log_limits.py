"""Saved app logs stay bounded: each file keeps its newest lines, old releases' logs go."""

import pytest
from django.test import override_settings

from paas.core.applogs import prune_release_logs
from paas.core.models import App, Release
from paas.runtime.docker_containers import keep_newest_lines
from paas.runtime.scheduler import Instance


def test_a_log_file_past_its_cap_keeps_only_its_newest_whole_lines(tmp_path):
    path = tmp_path / "web.1.log"
    lines = [f"2024-01-01T00:00:{n:02d}.000000000Z line {n}\n".encode() for n in range(50)]
    path.write_bytes(b"".join(lines))

    keep_newest_lines(path, max_bytes=200)

    kept = path.read_bytes()
    assert len(kept) <= 200
    assert kept.endswith(lines[-1])
    assert kept.splitlines(keepends=True) == lines[-len(kept.splitlines()):]


def test_a_log_file_under_its_cap_is_left_alone(tmp_path):
    path = tmp_path / "web.1.log"
    path.write_bytes(b"2024-01-01T00:00:00.000000000Z hello\n")

    keep_newest_lines(path, max_bytes=1000)

    assert path.read_bytes() == b"2024-01-01T00:00:00.000000000Z hello\n"


@pytest.mark.django_db
@override_settings(PAAS_KEEP_RELEASES=2)
def test_deploys_remove_the_logs_of_releases_beyond_the_kept_ones(platform, users):
    app = App.objects.create(name="shop", owner=users.owner)
    logs = platform.scheduler.saved_logs / "shop"
    for number in range(1, 6):
        (logs / f"v{number}").mkdir(parents=True)
        (logs / f"v{number}" / "web.1.log").write_text("x\n")
        platform.deploy(app, f"sha256:{number}")

    # v5 is current; v4 and v3 are the newest two others.
    assert sorted(path.name for path in logs.iterdir()) == ["v3", "v4", "v5"]
    assert Release.objects.get(app=app, status="current").number == 5


@pytest.mark.django_db
def test_the_logs_of_a_release_that_still_runs_are_kept(platform, users):
    app = App.objects.create(name="shop", owner=users.owner)
    platform.deploy(app, "sha256:1")
    platform.deploy(app, "sha256:2")
    logs = platform.scheduler.saved_logs / "shop"
    for number in (1, 2):
        (logs / f"v{number}").mkdir(parents=True)
    platform.scheduler.containers["shop"].append(Instance("shop", 1, "worker", 1, "running"))

    assert prune_release_logs(app, keep=0) == []
    assert sorted(path.name for path in logs.iterdir()) == ["v1", "v2"]
