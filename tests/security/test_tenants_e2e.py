"""Two tenants on one real stack: users the admin made with `paas users:add`, each pushing with
their own token. The second cannot see, push to, clone, read the logs of (app, build, SSE and
action logs) or route a domain to the first one's app; `paas git:remote` pushes without the
token in .git/config."""

import json
import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.e2e.stack import (
    cli_error,
    commit_all,
    git,
    http_get,
    http_request,
    run_cli,
    unique_app_name,
)


@dataclass
class Tenant:
    username: str
    password: str
    config: Path

    def paas(self, *argv: str, stdin: str | None = None, cwd: Path | None = None):
        return run_cli(self.config, *argv, stdin=stdin, cwd=cwd or self.config.parent,
                       timeout=600)

    @property
    def token(self) -> str:
        return json.loads(self.config.read_text())["token"]


def _add_tenant(stack, home: Path, role: str) -> Tenant:
    username = f"{role}-{uuid.uuid4().hex[:6]}"
    added = stack.paas("users:add", username)
    assert added.returncode == 0, added.stderr
    password = added.stdout.splitlines()[-1]
    tenant = Tenant(username, password, home / username / "config.json")
    tenant.config.parent.mkdir(parents=True)
    login = tenant.paas("login", "--url", stack.control_url, "--username", username,
                        "--password-stdin", stdin=password + "\n")
    assert login.returncode == 0, login.stderr
    return tenant


@pytest.fixture(scope="module")
def tenants(stack, tmp_path_factory):
    """The first tenant's app deployed through `paas git:remote`; the second's with a token
    from `paas tokens:create`."""
    home = tmp_path_factory.mktemp("tenants")
    first, second = _add_tenant(stack, home, "first"), _add_tenant(stack, home, "second")

    first_app = unique_app_name("tenant-a")  # created by its first push, through the remote
    first_repo = stack.checkout("dockerfile-hello", home / "first-work")
    remote = first.paas("git:remote", "-a", first_app, cwd=first_repo)
    assert remote.returncode == 0, remote.stderr
    assert "your first push creates it" in remote.stdout
    stack.apps.add(first_app)
    pushed = subprocess.run(["git", "push", "paas", "main"], cwd=first_repo,
                            capture_output=True, text=True, timeout=1200,
                            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
    assert pushed.returncode == 0, pushed.stderr + stack.logs()

    created = second.paas("tokens:create", "laptop")
    assert created.returncode == 0, created.stderr
    second_token = created.stdout.splitlines()[-1]
    second_app = unique_app_name("tenant-b")
    second_repo = stack.checkout("dockerfile-hello", home / "second-work")
    pushed = stack.push(second_repo, second_app, token=second_token, username=second.username)
    assert pushed.returncode == 0, pushed.stderr + stack.logs()
    return {"first": first, "second": second, "first_app": first_app,
            "second_app": second_app, "first_repo": first_repo, "second_repo": second_repo,
            "second_token": second_token, "home": home}


def _first_state(stack, tenants) -> dict:
    """What the second tenant must not change: the first app as its owner sees it."""
    first, app = tenants["first"], tenants["first_app"]
    shown = stack.api("GET", f"/apps/{app}", token=first.token).json()
    return {"ref": stack.server_ref(app), "release": shown["current_release"],
            "domains": shown["domains"], "collaborators": shown["collaborators"],
            "config": stack.api("GET", f"/apps/{app}/config", token=first.token).json(),
            "answer": stack.get(app).body}


def test_each_tenant_pushed_their_own_app_with_their_own_token(stack, tenants):
    assert stack.get(tenants["first_app"]).body == "Hello from dockerfile-hello\n"
    assert stack.get(tenants["second_app"]).body == "Hello from dockerfile-hello\n"
    owners = {a["name"]: a["owner"] for a in stack.api("GET", "/apps").json()}
    assert owners[tenants["first_app"]] == tenants["first"].username
    assert owners[tenants["second_app"]] == tenants["second"].username


def test_git_remote_keeps_the_token_out_of_git_config(tenants):
    first, repo = tenants["first"], tenants["first_repo"]
    config = (repo / ".git" / "config").read_text()
    assert first.token not in config
    assert git(repo, "remote", "get-url", "paas").startswith(f"http://{first.username}@")
    assert "git:credential" in config


def test_the_second_tenant_does_not_see_the_first_tenants_app(stack, tenants):
    second, app = tenants["second"], tenants["first_app"]
    listed = second.paas("apps")
    assert listed.returncode == 0 and app not in listed.stdout
    assert tenants["second_app"] in listed.stdout
    assert cli_error(second.paas("apps:info", "-a", app)) == \
        (f"app '{app}' not found", "app_not_found")


def test_it_refuses_the_second_tenants_push_to_the_first_tenants_app(stack, tenants):
    before = _first_state(stack, tenants)
    repo = tenants["second_repo"]
    (repo / "marker.txt").write_text("second tenant was here\n")
    commit_all(repo, "not yours")
    pushed = stack.push(repo, tenants["first_app"], token=tenants["second_token"],
                        username=tenants["second"].username)
    assert pushed.returncode != 0
    assert f"app '{tenants['first_app']}' not found" in pushed.stderr
    assert _first_state(stack, tenants) == before


def test_it_refuses_the_second_tenant_a_clone_of_the_first_tenants_app(stack, tenants):
    second, app = tenants["second"], tenants["first_app"]
    url = stack.remote(app, token=tenants["second_token"], username=second.username)
    target = tenants["home"] / "stolen"
    cloned = subprocess.run(["git", "clone", url, str(target)], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
    assert cloned.returncode != 0
    assert f"app '{app}' not found" in cloned.stderr
    assert not (target / "server.py").exists()


def test_it_refuses_the_second_tenant_every_log_of_the_first_tenants_app(stack, tenants):
    first, second, app = tenants["first"], tenants["second"], tenants["first_app"]
    build_id = stack.api("GET", f"/apps/{app}/builds", token=first.token).json()[0]["id"]
    # A deploy action of the first tenant's, to try its log.
    started = http_request(f"{stack.control_url}/api/apps/{app}/config", method="PATCH",
                           data=json.dumps({"set": {"GREETING": "Hi"}}).encode(),
                           headers={"Authorization": f"Bearer {first.token}",
                                    "Content-Type": "application/json",
                                    "Prefer": "respond-async"}, timeout=60)
    assert started.status == 202, started.body
    action_id = started.json()["id"]
    stack.wait_for_answer(app, "Hi from")
    before = _first_state(stack, tenants)

    for path in (f"/apps/{app}/logs", f"/apps/{app}/builds", f"/apps/{app}/builds/{build_id}",
                 f"/apps/{app}/builds/{build_id}/log", f"/apps/{app}/actions/{action_id}",
                 f"/apps/{app}/actions/{action_id}/log", f"/apps/{app}/releases",
                 f"/apps/{app}/config"):
        answer = stack.api("GET", path, token=second.token)
        assert answer.status == 404, (path, answer.status)
        assert answer.json()["error"]["code"] == "app_not_found", path
    assert cli_error(second.paas("logs", "-a", app))[1] == "app_not_found"
    assert cli_error(second.paas("builds:output", str(build_id), "-a", app))[1] == \
        "app_not_found"

    dashboard = requests.Session()
    page = dashboard.get(f"{stack.control_url}/login/", timeout=30)
    signed_in = dashboard.post(f"{stack.control_url}/login/", timeout=30, data={
        "username": second.username, "password": second.password,
        "csrfmiddlewaretoken": dashboard.cookies["csrftoken"]}, allow_redirects=False)
    assert page.status_code == 200 and signed_in.status_code == 302
    assert dashboard.get(f"{stack.control_url}/apps/{tenants['second_app']}/",
                         timeout=30).status_code == 200
    for path in (f"/apps/{app}/", f"/apps/{app}/logs/", f"/apps/{app}/logs/stream",
                 f"/apps/{app}/builds/{build_id}/", f"/apps/{app}/builds/{build_id}/stream",
                 f"/apps/{app}/actions/{action_id}/stream"):
        answer = dashboard.get(f"{stack.control_url}{path}", timeout=30, stream=True)
        assert answer.status_code == 404, (path, answer.status_code)
        assert "data:" not in answer.text, path
    assert _first_state(stack, tenants) == before


def test_it_refuses_the_second_tenant_a_domain_on_the_first_tenants_app(stack, tenants):
    second, app = tenants["second"], tenants["first_app"]
    before = _first_state(stack, tenants)
    hostname = f"{tenants['second_app']}-hijack.example.test"
    assert cli_error(second.paas("domains:add", hostname, "-a", app)) == \
        (f"app '{app}' not found", "app_not_found")
    answer = stack.api("POST", f"/apps/{app}/domains", {"hostname": hostname},
                       token=second.token)
    assert answer.status == 404
    assert _first_state(stack, tenants) == before
    routed = http_get(f"http://127.0.0.1:{stack.router_port}/", host=hostname)
    assert "from dockerfile-hello" not in routed.body


def test_a_revoked_token_pushes_nothing(stack, tenants):
    second = tenants["second"]
    created = second.paas("tokens:create", "short-lived", "--expires-in", "1")
    token = created.stdout.splitlines()[-1]
    assert created.returncode == 0 and "expires" in created.stdout
    revoked = second.paas("tokens:revoke", "short-lived")
    assert revoked.returncode == 0, revoked.stderr
    repo = tenants["second_repo"]
    before = stack.server_ref(tenants["second_app"])
    pushed = stack.push(repo, tenants["second_app"], token=token, username=second.username)
    assert pushed.returncode != 0
    assert "Authentication failed" in pushed.stderr or "401" in pushed.stderr
    assert stack.server_ref(tenants["second_app"]) == before
    assert stack.api("GET", "/whoami", token=token).status == 401
