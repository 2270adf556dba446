"""pyproject.toml + uv.lock on the python buildpack: exactly the locked versions, or a failed push.

The python-uv sample's lock pins werkzeug below the newest release on purpose: finding the locked
version in the image shows the lock was installed, not a fresh resolve of pyproject.toml.
"""

import subprocess
import tomllib

import pytest

from tests.e2e.stack import APPS_DIR, commit_all, git, unique_app_name


def locked_versions() -> dict[str, str]:
    lock = tomllib.loads((APPS_DIR / "python-uv" / "uv.lock").read_text())
    return {package["name"]: package["version"] for package in lock["package"]}


def installed(image: str, distribution: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker", "run", "--rm", "--network", "none", image, "python", "-c",
         f"import importlib.metadata as m; print(m.version({distribution!r}))"],
        capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def uv_app(stack, tmp_path_factory):
    app = unique_app_name("uvlock")
    repo = stack.checkout("python-uv", tmp_path_factory.mktemp("uv"))
    result = stack.push(repo, app)
    assert result.returncode == 0, result.stderr + stack.logs()
    return app, repo, result


def test_it_installs_exactly_what_uv_lock_pins(stack, uv_app):
    app, _, result = uv_app
    assert "remote: -----> Installing dependencies from uv.lock with uv" in result.stderr
    assert "remote: -----> Installing uv 0.13.9 (a build tool, checked against its pinned " \
        "sha256)" in result.stderr
    assert stack.get(app).body == "Hello from python-uv\n"
    versions = locked_versions()
    for distribution in ("werkzeug", "flask", "gunicorn"):
        check = installed(f"paas/{app}:v1", distribution)
        assert check.returncode == 0, check.stderr
        assert check.stdout.strip() == versions[distribution]
    # The dev group and uv itself stay out of the image.
    assert installed(f"paas/{app}:v1", "pytest").returncode != 0
    assert installed(f"paas/{app}:v1", "uv").returncode != 0
    leftover = subprocess.run(["docker", "run", "--rm", "--entrypoint", "/bin/sh",
                               f"paas/{app}:v1", "-c", "ls -d /tmp/paas-uv.* 2>/dev/null"],
                              capture_output=True, text=True)
    assert leftover.stdout == "", leftover.stdout  # the verified uv went with its build step


def test_a_lock_that_no_longer_matches_pyproject_fails_the_push(stack, uv_app):
    app, repo, _ = uv_app
    before = stack.server_ref(app)
    pyproject = repo / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(
        '"gunicorn>=23"]', '"gunicorn>=23", "itsdangerous>=2"]'))
    commit_all(repo, "a dependency added without `uv lock`")
    result = stack.push(repo, app)
    assert result.returncode != 0
    assert "needs to be updated, but `--locked` was provided" in result.stderr  # uv's words
    assert "the python buildpack failed while installing dependencies (exit status" \
        in result.stderr
    assert stack.server_ref(app) == before
    assert stack.get(app).body == "Hello from python-uv\n"
    git(repo, "reset", "-q", "--hard", "HEAD~1")
