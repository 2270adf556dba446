"""The main path, for real: git push of a Dockerfile app -> build -> container -> router."""

import subprocess
import time

import pytest

from tests.e2e.stack import commit_all, http_get, unique_app_name


@pytest.fixture(scope="module")
def hello(stack, tmp_path_factory):
    """dockerfile-hello pushed once and serving; shared by the tests of this module."""
    app = unique_app_name("hello")
    repo = stack.checkout("dockerfile-hello", tmp_path_factory.mktemp("hello"))
    # A step unique to this run, so BuildKit's cache cannot skip the trip to PyPI.
    dockerfile = repo / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + f"RUN echo {app} && /opt/venv/bin/pip "
                          "download --no-deps --no-cache-dir -d /tmp/wheels six==1.16.0\n")
    commit_all(repo, "unique build step")
    result = stack.push(repo, app)
    assert result.returncode == 0, result.stderr + stack.logs()
    return app, repo, result


def test_it_deploys_a_dockerfile_app_and_streams_the_build(stack, hello):
    app, repo, result = hello
    assert "remote: -----> dockerfile app detected" in result.stderr
    assert "Saved /tmp/wheels/six-1.16.0" in result.stderr  # pip reached PyPI through the CA
    assert "remote: -----> Released v1" in result.stderr
    answer = stack.get(app)
    assert answer.status == 200, stack.logs()
    assert answer.body == "Hello from dockerfile-hello\n"
    assert stack.server_ref(app) == subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()


def test_it_runs_the_container_on_loopback_with_paas_labels(stack, hello):
    app, _, _ = hello
    out = subprocess.run(
        ["docker", "ps", "--filter", f"label=paas.app={app}", "--format",
         '{{.Image}}|{{.Ports}}|{{.Label "paas.process"}}|{{.Label "paas.release"}}'],
        capture_output=True, text=True, check=True).stdout.split()
    assert len(out) == 1
    image, ports, process, release = out[0].split("|")
    assert image == f"paas/{app}:v1"
    assert ports.startswith("127.0.0.1:") and ports.endswith("->5000/tcp")
    assert (process, release) == ("web", "1")


def test_it_leaves_no_build_ca_in_the_image(stack, hello):
    app, _, _ = hello
    check = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "/bin/sh", f"paas/{app}:v1", "-c",
         "test ! -e /run/paas/build-ca.crt && env"],
        capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    assert "build-ca" not in check.stdout


def test_a_failed_build_rejects_the_push_and_keeps_the_old_release(stack, hello, tmp_path):
    app, repo, _ = hello
    before = stack.server_ref(app)
    (repo / "Dockerfile").write_text("FROM paas/stack:bookworm\nRUN echo about-to-fail && exit 3\n")
    commit_all(repo, "break the build")
    result = stack.push(repo, app)
    assert result.returncode != 0
    assert "about-to-fail" in result.stderr  # the build's own output reached the pusher
    assert "deploy failed" in result.stderr
    assert stack.server_ref(app) == before
    assert stack.get(app).body == "Hello from dockerfile-hello\n"
    subprocess.run(["git", "reset", "-q", "--hard", "HEAD~1"], cwd=repo, check=True)


def test_a_redeploy_replaces_the_container(stack, hello):
    app, repo, _ = hello
    server = repo / "server.py"
    server.write_text(server.read_text().replace("from dockerfile-hello", "again from hello"))
    commit_all(repo, "new greeting")
    result = stack.push(repo, app)
    assert result.returncode == 0, result.stderr
    assert stack.get(app).body == "Hello again from hello\n"

    # The push returns once v2 serves; v1's container drains and goes right after.
    def names() -> list[str]:
        return subprocess.run(["docker", "ps", "-a", "--filter", f"label=paas.app={app}",
                               "--format", "{{.Names}}"], capture_output=True,
                              text=True).stdout.split()

    for _ in range(60):
        if names() == [f"paas.{app}.web.1.v2"]:
            break
        time.sleep(0.5)
    assert names() == [f"paas.{app}.web.1.v2"]


def test_it_rejects_a_push_with_a_bad_token(stack, tmp_path):
    app = unique_app_name("denied")
    repo = stack.checkout("dockerfile-hello", tmp_path)
    result = stack.push(repo, app, token="not-a-token")
    assert result.returncode != 0
    answer = http_get(f"http://127.0.0.1:{stack.control_port}/git/{app}.git/info/refs"
                      "?service=git-receive-pack")
    assert answer.status == 401
    assert not (stack.home / "repos" / f"{app}.git").exists()


def test_it_refuses_an_invalid_app_name(stack, tmp_path):
    repo = stack.checkout("dockerfile-hello", tmp_path)
    result = stack.push(repo, "Bad_Name")
    assert result.returncode != 0
    assert "invalid app name 'Bad_Name'" in result.stderr
    assert not (stack.home / "repos" / "Bad_Name.git").exists()


def test_other_branches_are_stored_without_a_build(stack, hello):
    app, repo, _ = hello
    subprocess.run(["git", "checkout", "-q", "-b", "feature"], cwd=repo, check=True)
    commit_all(repo, "feature work")
    result = stack.push(repo, app, ref="feature")
    subprocess.run(["git", "checkout", "-q", "main"], cwd=repo, check=True)
    assert result.returncode == 0, result.stderr
    assert "Building" not in result.stderr
    assert stack.server_ref(app, "feature") is not None


def test_the_owner_can_clone_what_was_pushed(stack, hello, tmp_path):
    app, repo, _ = hello
    clone = subprocess.run(["git", "clone", "-q", stack.remote(app), str(tmp_path / "copy")],
                           capture_output=True, text=True, timeout=120)
    assert clone.returncode == 0, clone.stderr
    assert (tmp_path / "copy" / "server.py").read_text() == (repo / "server.py").read_text()
