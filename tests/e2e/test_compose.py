"""docker-compose.yml, for real: `docker compose up` builds the control plane FROM the stack
image, starts every service with PostgreSQL as paas's database, deploys a `git push` and
serves it through the compose router; `down --volumes` takes it all away again.

The stack comes up once for this module (building and starting it takes a minute or two),
with its own project name, ports, PAAS_HOME and image tags (see compose_stack.py). The last
case crashes the router, so it stays last.
"""

import os
import signal
import time

import docker
import pytest

from tests.e2e.compose_stack import ComposeStack
from tests.e2e.stack import unique_app_name

LONG_RUNNING = {"postgres", "redis", "router", "web", "worker", "builder"}
# Holds the process namespace the router shares; it runs nothing, so has no health check.
NAMESPACE_HOLDER = "pid-namespace"
DOCKER_SOCKET = "/var/run/docker.sock"


@pytest.fixture(scope="module")
def compose_stack():
    running = ComposeStack.create()
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def static_app(compose_stack, tmp_path_factory):
    """The static-site sample, pushed once to the compose stack: (app name, push result)."""
    app = unique_app_name("compose")
    repo = compose_stack.checkout("static-site", tmp_path_factory.mktemp("compose"))
    return app, compose_stack.push(repo, app)


@pytest.fixture()
def docker_client():
    client = docker.from_env()
    yield client
    client.close()


def test_every_service_is_healthy_and_migrate_ran_once(compose_stack):
    services = compose_stack.services()

    assert set(services) == LONG_RUNNING | {"migrate", NAMESPACE_HOLDER}
    assert services[NAMESPACE_HOLDER]["State"] == "running"
    for name in LONG_RUNNING:
        assert (services[name]["State"], services[name]["Health"]) == ("running", "healthy"), \
            (name, services[name])
    assert (services["migrate"]["State"], services["migrate"]["ExitCode"]) == ("exited", 0)


def test_a_git_push_deploys_and_answers_through_the_compose_router(compose_stack, static_app):
    app, push = static_app

    assert push.returncode == 0, push.stderr + compose_stack.logs()
    assert "static app detected" in push.stderr
    assert f"Released v1: http://{app}.localhost:{compose_stack.router_port}/" in push.stderr
    answer = compose_stack.wait_for_answer(app, "Hello from static-site")
    assert answer.status == 200, answer.body


def test_paas_keeps_its_apps_in_postgresql_with_every_migration_applied(compose_stack,
                                                                        static_app):
    app, _ = static_app

    # As root in the postgres container, which pg_ident maps to the role paas, as it maps the
    # control plane's processes.
    apps = compose_stack.compose("exec", "-T", "postgres", "psql", "--host=/run/postgresql",
                                 "--username=paas", "--dbname=paas", "--tuples-only",
                                 "--no-align", "--command=SELECT name FROM core_app")
    assert apps.returncode == 0, apps.stderr
    assert app in apps.stdout.split()
    unapplied = compose_stack.compose("exec", "-T", "web", "python", "manage.py", "migrate",
                                      "--check", "--plan")
    assert unapplied.returncode == 0, unapplied.stdout + unapplied.stderr


def test_only_web_worker_and_builder_hold_the_docker_socket(compose_stack, static_app,
                                                            docker_client):
    app, _ = static_app
    project = {"label": f"com.docker.compose.project={compose_stack.project}"}
    by_home = {"label": [f"paas.home={compose_stack.home}", f"paas.app={app}"]}

    holders = {container.labels["com.docker.compose.service"]
               for container in docker_client.containers.list(all=True, filters=project)
               if any(mount["Source"] == DOCKER_SOCKET for mount in container.attrs["Mounts"])}
    app_containers = docker_client.containers.list(filters=by_home)

    assert holders == {"web", "worker", "builder"}
    assert app_containers, f"no container of {app} labelled paas.home={compose_stack.home}"
    for container in app_containers:
        assert [mount for mount in container.attrs["Mounts"] if mount["Type"] == "bind"] == []


def test_a_crashed_router_restarts_alone_and_serves_again(compose_stack, static_app,
                                                          docker_client):
    app, _ = static_app
    project = {"label": f"com.docker.compose.project={compose_stack.project}"}

    def containers() -> dict:
        return {container.labels["com.docker.compose.service"]: container
                for container in docker_client.containers.list(all=True, filters=project)}

    before = {name: container.attrs["RestartCount"] for name, container in containers().items()}
    nginx_master = containers()["router"].attrs["State"]["Pid"]
    os.kill(nginx_master, signal.SIGKILL)  # as an OOM kill or a crash would
    restarted = False
    for _ in range(60):
        router = containers()["router"]
        restarted = router.attrs["RestartCount"] > before["router"] and router.status == "running"
        if restarted:
            break
        time.sleep(1)
    answer = compose_stack.wait_for_answer(app, "Hello from static-site")
    after = containers()

    assert restarted, after["router"].attrs["State"]
    assert answer.status == 200, answer.body
    for name in ("web", "worker", "builder", NAMESPACE_HOLDER):
        assert (after[name].status, after[name].attrs["RestartCount"]) == ("running",
                                                                           before[name]), name
