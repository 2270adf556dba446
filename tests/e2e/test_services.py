"""Backing services against the real stack: an app linked to PostgreSQL and Redis through
`paas postgres:link` / `redis:link` keeps its row across a redeploy, a restart and a crash of
the database container, and its key across a restart of the Redis container and a stop by
hand (which the periodic reconcile undoes); an app not linked cannot reach either (no name,
no route), and an app unlinked loses its way to it.

Everything made here (services, their containers, networks and volumes, the apps) is removed
at the end, also when a test fails.
"""

import hashlib
import os
import re
import signal
import subprocess
import time

import pytest

from tests.e2e.stack import cli_error, commit_all, unique_app_name


def docker(*argv: str) -> str:
    return subprocess.run(["docker", *argv], capture_output=True, text=True,
                          check=True).stdout.strip()


def service_container(name: str) -> str:
    (found,) = docker("ps", "-aq", "--filter", f"label=paas.service={name}").split()
    return found


def wait_for(predicate, attempts: int = 60, pause: float = 1.0):
    value = predicate()
    for _ in range(attempts):
        if value:
            return value
        time.sleep(pause)
        value = predicate()
    return value


def probe(stack, app: str, host: str, port: int) -> subprocess.CompletedProcess:
    """``paas run`` of a TCP connection attempt from a one-off container of ``app``."""
    return stack.paas("run", "-a", app, "--", "python3", "/app/app.py", "probe", host,
                      str(port))


@pytest.fixture(scope="module")
def names():
    return {"pg": unique_app_name("pg"), "redis": unique_app_name("rd"),
            "app": unique_app_name("svc"), "outsider": unique_app_name("nosvc")}


@pytest.fixture(scope="module")
def world(stack, names, tmp_path_factory):
    """Both services, the linked app and an app not linked; all removed afterwards."""
    made = {}
    try:
        for kind, name in (("postgres", names["pg"]), ("redis", names["redis"])):
            created = stack.paas(f"{kind}:create", name)
            assert created.returncode == 0, created.stderr + stack.logs()
            made[kind] = name
        repo = stack.checkout("services-app", tmp_path_factory.mktemp("svc"))
        for app in (names["app"], names["outsider"]):
            pushed = stack.push(repo, app)
            assert pushed.returncode == 0, pushed.stderr + stack.logs()
        for kind, name in made.items():
            linked = stack.paas(f"{kind}:link", name, "-a", names["app"])
            assert linked.returncode == 0, linked.stderr + stack.logs()
        yield {**names, "repo": repo}
    finally:
        for kind, name in made.items():
            stack.paas(f"{kind}:destroy", name, "--force", "--confirm", name)
        for app in (names["app"], names["outsider"]):
            stack.paas("apps:destroy", "-a", app, "--confirm", app)
        remove_service_leftovers(names["pg"], names["redis"])


def remove_service_leftovers(*names: str) -> None:
    """Whatever a failure (or a reconcile racing a destroy) left behind of these services:
    their containers, networks and volumes."""
    for name in names:
        label = f"label=paas.service={name}"
        for kind in ("container", "network", "volume"):
            flag = ["-aq"] if kind == "container" else ["-q"]
            left = subprocess.run(["docker", kind, "ls", *flag, "--filter", label],
                                  capture_output=True, text=True).stdout.split()
            if left:
                remove = ["rm", "-f"] if kind != "network" else ["rm"]
                subprocess.run(["docker", kind, *remove, *left], capture_output=True)


def notes(stack, app: str) -> str:
    answer = stack.get(app, "/pg/notes")
    return answer.body.strip() if answer.status == 200 else f"{answer.status} {answer.body}"


def test_the_link_puts_database_url_and_redis_url_in_a_new_release(stack, world):
    info = stack.paas("postgres:info", world["pg"])

    assert info.returncode == 0, info.stderr
    assert f"Linked apps:  {world['app']}" in info.stdout
    assert f"@{world['pg']}.postgres:5432/" in info.stdout
    releases = stack.api("GET", f"/apps/{world['app']}/releases").json()
    assert [r["description"] for r in releases[:2]] == ["Set REDIS_URL", "Set DATABASE_URL"]
    assert {"DATABASE_URL", "REDIS_URL"} <= set(releases[0]["config_keys"])
    assert "DATABASE_URL" not in stack.api(
        "GET", f"/apps/{world['outsider']}/releases").json()[0]["config_keys"]


def test_a_row_survives_a_redeploy_and_a_restart_and_a_crash_of_the_database(stack, world):
    app = world["app"]
    assert stack.get(app, "/pg/add?note=first").body.strip() == "added"
    assert notes(stack, app) == "first"

    (world["repo"] / "CHANGED").write_text("a new commit\n")
    commit_all(world["repo"], "redeploy")
    pushed = stack.push(world["repo"], app)
    assert pushed.returncode == 0, pushed.stderr + stack.logs()
    assert wait_for(lambda: notes(stack, app) == "first"), notes(stack, app)

    container = service_container(world["pg"])
    docker("restart", container)
    assert wait_for(lambda: notes(stack, app) == "first"), notes(stack, app)
    assert stack.get(app, "/pg/add?note=second").body.strip() == "added"

    # A crash: the postmaster killed outright. Docker starts it again; the WAL keeps the rows.
    before = int(docker("inspect", "--format", "{{.RestartCount}}", container))
    os.kill(int(docker("inspect", "--format", "{{.State.Pid}}", container)), signal.SIGKILL)
    assert wait_for(lambda: int(docker("inspect", "--format", "{{.RestartCount}}",
                                       container)) > before)
    assert wait_for(lambda: notes(stack, app) == "first,second"), notes(stack, app)


def test_a_redis_key_survives_a_restart_of_the_redis_container(stack, world):
    app = world["app"]
    assert stack.get(app, "/redis/set?key=greeting&value=hello").body.strip() == "OK"

    docker("restart", service_container(world["redis"]))

    assert wait_for(lambda: stack.get(app, "/redis/get?key=greeting").body.strip()
                    == "hello")


def test_a_service_stopped_by_hand_is_started_again_by_the_reconcile(stack, world):
    app, container = world["app"], service_container(world["redis"])
    docker("stop", container)  # Docker's restart policy leaves a stopped container stopped

    assert wait_for(lambda: docker("inspect", "--format", "{{.State.Status}}", container)
                    == "running", attempts=90)
    assert wait_for(lambda: stack.get(app, "/redis/get?key=greeting").body.strip()
                    == "hello")
    shown = stack.api("GET", f"/services/{world['redis']}").json()
    assert shown["container"] == "running"


BACKUP_RE = re.compile(r"^Backup (\S+) \(", re.MULTILINE)


def backup(stack, kind: str, name: str) -> str:
    made = stack.paas(f"{kind}:backup", name)
    assert made.returncode == 0, made.stderr + stack.logs()
    found = BACKUP_RE.search(made.stdout)
    assert found, made.stdout
    return found[1]


def test_a_redis_backup_restores_the_snapshot(stack, world):
    app, name = world["app"], world["redis"]
    assert stack.get(app, "/redis/set?key=kept&value=before").body.strip() == "OK"
    backup_id = backup(stack, "redis", name)
    assert stack.get(app, "/redis/set?key=kept&value=after").body.strip() == "OK"

    restored = stack.paas("redis:restore", name, backup_id, "--confirm", name)

    assert restored.returncode == 0, restored.stderr + stack.logs()
    assert wait_for(lambda: stack.get(app, "/redis/get?key=kept").body.strip() == "before")
    # The restored data is the service's now: it survives a restart (the AOF holds it).
    docker("restart", service_container(name))
    assert wait_for(lambda: stack.get(app, "/redis/get?key=kept").body.strip() == "before")


def test_a_download_is_the_backup_with_its_sha256(stack, world, tmp_path):
    world["pg_backup"] = backup_id = backup(stack, "postgres", world["pg"])
    listed = stack.api("GET", f"/services/{world['pg']}/backups").json()
    (recorded,) = [b for b in listed if b["id"] == backup_id]
    target = tmp_path / "db.dump"

    downloaded = stack.paas("postgres:backups:download", world["pg"], backup_id, "-o",
                            str(target))

    assert downloaded.returncode == 0, downloaded.stderr
    content = target.read_bytes()
    assert content.startswith(b"PGDMP") and len(content) == recorded["size"]
    assert hashlib.sha256(content).hexdigest() == recorded["sha256"]
    assert recorded["sha256"] in downloaded.stdout


def test_a_restore_refuses_the_wrong_kind_and_unknown_ids(stack, world):
    redis_backup = backup(stack, "redis", world["redis"])

    wrong_kind = stack.paas("postgres:restore", world["pg"], redis_backup, "--confirm",
                            world["pg"])
    unknown = stack.paas("postgres:restore", world["pg"], f"{world['pg']}-20000101-000000-abcd",
                         "--confirm", world["pg"])

    assert cli_error(wrong_kind)[1] == "backup_wrong_kind"
    assert cli_error(unknown)[1] == "backup_not_found"
    assert notes(stack, world["app"]) == "first,second"


def test_an_app_not_linked_cannot_reach_the_services(stack, world):
    pg_address = docker("inspect", "--format",
                        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                        service_container(world["pg"]))
    linked = probe(stack, world["app"], f"{world['pg']}.postgres", 5432)
    assert linked.returncode == 0, linked.stdout + linked.stderr

    by_name = probe(stack, world["outsider"], f"{world['pg']}.postgres", 5432)
    by_address = probe(stack, world["outsider"], pg_address, 5432)
    redis = probe(stack, world["outsider"], f"{world['redis']}.redis", 6379)

    assert by_name.returncode == 1 and "unreachable" in by_name.stdout, by_name.stdout
    assert by_address.returncode == 1 and "unreachable" in by_address.stdout, by_address.stdout
    assert redis.returncode == 1 and "unreachable" in redis.stdout, redis.stdout


def test_destroy_is_refused_while_linked(stack, world):
    refused = stack.paas("postgres:destroy", world["pg"], "--confirm", world["pg"])

    message, code = cli_error(refused)
    assert code == "service_linked" and world["app"] in message
    assert docker("inspect", "--format", "{{.State.Status}}",
                  service_container(world["pg"])) == "running"


def test_unlinking_removes_the_url_and_the_way_to_the_service(stack, world):
    app = world["app"]
    unlinked = stack.paas("postgres:unlink", world["pg"], "-a", app)
    assert unlinked.returncode == 0, unlinked.stderr

    latest = stack.api("GET", f"/apps/{app}/releases").json()[0]
    assert latest["description"] == "Unset DATABASE_URL"
    assert "DATABASE_URL" not in latest["config_keys"]
    cut_off = probe(stack, app, f"{world['pg']}.postgres", 5432)
    assert cut_off.returncode == 1 and "unreachable" in cut_off.stdout, cut_off.stdout


def test_destroy_removes_the_container_network_and_volume(stack, world):
    name = world["pg"]
    volume = docker("volume", "ls", "-q", "--filter", f"label=paas.service={name}")
    assert volume

    destroyed = stack.paas("postgres:destroy", name, "--confirm", name)

    assert destroyed.returncode == 0, destroyed.stderr
    label = f"label=paas.service={name}"
    assert docker("ps", "-aq", "--filter", label) == ""
    assert docker("network", "ls", "-q", "--filter", label) == ""
    assert docker("volume", "ls", "-q", "--filter", label) == ""
    assert stack.paas("postgres:info", name).returncode == 1
    assert f"Its 1 backup is kept: `paas postgres:backups {name}`" in destroyed.stdout


def test_a_backup_of_the_destroyed_database_restores_into_a_fresh_one(stack, world):
    app, fresh = world["app"], world["pg"] + "-new"
    assert [b["id"] for b in stack.api("GET", f"/services/{world['pg']}/backups").json()] \
        == [world["pg_backup"]]
    try:
        created = stack.paas("postgres:create", fresh)
        assert created.returncode == 0, created.stderr + stack.logs()
        # A database right after its first start may still be making its cluster.
        restored = wait_for(lambda: stack.paas("postgres:restore", fresh, world["pg_backup"],
                                               "--confirm", fresh).returncode == 0, attempts=30)
        assert restored, stack.logs()
        linked = stack.paas("postgres:link", fresh, "-a", app)
        assert linked.returncode == 0, linked.stderr + stack.logs()

        assert wait_for(lambda: notes(stack, app) == "first,second"), notes(stack, app)
    finally:
        stack.paas("postgres:destroy", fresh, "--force", "--confirm", fresh)
