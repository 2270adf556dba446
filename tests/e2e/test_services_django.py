"""A Django app in the shape of Heroku's getting-started one (tests/apps/django-postgres:
dj-database-url, migrations in the release phase) linked to a paas PostgreSQL service: a row
it writes through the ORM survives a redeploy and a restart of the database container, and a
backup of the database restores it into a fresh one the app is then linked to.

Both services and the app are removed at the end, also when a test fails.
"""

import subprocess

import pytest

from tests.e2e.stack import commit_all, unique_app_name
from tests.e2e.test_services import remove_service_leftovers, wait_for


def greetings(stack, app: str, path: str = "/db/") -> str:
    answer = stack.get(app, path, timeout=30)
    return answer.body.strip() if answer.status == 200 else f"HTTP {answer.status}"


@pytest.fixture(scope="module")
def django_app(stack, tmp_path_factory):
    names = {"app": unique_app_name("dj"), "db": unique_app_name("djdb"),
             "fresh": unique_app_name("djnew")}
    try:
        created = stack.paas("postgres:create", names["db"])
        assert created.returncode == 0, created.stderr + stack.logs()
        repo = stack.checkout("django-postgres", tmp_path_factory.mktemp("dj"))
        pushed = stack.push(repo, names["app"])
        assert pushed.returncode == 0, pushed.stderr + stack.logs()
        linked = stack.paas("postgres:link", names["db"], "-a", names["app"])
        assert linked.returncode == 0, linked.stderr + stack.logs()
        yield {**names, "repo": repo}
    finally:
        stack.paas("apps:destroy", "-a", names["app"], "--confirm", names["app"])
        for name in (names["db"], names["fresh"]):
            stack.paas("postgres:destroy", name, "--force", "--confirm", name)
        remove_service_leftovers(names["db"], names["fresh"])


def test_the_link_migrates_the_database_in_the_release_phase(stack, django_app):
    releases = stack.api("GET", f"/apps/{django_app['app']}/releases").json()
    assert releases[0]["description"] == "Set DATABASE_URL"
    assert "DATABASE_URL" in releases[0]["config_keys"]
    # The table is there (the release command migrated PostgreSQL), and empty.
    assert greetings(stack, django_app["app"]) == ""


def test_a_row_survives_a_redeploy_and_a_database_restart(stack, django_app):
    app = django_app["app"]
    assert greetings(stack, app, "/db/?text=first") == "first"

    repo = django_app["repo"]
    views = repo / "hello" / "views.py"
    views.write_text(views.read_text().replace("Hello from django-postgres",
                                               "Hello again from django-postgres"))
    commit_all(repo, "a code change")
    pushed = stack.push(repo, app)
    assert pushed.returncode == 0, pushed.stderr + stack.logs()
    assert stack.wait_for_answer(app, "Hello again from django-postgres").status == 200
    assert greetings(stack, app) == "first"

    (container,) = subprocess.run(
        ["docker", "ps", "-q", "--filter", f"label=paas.service={django_app['db']}"],
        capture_output=True, text=True, check=True).stdout.split()
    subprocess.run(["docker", "restart", container], capture_output=True, check=True)
    assert wait_for(lambda: greetings(stack, app) == "first"), greetings(stack, app)


def test_a_backup_restores_the_row_into_a_fresh_database(stack, django_app):
    app, db, fresh = django_app["app"], django_app["db"], django_app["fresh"]
    made = stack.paas("postgres:backup", db)
    assert made.returncode == 0, made.stderr
    (backup_id,) = [word for line in made.stdout.splitlines() if line.startswith("Backup ")
                    for word in line.split()[1:2]]
    created = stack.paas("postgres:create", fresh)
    assert created.returncode == 0, created.stderr + stack.logs()
    restored = stack.paas("postgres:restore", fresh, backup_id, "--confirm", fresh)
    assert restored.returncode == 0, restored.stdout + restored.stderr

    for argv in (("postgres:unlink", db, "-a", app), ("postgres:link", fresh, "-a", app)):
        changed = stack.paas(*argv)
        assert changed.returncode == 0, changed.stderr + stack.logs()
    info = stack.paas("apps:info", "-a", app).stdout
    assert fresh in info and f"{db} " not in info
    assert greetings(stack, app) == "first"
