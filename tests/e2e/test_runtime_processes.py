"""Process types at run time: scale under load, one-off runs, networking, volumes, limits
and app logs, against the real stack."""

import itertools
import re
import subprocess

import pytest

from tests.e2e.runtime_support import Load
from tests.e2e.stack import cli_error, unique_app_name


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


def run(stack, app: str, command: str) -> subprocess.CompletedProcess:
    """``paas run`` of a shell command line: its output on stdout, its exit code as ours."""
    return stack.paas("run", "-a", app, "--", "sh", "-c", command)


def formation(stack, app: str) -> dict:
    answer = stack.api("GET", f"/apps/{app}/formation")
    assert answer.status == 200, answer.body
    return answer.json()["formation"]


def deployed(result: subprocess.CompletedProcess) -> str:
    """The last line of a deploying CLI command that succeeded ("done, ...")."""
    assert result.returncode == 0, result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith("done"), result.stderr
    return last


def test_scaling_up_and_down_under_load_loses_no_request(stack, app):
    with Load(stack, app) as load:
        up = stack.paas("ps:scale", "web=3", "worker=1", "-a", app)
        answered_by = {stack.get(app).body.split(" from ")[1].split(" of ")[0]
                       for _ in range(30)}
        down = stack.paas("ps:scale", "web=1", "-a", app)
    print(f"scale under load: {load.requests} requests, {load.failures} failed")
    assert deployed(up) == "done, now web=3 worker=1"
    assert deployed(down) == "done, now web=1 worker=1"
    assert answered_by == {"web.1", "web.2", "web.3"}  # the router balances across all three
    assert load.requests > 50, load.output
    assert load.failures == 0, load.output
    assert containers(app) == ["web.1", "worker.1"]
    assert formation(stack, app) == {"web": 1, "worker": 1}


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
    # The API, not `paas ps:scale`: the CLI refuses most of these before sending them.
    outcome = stack.api("PATCH", f"/apps/{app}/formation", quantities)
    assert outcome.status == 400, outcome.body
    assert outcome.json()["error"]["code"] == code
    assert formation(stack, app).get("web") == 1


def test_run_passes_config_verbatim_and_returns_output_and_exit_code(stack, app):
    tricky = "it's $(touch /tmp/pwned) `id` ; \"quoted\""
    changed = deployed(stack.paas("config:set", f"TRICKY={tricky}", "-a", app))
    assert stack.api("GET", f"/apps/{app}/config").json()["TRICKY"] == tricky
    outcome = run(stack, app, 'printf "%s\\n" "$TRICKY"; test -e /tmp/pwned || echo clean; '
                              'echo "$DYNO $PAAS_RELEASE"; exit 4')
    assert outcome.returncode == 4, outcome.stderr
    lines = outcome.stdout.splitlines()
    assert lines[0] == tricky
    assert lines[1] == "clean"
    assert lines[2] == f"run.1 {changed.removeprefix('done, v')}"  # the release config:set made
    env = run(stack, app, "env")
    assert env.returncode == 0, env.stderr
    assert "PORT" not in env.stdout.split("=")[0::2]


def test_apps_reach_each_others_web_by_name(stack, app):
    fetch = (f"python3 -c \"import urllib.request; print(urllib.request.urlopen("
             f"'http://{app}:5000/').read().decode())\"")
    outcome = run(stack, app, fetch)
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    assert " from web.1 of v" in outcome.stdout


def test_volumes_keep_their_data_across_redeploys(stack, app):
    added = stack.paas("storage:add", "data:/data", "-a", app)
    assert deployed(added) == "done, data is mounted at /data"
    volumes = stack.api("GET", f"/apps/{app}/volumes").json()
    assert [(v["name"], v["mount_path"]) for v in volumes] == [("data", "/data")]
    # paas-<app>_<app uid>_<volume>: a later app of the same name never gets this volume.
    assert re.fullmatch(rf"paas-{app}_[0-9a-f]{{12}}_data:/data", inspect(
        app, "web", '{{range .Mounts}}{{.Name}}:{{.Destination}} {{end}}'))
    assert run(stack, app, "echo kept > /data/note").returncode == 0
    deployed(stack.paas("config:set", "AFTER_VOLUME=1", "-a", app))
    kept = run(stack, app, "cat /data/note")
    assert (kept.returncode, kept.stdout) == (0, "kept\n"), kept.stderr
    assert stack.get(app).status == 200


def test_memory_and_cpu_limits_apply_per_process_type(stack, app):
    outcome = stack.paas("ps:resize", "web", "--memory", "128m", "--cpus", "0.5", "-a", app)
    assert deployed(outcome) == "done, web: memory 128m, cpus 0.5"
    bad = stack.paas("ps:resize", "web", "--memory", "5m", "-a", app)
    assert cli_error(bad)[1] == "invalid_limit"
    resources = stack.api("GET", f"/apps/{app}/formation").json()["resources"]
    assert resources["web"] == {"memory": "128m", "cpus": 0.5, "effective": {
        "memory": "128m", "cpus": 0.5, "pids": 256, "read_only_rootfs": False}}
    # No limit of its own: the default memory limit (PAAS_DEFAULT_MEMORY).
    assert resources["worker"]["effective"]["memory"] == "512m"
    assert inspect(app, "web", "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}") \
        == f"{128 * 1024 * 1024} 500000000"
    assert inspect(app, "worker", "{{.HostConfig.Memory}}") == str(512 * 1024 * 1024)
    assert containers(app) == ["web.1", "worker.1"]
    assert stack.get(app).status == 200


def test_app_logs_keep_every_release_and_follow_new_lines(stack, app):
    shown = stack.paas("logs", "-n", "2000", "-a", app)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    with stack.paas_following("logs", "--follow", "-n", "0", "-a", app) as following:
        followed = list(itertools.islice(
            (line for line in following if line.startswith("worker.1 | worker: tick")), 2))
    # v1's web was replaced long ago; its lines were kept when its container was removed.
    assert "web.1 | web: listening on 5000 as web.1" in lines
    assert "web.1 | web: SIGTERM, draining" in lines
    assert "web.2 | web: listening on 5000 as web.2" in lines  # from the scale test
    assert any(line.startswith("worker.1 | worker: tick") for line in lines)
    assert len(followed) == 2
