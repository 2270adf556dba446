"""Faults against the real stack: a worker killed mid-deploy, Redis stopped, a pusher that
hangs up mid-build. Each leaves the serving release answering, nothing half-done, and the
next change working."""

import subprocess
import time

import pytest

from tests.e2e.stack import PAAS_CLI, add_slow_step, cli_env, commit_all, unique_app_name


def wait_for(check, attempts: int = 120, pause: float = 1.0):
    """Poll ``check`` (bounded) until it returns something true; return that, or None."""
    for _ in range(attempts):
        found = check()
        if found:
            return found
        time.sleep(pause)
    return None


def releases(stack, app: str) -> list[dict]:
    answer = stack.api("GET", f"/apps/{app}/releases")
    assert answer.status == 200, answer.body
    return answer.json()


@pytest.fixture
def serving(stack, tmp_path):
    """A runtime-app deployed (v1) and answering, with its work tree."""
    app = unique_app_name("fault")
    repo = stack.checkout("runtime-app", tmp_path)
    pushed = stack.push(repo, app)
    assert pushed.returncode == 0, pushed.stderr + stack.logs()
    assert stack.get(app).status == 200
    return app, repo


def test_a_worker_killed_mid_deploy_fails_the_release_and_the_old_one_serves(stack, serving):
    app, repo = serving
    before = stack.get(app).body
    change = subprocess.Popen(
        [str(PAAS_CLI), "config:set", "RELEASE_SLEEP=120", "-a", app],
        cwd=stack.home, env=cli_env(stack.cli_config), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: any(r["status"] == "deploying" for r in releases(stack, app)),
                        pause=0.5), "the config release never started deploying"
        stack.kill_program("worker")  # mid release phase
        _, err = change.communicate(timeout=600)
    finally:
        if change.poll() is None:
            change.kill()

    assert change.returncode != 0
    assert "its worker went away" in err
    # The lock of the dead worker lapses and reconcile fails its release; v1 serves on.
    failed = wait_for(lambda: [r for r in releases(stack, app) if r["number"] == 2
                               and r["status"] == "failed"], attempts=180)
    assert failed, releases(stack, app)
    assert [r["version"] for r in releases(stack, app) if r["status"] == "current"] == ["v1"]
    assert stack.get(app).body == before
    assert "RELEASE_SLEEP" not in stack.api("GET", f"/apps/{app}/config").json()
    # The next change goes through.
    changed = stack.paas("config:set", "GREETING=Afterwards", "-a", app)
    assert changed.returncode == 0, changed.stderr
    assert stack.get(app).body.startswith("Afterwards from web.1")


def test_with_redis_stopped_a_push_fails_clearly_and_the_app_serves_on(stack, serving):
    app, repo = serving
    deployed = stack.server_ref(app)
    sha = commit_all(repo, "a change pushed while Redis is down")
    assert stack.supervisorctl("stop", "redis").returncode == 0
    try:
        refused = stack.push(repo, app)
        answer = stack.get(app)
    finally:
        assert stack.supervisorctl("start", "redis").returncode == 0

    assert refused.returncode != 0
    assert "Redis is not reachable" in refused.stderr
    assert stack.server_ref(app) == deployed  # no ref moved
    assert answer.status == 200  # the router needs no Redis
    # Redis back: the same push goes through.
    pushed = wait_for(lambda: (result := stack.push(repo, app)).returncode == 0 and result,
                      attempts=30, pause=2)
    assert pushed, stack.logs()
    assert stack.server_ref(app) == sha


def test_a_pusher_that_hangs_up_mid_build_leaves_ref_and_release_together(stack, serving):
    app, repo = serving
    sha = add_slow_step(repo, app, 8)
    push = subprocess.Popen(["git", "push", stack.remote(app), "main"], cwd=repo,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert stack.wait_for_build(app), "the build never started"
        push.kill()  # the pusher's connection goes with it
    finally:
        push.wait(timeout=60)

    # The build goes on without its pusher and ends, one way or the other.
    finished = wait_for(lambda: [b for b in stack.api("GET", f"/apps/{app}/builds").json()
                                 if b["commit_sha"] == sha and b["status"] != "running"
                                 and b["status"] != "queued"], attempts=300)
    assert finished, stack.logs()
    (build,) = finished
    current = [r for r in releases(stack, app) if r["status"] == "current"]
    if build["status"] == "succeeded":
        assert stack.server_ref(app) == sha and current[0]["version"] == "v2"
    else:
        assert stack.server_ref(app) != sha and current[0]["version"] == "v1"
    assert stack.get(app).status == 200
    # Nothing is left holding the app: the next push works.
    commit_all(repo, "after the hang-up")
    again = stack.push(repo, app)
    assert again.returncode == 0, again.stderr


def test_pushes_to_many_apps_at_once_each_deploy_their_own_app(stack, tmp_path):
    apps = [unique_app_name("many") for _ in range(3)]
    pushes = []
    for app in apps:
        assert stack.paas("apps:create", app).returncode == 0
        assert stack.paas("config:set", f"GREETING=I am {app}", "-a", app).returncode == 0
        repo = stack.checkout("runtime-app", tmp_path / app)
        pushes.append(stack.start_push(repo, app))

    results = [push() for push in pushes]  # more builds than builders: some wait their turn

    for app, result in zip(apps, results, strict=True):
        assert result.returncode == 0, result.stderr
        assert stack.get(app).body.startswith(f"I am {app} from web.1 of v1")
