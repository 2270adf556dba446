"""Django apps on the python buildpack: collectstatic at build time, or not when asked.

The python-django sample serves its static files with whitenoise, which serves only what
``collectstatic`` put into STATIC_ROOT: a static file answering through the router proves the
build ran it, and a 404 proves ``DISABLE_COLLECTSTATIC`` skipped it.
"""

import subprocess

import pytest

from tests.e2e.stack import unique_app_name

GREETING = "Hello from python-django\n"


def run_in_image(image: str, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "run", "--rm", "--network", "none", image, *argv],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def django_app(stack, tmp_path_factory):
    app = unique_app_name("django")
    repo = stack.checkout("python-django", tmp_path_factory.mktemp("django"))
    result = stack.push(repo, app)
    assert result.returncode == 0, result.stderr + stack.logs()
    return app, result


def test_it_runs_collectstatic_at_build_time(stack, django_app):
    app, result = django_app
    assert "remote: -----> python app detected" in result.stderr
    assert "remote: -----> Running manage.py collectstatic --noinput" in result.stderr
    assert "1 static file copied to '/app/staticfiles'" in result.stderr  # Django's own words
    answer = stack.get(app)
    assert answer.status == 200
    assert answer.body == GREETING  # the Procfile's `exec gunicorn hello.wsgi`


def test_the_collected_static_file_is_served_by_the_app(stack, django_app):
    app, _ = django_app
    answer = stack.get(app, "/static/greeting.css")
    assert answer.status == 200
    assert "rebeccapurple" in answer.body
    check = run_in_image(f"paas/{app}:v1", "test", "-f", "/app/staticfiles/greeting.css")
    assert check.returncode == 0, check.stderr


def test_disable_collectstatic_set_before_the_first_push_skips_it(stack, tmp_path):
    app = unique_app_name("nostatic")
    repo = stack.checkout("python-django", tmp_path)
    # A push to another branch creates the app and stores the code without building it, so the
    # config var is in place for the first build.
    stored = stack.push(repo, app, ref="main:refs/heads/setup")
    assert stored.returncode == 0, stored.stderr + stack.logs()
    assert "Building" not in stored.stderr
    assert stack.server_ref(app, "setup") is not None
    configured = stack.paas("config:set", "DISABLE_COLLECTSTATIC=1", "-a", app)
    assert configured.returncode == 0, configured.stderr
    assert configured.stderr.splitlines()[-1] == "done (takes effect on next deploy)"
    assert stack.api("GET", f"/apps/{app}/config").json() == {"DISABLE_COLLECTSTATIC": "1"}
    assert stack.api("GET", f"/apps/{app}/releases").json() == []  # no release yet

    result = stack.push(repo, app)
    assert result.returncode == 0, result.stderr + stack.logs()
    assert "remote: -----> Skipping collectstatic (DISABLE_COLLECTSTATIC is set)" \
        in result.stderr
    assert "collectstatic --noinput" not in result.stderr
    assert stack.get(app).body == GREETING
    assert stack.get(app, "/static/greeting.css").status == 404
    check = run_in_image(f"paas/{app}:v1", "test", "-e", "/app/staticfiles")
    assert check.returncode == 1, "STATIC_ROOT should not exist without collectstatic"
