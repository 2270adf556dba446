"""Self-healing against the real stack: crash loops are reported, removed containers come
back, orphans go, and the router's configuration and routes are rewritten from the database
by the periodic reconcile (Celery beat every PAAS_RECONCILE_INTERVAL=10 s in the e2e stack)."""

import subprocess
import time

import pytest

from paas.router.route_table import ControlClient, Route
from tests.e2e.stack import unique_app_name


@pytest.fixture(scope="module")
def app(stack, tmp_path_factory):
    name = unique_app_name("heal")
    repo = stack.checkout("runtime-app", tmp_path_factory.mktemp("heal"))
    result = stack.push(repo, name)
    assert result.returncode == 0, result.stderr + stack.logs()
    return name


def wait_for(predicate, attempts: int = 60, pause: float = 1.0):
    """Poll ``predicate`` a bounded number of times; return its last value."""
    value = predicate()
    for _ in range(attempts):
        if value:
            return value
        time.sleep(pause)
        value = predicate()
    return value


def container_ids(*filters: str) -> list[str]:
    argv = ["docker", "ps", "-aq"]
    for item in filters:
        argv += ["--filter", item]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split()


def test_a_container_removed_by_hand_comes_back(stack, app):
    (web,) = container_ids(f"label=paas.app={app}", "label=paas.process=web")
    subprocess.run(["docker", "rm", "-f", web], check=True, capture_output=True)

    answer = wait_for(lambda: (a := stack.get(app)).status == 200 and a, attempts=60)

    assert answer and answer.body.startswith("Hello from web.1 of v1")
    (again,) = container_ids(f"label=paas.app={app}", "label=paas.process=web")
    assert again != web


def test_a_crash_loop_marks_the_app_crashed_until_a_healthy_deploy(stack, app):
    scaled = stack.paas("ps:scale", "worker=1", "-a", app)
    assert scaled.returncode == 0, scaled.stderr
    crashing = stack.paas("config:set", "WORKER_CRASH=1", "-a", app)
    assert crashing.returncode == 0, crashing.stderr

    def crashed():
        state = shown(stack, app)
        return state["status"] == "crashed" and state

    state = wait_for(crashed, attempts=20, pause=2)
    assert state, "the app was never marked crashed"
    assert state["crash_reason"].startswith("worker.1 crashed")
    assert "last exit code 3" in state["crash_reason"]
    assert stack.get(app).status == 200  # web keeps serving meanwhile

    fixed = stack.paas("config:unset", "WORKER_CRASH", "-a", app)
    assert fixed.returncode == 0, fixed.stderr
    state = shown(stack, app)
    assert state["status"] == "running"
    assert state["crash_reason"] is None


def shown(stack, app: str) -> dict:
    """The app as ``GET /api/apps/<app>`` shows it (status, crash_reason, ...)."""
    answer = stack.api("GET", f"/apps/{app}")
    assert answer.status == 200, answer.body
    return answer.json()


def test_orphan_containers_are_removed(stack, app):
    ghost = unique_app_name("ghost")
    subprocess.run(
        ["docker", "run", "-d", "--name", f"paas.{ghost}.web.1.v1",
         "--label", f"paas.home={stack.home}", "--label", f"paas.app={ghost}",
         "--label", "paas.release=1", "--label", "paas.process=web",
         "--label", "paas.instance=1", "paas/stack:bookworm", "sleep", "600"],
        check=True, capture_output=True)

    gone = wait_for(lambda: not container_ids(f"label=paas.app={ghost}"), attempts=40)

    assert gone, "the orphan container is still there"
    assert container_ids(f"label=paas.app={app}", "label=paas.process=web")


def test_the_router_config_is_rewritten_from_the_database(stack, app):
    conf = stack.home / "nginx" / "apps" / f"{app}.conf"
    original = conf.read_text()
    conf.write_text(original.replace("proxy_pass", "# proxy_pass"))
    stray = stack.home / "nginx" / "apps" / "not-an-app.conf"
    stray.write_text("# left behind\n")

    restored = wait_for(lambda: conf.read_text() == original and not stray.exists(),
                        attempts=40)

    assert restored
    assert stack.get(app).status == 200


def test_a_route_changed_behind_paas_is_put_back(stack, app):
    control = ControlClient(stack.home / "run" / "router" / "control.sock")
    served = control.get(app)
    assert served is not None and served.upstreams
    # Something outside paas points the app at a port nothing listens on (nginx took it:
    # put raises otherwise). The route check (every 2 s) sees the running web unrouted.
    control.put(app, Route("0123456789ab", ("127.0.0.1:1",)))

    restored = wait_for(lambda: control.get(app) == served, attempts=40)

    assert restored
    assert stack.get(app).status == 200
