"""Ceilings on build steps (the cgroup BuildKit runs them in) and the firewall rule that keeps
app containers off a control plane bound beyond loopback, where the edge is pure: a cgroup
tree in a temporary directory, the rule as argv. tests/e2e/test_isolation.py applies the rule
for real; the buildpack runner's USER is checked here too."""

import subprocess
from pathlib import Path

import pytest

from paas.build.buildpack_runner import render_dockerfile
from paas.build.buildpacks import Buildpack
from paas.errors import PlatformError
from paas.hostctl import firewall
from paas.runtime.build_limits import BuildCgroup, BuildLimitCounters, limit_hit
from paas.runtime.docker_images import BuildFailed, DockerImages


def v1_tree(root: Path, memory: str = "9223372036854771712", pids: str = "max") -> BuildCgroup:
    memory_dir = root / "memory" / "docker" / "buildkit"
    pids_dir = root / "pids" / "docker" / "buildkit"
    for directory in (memory_dir, pids_dir):
        directory.mkdir(parents=True)
    (memory_dir / "memory.limit_in_bytes").write_text(memory)
    (memory_dir / "memory.memsw.limit_in_bytes").write_text(memory)
    (memory_dir / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\n"
                                                   "oom_kill 0\n")
    (pids_dir / "pids.max").write_text(pids)
    (pids_dir / "pids.events").write_text("max 0\n")
    return BuildCgroup(root=root)


def test_it_puts_memory_swap_and_pids_ceilings_on_every_build_step(tmp_path):
    cgroup = v1_tree(tmp_path)

    previous = cgroup.apply("4g", 4096)

    assert cgroup.read_limits() == {"memory": str(4 * 1024**3), "swap": str(4 * 1024**3),
                                    "pids": "4096"}
    cgroup.restore(previous)
    assert cgroup.read_limits() == {"memory": "9223372036854771712",
                                    "swap": "9223372036854771712", "pids": "max"}


def test_it_says_so_when_the_build_cgroup_cannot_be_written(tmp_path):
    cgroup = v1_tree(tmp_path)
    unwritable = BuildCgroup(root=tmp_path / "missing-file-here", path="docker/buildkit")
    (tmp_path / "missing-file-here").write_text("a file, not a cgroup tree")

    with pytest.raises(PlatformError) as refused:
        unwritable.apply("4g", 4096)

    assert refused.value.code == "build_limits_unavailable"
    assert cgroup.read_limits()["pids"] == "max"  # the real tree is untouched


def test_a_build_that_hit_a_ceiling_says_which(tmp_path):
    before = BuildLimitCounters(oom_kills=1, pids_refused=3)

    memory = limit_hit(before, BuildLimitCounters(oom_kills=2, pids_refused=3), "4g", 4096)
    pids = limit_hit(before, BuildLimitCounters(oom_kills=1, pids_refused=9), "4g", 4096)

    assert memory == ("a build step was killed at the build memory limit "
                      "(PAAS_BUILD_MEMORY=4g)")
    assert "build pids limit (PAAS_BUILD_PIDS=4096) was reached" in pids
    assert limit_hit(before, before, "4g", 4096) == ""


@pytest.mark.parametrize(("last_lines", "reason"), [
    (["#5 0.400 BlockingIOError: [Errno 11] Resource temporarily unavailable",
      "executor failed running [/bin/sh -c bomb]: exit code: 1"], "build pids limit"),
    (["#5 0.951 Killed", "executor failed running [/bin/sh -c hog]: exit code: 137"],
     "most likely at the build memory limit (PAAS_BUILD_MEMORY=256m)"),
])
def test_a_failed_build_step_that_met_a_ceiling_is_told_from_its_output(last_lines, reason):
    from paas.runtime.build_limits import limit_hit_in_output

    assert reason in limit_hit_in_output(last_lines, "256m", 128)
    assert limit_hit_in_output(["npm ERR! missing script: build", "exit code: 1"],
                               "256m", 128) == ""


def test_the_counters_come_from_the_cgroup_event_files(tmp_path):
    cgroup = v1_tree(tmp_path)
    (tmp_path / "pids" / "docker" / "buildkit" / "pids.events").write_text("max 7\n")

    assert cgroup.counters() == BuildLimitCounters(oom_kills=0, pids_refused=7)


def test_a_failed_build_at_the_pids_ceiling_fails_with_that_reason(tmp_path, monkeypatch):
    cgroup = v1_tree(tmp_path)
    events = tmp_path / "pids" / "docker" / "buildkit" / "pids.events"
    lines: list[str] = []

    def fork_bomb(argv, env, log, timeout, tail):
        events.write_text("max 1\n")
        tail.append("ERROR: process did not complete successfully: exit code: 2")
        return 2

    images = DockerImages(home=str(tmp_path), build_pids=4096, build_memory="4g")
    monkeypatch.setattr(images, "_stream_process", fork_bomb)
    monkeypatch.setattr("paas.runtime.docker_images.BuildCgroup", lambda: cgroup)

    with pytest.raises(BuildFailed) as failed:
        images.build_image(tmp_path, "paas/shop:build", lines.append, timeout=60)

    assert "build pids limit (PAAS_BUILD_PIDS=4096) was reached" in str(failed.value)
    assert any("PAAS_BUILD_PIDS" in line for line in lines)


# --- the firewall rule -----------------------------------------------------------------------


def test_the_rule_rejects_the_app_pool_on_the_control_plane_port_only(tmp_path):
    rule = firewall.control_plane_rule(tmp_path, "10.213.0.0/16", 8000)

    assert rule[:7] == ["INPUT", "-s", "10.213.0.0/16", "-p", "tcp", "--dport", "8000"]
    assert rule[-4:] == ["-j", "REJECT", "--reject-with", "tcp-reset"]
    assert firewall.rule_comment(tmp_path) in rule


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_no_rule_is_added_for_a_control_plane_on_loopback(tmp_path, monkeypatch, address):
    calls = []
    monkeypatch.setattr(firewall, "_iptables", lambda *argv: calls.append(argv))

    assert firewall.guard_control_plane(tmp_path, address, "10.213.0.0/16", 8000) is False
    assert calls == []


def test_a_failing_iptables_stops_up_with_its_message(tmp_path, monkeypatch):
    def iptables(*argv):
        return subprocess.CompletedProcess(argv, 1 if argv[0] != "-X" else 0, "",
                                           "iptables: Permission denied")

    monkeypatch.setattr(firewall, "_iptables", iptables)

    with pytest.raises(SystemExit) as stopped:
        firewall.guard_control_plane(tmp_path, "0.0.0.0", "10.213.0.0/16", 8000)

    assert "Permission denied" in str(stopped.value)


# --- buildpack images run as the stack's app user -------------------------------------------


def test_a_buildpack_image_runs_as_the_unprivileged_app_user(tmp_path):
    python = Buildpack(name="python", path=tmp_path, dependency_files=("requirements.txt",),
                       phases=True)

    dockerfile = render_dockerfile("paas/stack:bookworm", "paas-cache-0123", [python],
                                   run_detect=False, app="shop")

    users = [line for line in dockerfile.splitlines() if line.startswith("USER ")]
    assert users and users[-1] == "USER app"
    assert "USER root" not in dockerfile


# --- the dashboard shows what each container gets ---------------------------------------------


@pytest.mark.django_db
def test_the_processes_panel_shows_the_effective_limits(users, app):
    from paas.core.formation import set_limits
    from tests.unit.webui.conftest import client_for

    set_limits(app, "web", cpus=0.5)
    html = client_for(users.owner).get("/apps/shop/").content.decode()

    row = html.split('<tr data-process="web">', 1)[1].split("</tr>", 1)[0]
    assert '<td class="mono memory">512m</td>' in row
    assert '<td class="mono cpus">0.5</td>' in row
    assert '<td class="mono pids">256</td>' in row
    assert '<td class="rootfs">writable</td>' in row
    assert app.formations.get(process_type="web").memory_limit == ""  # the default, not stored
