"""The builder runs PAAS_BUILD_CONCURRENCY builds at once, as threads of one process: a deploy
action still runs while every one of them builds, and cancelling one build stops that build
only."""

import time

from tests.e2e.stack import add_slow_step, unique_app_name

BUILD_CONCURRENCY = 2  # the stack's PAAS_BUILD_CONCURRENCY (the default)


def _building(stack) -> int:
    """How many builds run now (each keeps a heartbeat key while it does)."""
    return len(stack.redis_cli("--scan", "--pattern", "paas:build:*:alive").stdout.split())


def _start_slow_pushes(stack, tmp_path, prefix: str, seconds: int) -> list:
    """BUILD_CONCURRENCY pushes of new apps whose builds each take ``seconds``, running once
    this returns: [(app, wait for the push's result), ...]."""
    pushes = []
    for index in range(BUILD_CONCURRENCY):
        app = unique_app_name(f"{prefix}{index}")
        repo = stack.checkout("dockerfile-hello", tmp_path / app)
        add_slow_step(repo, app, seconds)
        pushes.append((app, stack.start_push(repo, app)))
    for _ in range(600):  # until every build runs (bounded)
        if _building(stack) >= BUILD_CONCURRENCY:
            break
        time.sleep(0.1)
    assert _building(stack) >= BUILD_CONCURRENCY, "the builds never all ran"
    return pushes


def _running_build_id(stack, app: str) -> int:
    for _ in range(300):  # until the build's row says running (bounded)
        builds = stack.api("GET", f"/apps/{app}/builds").json()
        if builds and builds[0]["status"] == "running":
            return builds[0]["id"]
        time.sleep(0.1)
    raise AssertionError(f"no running build of {app}")


def test_a_deploy_action_runs_while_every_builder_slot_is_building(stack, tmp_path):
    app = unique_app_name("calm")
    assert stack.push(stack.checkout("dockerfile-hello", tmp_path), app).returncode == 0
    pushes = _start_slow_pushes(stack, tmp_path, "busy", 120)
    try:
        changed = stack.paas("config:set", "GREETING=Meanwhile", "-a", app)
        still_building = [stack.build_running(busy) for busy, _wait in pushes]
    finally:
        for busy, _wait in pushes:  # no need to sit out the slow steps
            stack.api("POST", f"/apps/{busy}/builds/{_running_build_id(stack, busy)}/cancel")
        results = [wait() for _app, wait in pushes]

    assert changed.returncode == 0, changed.stderr
    assert still_building == [True] * BUILD_CONCURRENCY
    assert "Meanwhile from dockerfile-hello" in stack.wait_for_answer(app, "Meanwhile").body
    assert all("the build was cancelled" in result.stderr for result in results)


def test_cancelling_one_of_the_running_builds_leaves_the_others_building(stack, tmp_path):
    (cancelled, wait_cancelled), *others = _start_slow_pushes(stack, tmp_path, "pair", 15)

    answer = stack.api("POST", f"/apps/{cancelled}/builds/"
                               f"{_running_build_id(stack, cancelled)}/cancel")
    cancelled_push = wait_cancelled()
    other_pushes = [(app, wait()) for app, wait in others]

    assert answer.status == 200, answer.body
    assert cancelled_push.returncode != 0
    assert "the build was cancelled" in cancelled_push.stderr
    assert stack.server_ref(cancelled) is None
    for app, result in other_pushes:
        assert result.returncode == 0, result.stderr
        assert stack.server_ref(app) is not None
        assert stack.get(app).status == 200
