"""Buildpack apps for real: git push of apps without a Dockerfile -> buildpack build -> router.

One Flask app is pushed once per module and reused: first deploy, a code-only redeploy (the
dependency layer must be the same layer), then a failing requirements.txt (the old release must
keep serving).
"""

import shutil
import subprocess

import pytest

from tests.e2e.stack import APPS_DIR, commit_all, git, unique_app_name

STACK_IMAGE = "paas/stack:bookworm"


def layers(ref: str) -> list[str]:
    out = subprocess.run(["docker", "image", "inspect", "--format",
                          "{{range .RootFS.Layers}}{{println .}}{{end}}", ref],
                         capture_output=True, text=True, check=True).stdout
    return out.split()


@pytest.fixture(scope="module")
def flask(stack, tmp_path_factory):
    """python-flask pushed once and serving; shared by the tests of this module, in order."""
    app = unique_app_name("flask")
    repo = stack.checkout("python-flask", tmp_path_factory.mktemp("flask"))
    result = stack.push(repo, app)
    assert result.returncode == 0, result.stderr + stack.logs()
    return app, repo, result


def test_it_deploys_a_flask_app_with_the_python_buildpack(stack, flask):
    app, _, result = flask
    assert "remote: -----> python app detected" in result.stderr
    assert "remote: -----> Installing requirements with pip" in result.stderr
    assert "Successfully installed" in result.stderr  # pip's own output reached the pusher
    assert "remote: -----> Released v1" in result.stderr
    answer = stack.get(app)
    assert answer.status == 200
    assert answer.body == "Hello from python-flask\n"


def test_the_image_runs_as_app_without_build_secrets_or_buildpack(stack, flask):
    app, _, _ = flask
    check = subprocess.run(
        ["docker", "run", "--rm", f"paas/{app}:v1", "/bin/sh", "-c",
         # BuildKit leaves empty mount points behind; nothing that was mounted may remain.
         "id -un; test -z \"$(find /paas /run/paas -type f ! -empty 2>/dev/null)\" "
         "&& command -v gunicorn && env"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    user, gunicorn, *env = check.stdout.split("\n")
    assert user == "app"
    assert gunicorn == "/app/.paas/python/bin/gunicorn"  # PATH from .profile.d via paas-launch
    assert not [line for line in env if "build-ca" in line]


def test_a_code_only_push_reuses_the_dependency_layer(stack, flask):
    app, repo, _ = flask
    source = repo / "app.py"
    source.write_text(source.read_text().replace("Hello from", "Hello again from"))
    commit_all(repo, "new greeting")
    result = stack.push(repo, app)
    assert result.returncode == 0, result.stderr + stack.logs()
    assert "Dependencies unchanged: reused the dependency layer" in result.stderr
    assert "Installing requirements" not in result.stderr
    assert stack.get(app).body == "Hello again from python-flask\n"

    stack_layers = len(layers(STACK_IMAGE))
    v1, v2 = layers(f"paas/{app}:v1"), layers(f"paas/{app}:v2")
    # stack layers, then the dependency layer, then the app layer: nothing else
    assert len(v1) == len(v2) == stack_layers + 2
    assert v1[:stack_layers] == v2[:stack_layers] == layers(STACK_IMAGE)
    assert v1[stack_layers] == v2[stack_layers], "the dependency layer was rebuilt"
    assert v1[-1] != v2[-1], "the app layer should hold the new code"


def test_a_failing_pip_install_rejects_the_push_and_keeps_the_old_release(stack, flask):
    app, repo, _ = flask
    before = stack.server_ref(app)
    shutil.copy(APPS_DIR / "python-bad-requirements" / "requirements.txt", repo)
    commit_all(repo, "a requirement that does not exist")
    result = stack.push(repo, app)
    assert result.returncode != 0
    # pip's own words, then paas's
    assert "No matching distribution found for paas-no-such-package-xyzzy==9.9.9" \
        in result.stderr
    assert "the python buildpack failed while installing dependencies (exit status 1)" \
        in result.stderr
    assert stack.server_ref(app) == before
    assert stack.get(app).body == "Hello again from python-flask\n"
    git(repo, "reset", "-q", "--hard", "HEAD~1")


def test_it_deploys_an_express_app_with_the_nodejs_buildpack(stack, tmp_path):
    app = unique_app_name("express")
    repo = stack.checkout("nodejs-express", tmp_path)
    result = stack.push(repo, app)
    assert result.returncode == 0, result.stderr + stack.logs()
    assert "remote: -----> nodejs app detected" in result.stderr
    assert "remote: -----> Installing node modules with npm ci" in result.stderr
    answer = stack.get(app)
    assert answer.status == 200
    assert answer.body == "Hello from nodejs-express\n"  # `npm start`, the buildpack's default


def test_it_serves_a_static_site_and_hides_the_platforms_files(stack, tmp_path):
    app = unique_app_name("static")
    repo = stack.checkout("static-site", tmp_path)
    result = stack.push(repo, app)
    assert result.returncode == 0, result.stderr + stack.logs()
    assert "remote: -----> static app detected" in result.stderr
    answer = stack.get(app)
    assert answer.status == 200
    assert "<h1>Hello from static-site</h1>" in answer.body
    assert stack.get(app, "/style.css").status == 200
    assert stack.get(app, "/.paas/static/server.py").status == 404
    assert stack.get(app, "/.profile.d/").status == 404


def test_it_runs_a_third_party_buildpack_named_in_dot_buildpacks(stack, tmp_path):
    """A buildpack from the operator's directory, following the classic contract."""
    buildpack = stack.home / "buildpacks" / "greeter"
    (buildpack / "bin").mkdir(parents=True)
    scripts = {
        "detect": '#!/bin/sh\n[ -f "$1/greeting.txt" ] && echo Greeter\n',
        "compile": '#!/bin/sh\nset -e\necho "-----> greeter compiling"\n'
                   'tr a-z A-Z < "$1/greeting.txt" > "$1/shout.txt"\n',
        "release": "#!/bin/sh\nprintf -- '---\\ndefault_process_types:\\n"
                   "  web: python3 -m http.server $PORT\\n'\n",
    }
    for name, text in scripts.items():
        (buildpack / "bin" / name).write_text(text)
        (buildpack / "bin" / name).chmod(0o755)
    repo = tmp_path / "greeter-app"
    repo.mkdir()
    (repo / "greeting.txt").write_text("hello from greeter\n")
    (repo / ".buildpacks").write_text(f"# ours\n{buildpack}\n")
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "greeter app")
    app = unique_app_name("greeter")
    result = stack.push(repo, app)
    assert result.returncode == 0, result.stderr + stack.logs()
    assert "remote: -----> Using buildpack greeter" in result.stderr
    assert "remote: -----> Greeter app detected" in result.stderr
    assert "remote: -----> greeter compiling" in result.stderr
    assert stack.get(app, "/shout.txt").body == "HELLO FROM GREETER\n"


def test_a_tree_nothing_can_build_rejects_the_push_saying_what_was_looked_for(stack, tmp_path):
    repo = tmp_path / "nothing"
    repo.mkdir()
    (repo / "README.md").write_text("no code here\n")
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "nothing to build")
    app = unique_app_name("nothing")
    result = stack.push(repo, app)
    assert result.returncode != 0
    assert "could not detect how to build this app" in result.stderr
    for looked_for in ("a Dockerfile", "requirements.txt", "package.json", "index.html"):
        assert looked_for in result.stderr
    assert stack.server_ref(app) is None
