"""`paas login` with a password, `paas tokens*`, `paas users*` and the git credential helper,
against a live test server."""

import json
import subprocess
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from paas.core.accounts import authenticate_token
from paas.core.models import ApiToken
from tests.unit.cli.conftest import Terminal


@pytest.fixture
def superuser(transactional_db):
    return get_user_model().objects.create_superuser("root", password="root-pass")


def test_login_exchanges_a_prompted_password_for_a_new_named_token(tmp_path, live_server,
                                                                   users):
    term = Terminal(tmp_path / "config.json")
    result = term("login", "--token-name", "laptop",
                  answers=[live_server.url, "owner", "owner-pass"])
    assert result.code == 0, result.err
    assert result.out == f"Logged in to {live_server.url} as owner\n"
    saved = json.loads((tmp_path / "config.json").read_text())
    assert authenticate_token(saved["token"]) == users.owner
    assert ApiToken.objects.get(user=users.owner).name == "laptop"


def test_login_reads_the_password_from_stdin(tmp_path, live_server, users):
    term = Terminal(tmp_path / "config.json")
    result = term("login", "--url", live_server.url, "--username", "owner", "--password-stdin",
                  "--expires-in", "7", stdin="owner-pass\n")
    assert result.code == 0, result.err
    token = ApiToken.objects.get(user=users.owner)
    assert token.name.startswith("cli-") and token.expires_at is not None


def test_login_refuses_a_wrong_password_and_stores_nothing(tmp_path, live_server, users):
    term = Terminal(tmp_path / "config.json")
    result = term("login", "--url", live_server.url, "--username", "owner", "--password-stdin",
                  stdin="wrong\n")
    assert result.code == 1
    assert result.err == "paas: error: wrong username or password (invalid_credentials)\n"
    assert not (tmp_path / "config.json").exists()
    assert not ApiToken.objects.filter(user=users.owner).exists()


def test_tokens_create_prints_the_token_alone_on_the_last_line(terminal, users):
    owner = terminal(users.owner)
    created = owner("tokens:create", "ci", "--expires-in", "30")
    assert created.code == 0, created.err
    token = created.out.splitlines()[-1]
    assert authenticate_token(token) == users.owner
    assert "Created token ci for owner (expires " in created.out
    listed = owner("tokens").out.splitlines()
    assert listed[0].split() == ["NAME", "PREFIX", "CREATED", "LAST", "USED", "EXPIRES"]
    assert any(line.split()[:2] == ["ci", token[:8]] for line in listed[1:])


def test_tokens_revoke_by_name_or_prefix_stops_the_token(terminal, users):
    owner = terminal(users.owner)
    first = owner("tokens:create", "one").out.splitlines()[-1]
    second = owner("tokens:create", "two").out.splitlines()[-1]
    assert owner("tokens:revoke", "one").out == "Revoked token one (" + first[:8] + "…)\n"
    assert owner("tokens:revoke", second[:8]).code == 0
    assert authenticate_token(first) is None and authenticate_token(second) is None
    missing = owner("tokens:revoke", "one")
    assert missing.code == 1 and missing.err.rstrip().endswith("(token_not_found)")


def test_tokens_create_refuses_a_bad_or_taken_name(terminal, users):
    owner = terminal(users.owner)
    before = ApiToken.objects.count()
    bad = owner("tokens:create", "Bad Name")
    assert bad.code == 1 and bad.err.rstrip().endswith("(invalid_token_name)")
    assert owner("tokens:create", "ci").code == 0
    taken = owner("tokens:create", "ci")
    assert taken.code == 1 and taken.err.rstrip().endswith("(token_name_taken)")
    assert ApiToken.objects.count() == before + 1


def test_a_superuser_creates_a_token_for_another_user(terminal, users, superuser):
    created = terminal(superuser)("tokens:create", "deploy", "--user", "owner")
    assert created.code == 0, created.err
    assert authenticate_token(created.out.splitlines()[-1]) == users.owner
    refused = terminal(users.outsider)("tokens:create", "steal", "--user", "owner")
    assert refused.code == 1 and "(forbidden)" in refused.err
    assert not ApiToken.objects.filter(name="steal").exists()


def test_users_add_prints_a_one_time_password_that_logs_in(terminal, superuser, tmp_path,
                                                           live_server):
    root = terminal(superuser)
    created = root("users:add", "dana")
    assert created.code == 0, created.err
    password = created.out.splitlines()[-1]
    dana = get_user_model().objects.get(username="dana")
    assert dana.check_password(password) and not dana.is_staff
    assert password not in dana.password  # only Django's hash is stored
    assert "dana" in root("users").out
    login = Terminal(tmp_path / "dana.json")("login", "--url", live_server.url, "--username",
                                             "dana", "--password-stdin", stdin=password + "\n")
    assert login.code == 0, login.err


def test_users_verbs_are_for_superusers_only(terminal, users):
    outsider = terminal(users.outsider)
    for argv in (["users"], ["users:add", "eve"], ["users:deactivate", "owner"]):
        result = outsider(*argv)
        assert result.code == 1 and result.err.rstrip().endswith("(forbidden)"), argv
    assert not get_user_model().objects.filter(username="eve").exists()
    assert get_user_model().objects.get(username="owner").is_active


def test_a_deactivated_user_cannot_use_their_token(terminal, users, superuser):
    owner = terminal(users.owner)
    assert terminal(superuser)("users:deactivate", "owner").code == 0
    assert owner("apps").err == "paas: error: the server rejected your token; run `paas login`\n"


def _git(repo, *args) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                          text=True).stdout


def test_git_remote_keeps_the_token_out_of_git_config(terminal, users, app, tmp_path,
                                                      monkeypatch, live_server):
    owner = terminal(users.owner)
    repo = tmp_path / "work"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    monkeypatch.chdir(repo)
    result = owner("git:remote", "-a", "shop")
    assert result.code == 0, result.err
    host = live_server.url.split("://", 1)[1]
    assert _git(repo, "remote", "get-url", "paas").strip() == \
        f"http://owner@{host}/git/shop.git"
    token = json.loads(Path(owner.environ["PAAS_CONFIG"]).read_text())["token"]
    git_config = (repo / ".git" / "config").read_text()
    assert token not in git_config
    assert "git:credential" in git_config


def test_git_remote_for_a_name_you_do_not_have_says_the_first_push_creates_it(
        terminal, users, app, tmp_path, monkeypatch):
    repo = tmp_path / "work"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    monkeypatch.chdir(repo)
    # Someone else's app looks exactly like a free name: nothing about it is revealed.
    for name in ("shop", "fresh"):
        result = terminal(users.outsider)("git:remote", "-a", name)
        assert result.code == 0, result.err
        assert f"You have no app {name} yet: your first push creates it." in result.out
        assert _git(repo, "remote", "get-url", "paas").strip().endswith(f"/git/{name}.git")


def test_git_remote_refuses_an_invalid_app_name(terminal, users, tmp_path, monkeypatch):
    repo = tmp_path / "work"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    monkeypatch.chdir(repo)
    result = terminal(users.owner)("git:remote", "-a", "Bad_Name")
    assert result.code == 1 and result.err.rstrip().endswith("(invalid_app_name)")
    assert "paas" not in _git(repo, "remote")


def test_git_credential_answers_only_for_its_own_server(terminal, users, live_server):
    owner = terminal(users.owner)
    saved = json.loads(Path(owner.environ["PAAS_CONFIG"]).read_text())
    host = live_server.url.split("://", 1)[1]
    answer = owner("git:credential", "get",
                   stdin=f"protocol=http\nhost={host}\nusername=owner\n\n")
    assert answer.out == f"username=owner\npassword={saved['token']}\n"
    for other in ("protocol=http\nhost=elsewhere.example\n\n",
                  f"protocol=https\nhost={host}\n\n",
                  f"protocol=http\nhost={host}\nusername=outsider\n\n"):
        assert owner("git:credential", "get", stdin=other).out == "", other
    assert owner("git:credential", "store", stdin="protocol=http\n\n").out == ""
