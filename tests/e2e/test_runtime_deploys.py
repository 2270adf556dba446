"""Deploys that keep serving: release phase, health checks, zero downtime under load,
config releases and rollback, against the real stack."""

import subprocess
import time

import pytest

from tests.e2e.runtime_support import Load, core
from tests.e2e.stack import commit_all, unique_app_name


@pytest.fixture(scope="module")
def runtime_app(stack, tmp_path_factory):
    """runtime-app (web + worker + release command) pushed once; shared by this module."""
    app = unique_app_name("rt")
    repo = stack.checkout("runtime-app", tmp_path_factory.mktemp("runtime"))
    result = stack.push(repo, app)
    assert result.returncode == 0, result.stderr + stack.logs()
    return app, repo, result


def current(stack, app: str) -> dict:
    return core(stack, app, "r = app.current_release\n"
                "result = {'number': r.number, 'config': r.config_snapshot, "
                "'app_config': app.config, 'status': app.status}")


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
    with Load(stack, app) as load:
        outcome = core(stack, app, """
from paas.core.releases import set_config
result = [call(lambda n=n: set_config(app, {"GREETING": f"Hi{n}"}, []).number)
          for n in range(1, 6)]
""")
    assert all(step["ok"] for step in outcome), outcome
    print(f"zero-downtime: {load.requests} requests, {load.failures} failed\n{load.output}")
    assert load.requests > 100, load.output
    assert load.failures == 0, load.output
    assert stack.get(app).body.startswith("Hi5 from web.1 of v")


def test_a_failing_health_check_keeps_the_old_release_serving(stack, runtime_app):
    app, _, _ = runtime_app
    before = current(stack, app)
    outcome = core(stack, app, """
from paas.core.releases import set_config
lines = []
result = call(set_config, app, {"HEALTH": "broken"}, [], log=lines.append)
result["log"] = lines
result["failed"] = app.releases.filter(status="failed").order_by("-number") \
    .values_list("failure_reason", flat=True).first()
""")
    assert outcome["ok"] is False
    assert outcome["code"] == "healthcheck_failed"
    assert "health endpoint" in outcome["message"] and "HTTP 500" in outcome["message"]
    assert any("removing web.1" in line for line in outcome["log"])
    after = current(stack, app)
    assert after["number"] == before["number"]
    assert "HEALTH" not in after["app_config"]  # the failed change is not left behind
    assert outcome["failed"] == outcome["message"]
    assert stack.get(app).body == before_body(before)


def before_body(state: dict) -> str:
    greeting = state["config"].get("GREETING", "Hello")
    return f"{greeting} from web.1 of v{state['number']}\n"


def test_a_failing_release_command_fails_the_deploy_and_changes_nothing(stack, runtime_app):
    app, _, _ = runtime_app
    before = current(stack, app)
    outcome = core(stack, app, """
from paas.core.releases import set_config
lines = []
result = call(set_config, app, {"RELEASE_FAIL": "1"}, [], log=lines.append)
result["log"] = lines
""")
    assert outcome["ok"] is False
    assert outcome["code"] == "release_phase_failed"
    assert "exit code 7" in outcome["message"]
    assert any("failing on purpose" in line for line in outcome["log"])
    assert not any("starting web" in line for line in outcome["log"])
    assert current(stack, app)["number"] == before["number"]
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
    outcome = core(stack, app, f"""
from paas.core.releases import rollback
result = call(lambda: rollback(app, {before['number']}).number)
""")
    assert outcome["ok"], outcome
    after = current(stack, app)
    assert after["number"] == outcome["value"] > before["number"]
    assert after["config"] == before["config"]
    assert after["app_config"] == before["config"]
    assert stack.get(app).body == before_body({**before, "number": after["number"]})


def test_rollback_is_refused_when_the_image_is_gone(stack, runtime_app):
    app, _, _ = runtime_app
    # The newest code-only image (the "(new code)" build) is not running after the rollback.
    state = core(stack, app, """
r = app.releases.filter(description__startswith="Deploy").order_by("-number").first()
result = {"number": r.number, "image_id": r.image_id,
          "current_image": app.current_release.image_id}
""")
    assert state["image_id"] != state["current_image"]
    images = subprocess.run(["docker", "image", "ls", "-q", "--no-trunc", f"paas/{app}"],
                            capture_output=True, text=True).stdout
    assert state["image_id"] in images
    subprocess.run(["docker", "image", "rm", "-f", state["image_id"]], check=True,
                   capture_output=True)
    outcome = core(stack, app, f"""
from paas.core.releases import rollback
result = call(rollback, app, {state['number']})
result["releases"] = app.releases.count()
""")
    assert outcome["ok"] is False
    assert outcome["code"] == "image_missing"
    assert f"cannot roll back to v{state['number']}: its image was removed" in outcome["message"]
    assert stack.get(app).status == 200


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
    state = core(stack, app, """
build = app.builds.order_by("-pk").first()
release = app.current_release
result = {"build": build.pk, "build_status": build.status, "release": release.number,
          "release_status": release.status, "built_from": release.build_id}
""")
    assert state["build_status"] == "succeeded"
    assert state["release_status"] == "current"
    assert state["built_from"] == state["build"]
    assert state["release"] > before["number"]
    assert stack.get(app).body.endswith(f"from web.1 of v{state['release']}\n")

    build_log = stack.home / "logs" / "builds" / app / f"{state['build']}.log"

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
