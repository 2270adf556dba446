"""Process types at run time: scale under load, one-off runs, networking, volumes, limits
and app logs, against the real stack."""

import subprocess

import pytest

from tests.e2e.runtime_support import Load, core
from tests.e2e.stack import unique_app_name


@pytest.fixture(scope="module")
def app(stack, tmp_path_factory):
    name = unique_app_name("proc")
    repo = stack.checkout("runtime-app", tmp_path_factory.mktemp("proc"))
    result = stack.push(repo, name)
    assert result.returncode == 0, result.stderr + stack.logs()
    return name


def containers(app: str) -> list[str]:
    return sorted(subprocess.run(
        ["docker", "ps", "--filter", f"label=paas.app={app}", "--format",
         '{{.Label "paas.process"}}.{{.Label "paas.instance"}}'],
        capture_output=True, text=True, check=True).stdout.split())


def inspect(app: str, process: str, field: str) -> str:
    ids = subprocess.run(["docker", "ps", "-q", "--filter", f"label=paas.app={app}",
                          "--filter", f"label=paas.process={process}"],
                         capture_output=True, text=True, check=True).stdout.split()
    return subprocess.run(["docker", "inspect", "--format", field, ids[0]],
                          capture_output=True, text=True, check=True).stdout.strip()


def run(stack, app: str, command: str) -> dict:
    return core(stack, app, f"""
from paas.core.processes import run_command
r = run_command(app, {command!r}, timeout=60)
result = {{"exit_code": r.exit_code, "output": r.output}}
""")


def test_scaling_up_and_down_under_load_loses_no_request(stack, app):
    with Load(stack, app) as load:
        up = core(stack, app, """
from paas.core.formation import scale
result = call(scale, app, {"web": 3, "worker": 1})
""")
        answered_by = {stack.get(app).body.split(" from ")[1].split(" of ")[0]
                       for _ in range(30)}
        down = core(stack, app, """
from paas.core.formation import scale
result = call(scale, app, {"web": 1})
""")
    print(f"scale under load: {load.requests} requests, {load.failures} failed")
    assert up["ok"] and down["ok"], (up, down)
    assert answered_by == {"web.1", "web.2", "web.3"}  # the router balances across all three
    assert load.requests > 50, load.output
    assert load.failures == 0, load.output
    assert containers(app) == ["web.1", "worker.1"]
    state = core(stack, app, "result = {f.process_type: f.quantity for f in app.formations.all()}")
    assert state == {"web": 1, "worker": 1}


@pytest.mark.parametrize("quantities, code", [
    ({"web": -1}, "invalid_quantity"),
    ({"web": 21}, "invalid_quantity"),
    ({"web": "2"}, "invalid_quantity"),
    ({"web": 1.5}, "invalid_quantity"),
    ({"nope": 1}, "unknown_process_type"),
    ({"release": 1}, "unknown_process_type"),
    ({"Web": 1}, "invalid_process_type"),
])
def test_it_rejects_invalid_quantities_and_changes_nothing(stack, app, quantities, code):
    outcome = core(stack, app, f"""
from paas.core.formation import scale
result = call(scale, app, {quantities!r})
result["formation"] = {{f.process_type: f.quantity for f in app.formations.all()}}
""")
    assert outcome["ok"] is False
    assert outcome["code"] == code
    assert outcome["formation"].get("web") == 1


def test_run_passes_config_verbatim_and_returns_output_and_exit_code(stack, app):
    tricky = "it's $(touch /tmp/pwned) `id` ; \"quoted\""
    changed = core(stack, app, f"""
from paas.core.releases import set_config
result = call(lambda: set_config(app, {{"TRICKY": {tricky!r}}}, []).number)
""")
    assert changed["ok"], changed
    outcome = run(stack, app, 'printf "%s\\n" "$TRICKY"; test -e /tmp/pwned || echo clean; '
                              'echo "$DYNO $PAAS_RELEASE"; exit 4')
    assert outcome["exit_code"] == 4
    lines = outcome["output"].splitlines()
    assert lines[0] == tricky
    assert lines[1] == "clean"
    assert lines[2] == f"run.1 {changed['value']}"
    assert "PORT" not in run(stack, app, "env")["output"].split("=")[0::2]


def test_apps_reach_each_others_web_by_name(stack, app):
    fetch = (f"python3 -c \"import urllib.request; print(urllib.request.urlopen("
             f"'http://{app}:5000/').read().decode())\"")
    outcome = run(stack, app, fetch)
    assert outcome["exit_code"] == 0, outcome["output"]
    assert " from web.1 of v" in outcome["output"]


def test_volumes_keep_their_data_across_redeploys(stack, app):
    added = core(stack, app, """
from paas.core.volumes import add_volume
result = call(lambda: add_volume(app, "data", "/data").docker_name)
""")
    assert added["ok"], added
    assert inspect(app, "web", '{{range .Mounts}}{{.Name}}:{{.Destination}} {{end}}') \
        == f"{added['value']}:/data"
    assert run(stack, app, "echo kept > /data/note")["exit_code"] == 0
    core(stack, app, """
from paas.core.releases import set_config
result = call(lambda: set_config(app, {"AFTER_VOLUME": "1"}, []).number)
""")
    assert run(stack, app, "cat /data/note")["output"] == "kept\n"
    assert stack.get(app).status == 200


def test_memory_and_cpu_limits_apply_per_process_type(stack, app):
    outcome = core(stack, app, """
from paas.core.formation import set_limits
result = call(set_limits, app, "web", memory="128m", cpus="0.5")
result["bad"] = call(set_limits, app, "web", memory="5m")
""")
    assert outcome["ok"], outcome
    assert outcome["bad"]["code"] == "invalid_limit"
    assert inspect(app, "web", "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}") \
        == f"{128 * 1024 * 1024} 500000000"
    assert inspect(app, "worker", "{{.HostConfig.Memory}}") == "0"
    assert containers(app) == ["web.1", "worker.1"]
    assert stack.get(app).status == 200


def test_app_logs_keep_every_release_and_follow_new_lines(stack, app):
    outcome = core(stack, app, """
import itertools
from paas.core.applogs import app_logs
lines = list(app_logs(app, tail=2000))
followed = list(itertools.islice((l for l in app_logs(app, tail=0, follow=True)
                                  if l.startswith("worker.1 | worker: tick")), 2))
result = {"lines": lines, "followed": followed,
          "releases": sorted(app.releases.filter(status__in=["current", "superseded"])
                             .values_list("number", flat=True))}
""")
    lines = outcome["lines"]
    # v1's web was replaced long ago; its lines were kept when its container was removed.
    assert "web.1 | web: listening on 5000 as web.1" in lines
    assert "web.1 | web: SIGTERM, draining" in lines
    assert "web.2 | web: listening on 5000 as web.2" in lines  # from the scale test
    assert any(line.startswith("worker.1 | worker: tick") for line in lines)
    assert len(outcome["followed"]) == 2
