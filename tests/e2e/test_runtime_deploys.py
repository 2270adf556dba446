"""Deploys that keep serving: release phase, health checks, zero downtime under load,
config releases and rollback, against the real stack."""

import subprocess
import time

import pytest

from tests.e2e.runtime_support import Load, released
from tests.e2e.stack import cli_error, commit_all, unique_app_name


@pytest.fixture(scope="module")
def runtime_app(stack, tmp_path_factory):
    """runtime-app (web + worker + release command) pushed once; shared by this module."""
    app = unique_app_name("rt")
    repo = stack.checkout("runtime-app", tmp_path_factory.mktemp("runtime"))
    result = stack.push(repo, app)
    assert result.returncode == 0, result.stderr + stack.logs()
    return app, repo, result


def current(stack, app: str) -> dict:
    """The app's current release and config as the API shows them to its owner."""
    shown, config, releases = (stack.api("GET", f"/apps/{app}{path}")
                               for path in ("", "/config", "/releases"))
    assert (shown.status, config.status, releases.status) == (200, 200, 200), \
        (shown.body, config.body, releases.body)
    (release,) = (r for r in releases.json() if r["status"] == "current")
    assert shown.json()["current_release"] == release["version"]
    return {"number": release["number"], "config_keys": release["config_keys"],
            "build_id": release["build_id"], "image": release["image"],
            "config": config.json(), "status": shown.json()["status"],
            "releases": releases.json()}


def newest_failure(state: dict) -> dict:
    return max((r for r in state["releases"] if r["status"] == "failed"),
               key=lambda r: r["number"])


def test_the_release_command_runs_before_traffic_moves(stack, runtime_app):
    app, _, result = runtime_app
    out = result.stderr
    assert "remote: -----> Running release command: python3 /app/release.py" in out
    assert "release phase of v1" in out
    assert out.index("release phase of v1") < out.index("starting web.1")
    assert stack.get(app).body == "Hello from web.1 of v1\n"
    # The release command is not a process: nothing named release keeps running.
    names = subprocess.run(["docker", "ps", "-a", "--filter", f"label=paas.app={app}",
                            "--format", "{{.Names}}"], capture_output=True, text=True).stdout
    assert names.split() == [f"paas.{app}.web.1.v1"]


def test_it_serves_every_request_during_five_redeploys(stack, runtime_app):
    app, _, _ = runtime_app
    before = current(stack, app)["number"]
    with Load(stack, app) as load:
        outcome = [stack.paas("config:set", f"GREETING=Hi{n}", "-a", app) for n in range(1, 6)]
    assert [released(step) for step in outcome] == list(range(before + 1, before + 6))
    print(f"zero-downtime: {load.requests} requests, {load.failures} failed\n{load.output}")
    assert load.requests > 100, load.output
    assert load.failures == 0, load.output
    assert stack.get(app).body.startswith("Hi5 from web.1 of v")


def test_it_serves_every_request_across_scaling_and_a_rollback(stack, runtime_app):
    app, _, _ = runtime_app
    before = current(stack, app)["number"]
    with Load(stack, app) as load:
        up = stack.paas("ps:scale", "web=2", "-a", app)
        changed = stack.paas("config:set", "GREETING=Rolled", "-a", app)
        rolled_back = stack.paas("rollback", f"v{before}", "-a", app)
        down = stack.paas("ps:scale", "web=1", "-a", app)
    for step in (up, changed, rolled_back, down):
        assert step.returncode == 0, step.stderr
    print(f"scale and rollback: {load.requests} requests, {load.failures} failed")
    assert load.requests > 100, load.output
    assert load.failures == 0, load.output
    assert stack.get(app).body.startswith("Hi5 from web.1 of v")


def test_a_failing_health_check_keeps_the_old_release_serving(stack, runtime_app):
    app, _, _ = runtime_app
    before = current(stack, app)
    outcome = stack.paas("config:set", "HEALTH=broken", "-a", app)
    message, code = cli_error(outcome)
    assert code == "healthcheck_failed"
    assert "health endpoint" in message and "HTTP 500" in message
    assert any("removing web.1" in line for line in outcome.stderr.splitlines())
    after = current(stack, app)
    assert after["number"] == before["number"]
    assert "HEALTH" not in after["config"]  # the failed change is not left behind
    assert newest_failure(after)["failure_reason"] == message
    assert newest_failure(after)["number"] > before["number"]
    assert stack.get(app).body == before_body(before)


def before_body(state: dict) -> str:
    # The API shows the app's config; the current release snapshots it (a failed change
    # is put back), and the router's answer shows the running containers have it.
    greeting = state["config"].get("GREETING", "Hello")
    return f"{greeting} from web.1 of v{state['number']}\n"


def test_a_failing_release_command_fails_the_deploy_and_changes_nothing(stack, runtime_app):
    app, _, _ = runtime_app
    before = current(stack, app)
    outcome = stack.paas("config:set", "RELEASE_FAIL=1", "-a", app)
    message, code = cli_error(outcome)
    assert code == "release_phase_failed"
    assert "exit code 7" in message
    log = outcome.stderr.splitlines()
    assert any("failing on purpose" in line for line in log)
    assert not any("starting web" in line for line in log)
    after = current(stack, app)
    assert after["number"] == before["number"]
    assert "RELEASE_FAIL" not in after["config"]
    assert stack.get(app).body == before_body(before)


def test_rollback_restores_the_old_code_and_config(stack, runtime_app):
    app, repo, _ = runtime_app
    before = current(stack, app)
    web = repo / "web.py"
    web.write_text(web.read_text().replace('f"{greeting} from', 'f"{greeting} (new code) from'))
    commit_all(repo, "new code")
    pushed = stack.push(repo, app)
    assert pushed.returncode == 0, pushed.stderr
    assert "(new code)" in stack.get(app).body
    outcome = stack.paas("rollback", f"v{before['number']}", "-a", app)
    after = current(stack, app)
    assert after["number"] == released(outcome) > before["number"]
    assert after["config_keys"] == before["config_keys"]
    assert after["config"] == before["config"]
    assert stack.get(app).body == before_body({**before, "number": after["number"]})


def test_rollback_is_refused_when_the_image_is_gone(stack, runtime_app):
    app, _, _ = runtime_app
    # The newest code-only image (the "(new code)" build) is not running after the rollback.
    state = current(stack, app)
    deploy = max((r for r in state["releases"] if r["description"].startswith("Deploy")),
                 key=lambda r: r["number"])
    image_id = image_id_of(deploy["image"])
    assert image_id != image_id_of(state["image"])
    images = subprocess.run(["docker", "image", "ls", "-q", "--no-trunc", f"paas/{app}"],
                            capture_output=True, text=True).stdout
    assert image_id in images
    subprocess.run(["docker", "image", "rm", "-f", image_id], check=True, capture_output=True)
    outcome = stack.paas("rollback", f"v{deploy['number']}", "-a", app)
    message, code = cli_error(outcome)
    assert code == "image_missing"
    assert f"cannot roll back to v{deploy['number']}: its image was removed" in message
    after = current(stack, app)
    assert after["number"] == state["number"]
    assert len(after["releases"]) == len(state["releases"])  # a refusal makes no release
    assert stack.get(app).status == 200


def image_id_of(reference: str) -> str:
    """The id of the image a release's tag (``paas/<app>:v<n>``) names, per Docker."""
    return subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", reference],
                          capture_output=True, text=True, check=True).stdout.strip()


def test_a_push_returns_once_the_new_release_serves_and_the_old_one_drains_after(
        stack, runtime_app):
    app, repo, _ = runtime_app
    before = current(stack, app)
    (repo / "NOTES").write_text("a code-only change\n")
    commit_all(repo, "notes")

    pushed = stack.push(repo, app)

    assert pushed.returncode == 0, pushed.stderr
    assert "-----> Released v" in pushed.stderr
    # Old containers stop after the build's end: the pusher never waits for (or sees) it.
    assert "stopping web.1" not in pushed.stderr
    builds = stack.api("GET", f"/apps/{app}/builds")
    assert builds.status == 200, builds.body
    build = max(builds.json(), key=lambda b: b["id"])
    after = current(stack, app)  # the one release whose status is "current"
    assert build["status"] == "succeeded"
    assert after["build_id"] == build["id"]
    assert after["number"] > before["number"]
    assert stack.get(app).body.endswith(f"from web.1 of v{after['number']}\n")

    build_log = stack.home / "logs" / "builds" / app / f"{build['id']}.log"

    def retired() -> bool:
        text = build_log.read_text()
        return f"stopping web.1 of v{before['number']}" in text and not container_ids(
            f"label=paas.app={app}", f"label=paas.release={before['number']}")

    assert wait_for(retired), build_log.read_text()
    text = build_log.read_text()
    assert text.index("-----> Released v") < text.index("stopping web.1")


def container_ids(*filters: str) -> list[str]:
    argv = ["docker", "ps", "-aq"]
    for item in filters:
        argv += ["--filter", item]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split()


def wait_for(predicate, attempts: int = 60, pause: float = 0.5) -> bool:
    """Poll ``predicate`` a bounded number of times."""
    for _ in range(attempts):
        if predicate():
            return True
        time.sleep(pause)
    return bool(predicate())
