"""The `paas` CLI against a live test server: every verb, and the roles' permissions."""

import json
import stat

import pytest

from paas.core.accounts import create_token
from paas.core.applications import create_app
from paas.core.models import App, Build
from tests.unit.cli.conftest import Terminal


@pytest.fixture
def shop(users, platform, transactional_db):
    app = create_app("shop", users.owner)
    app.collaborators.add(users.collaborator)
    platform.deploy(app, process_types={"web": None, "worker": "python worker.py"})
    return app


def test_login_with_a_token_keeps_it_private(tmp_path, live_server, users):
    term = Terminal(tmp_path / "cfg" / "config.json")
    token = create_token(users.owner)
    result = term("login", "--url", live_server.url, "--username", "owner", f"--token={token}")
    assert result.code == 0, result.err
    assert f"Logged in to {live_server.url} as owner" in result.out
    path = tmp_path / "cfg" / "config.json"
    assert json.loads(path.read_text())["token"] == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_login_refuses_a_bad_token_in_one_line(tmp_path, live_server, users):
    term = Terminal(tmp_path / "config.json")
    result = term("login", "--url", live_server.url, "--username", "owner", "--token", "nope")
    assert result.code == 1
    assert result.err == "paas: error: the server rejected your token; run `paas login`\n"
    assert not (tmp_path / "config.json").exists()


def test_commands_without_login_say_so(tmp_path):
    result = Terminal(tmp_path / "none.json")("apps")
    assert (result.code, result.err) == (1, "paas: error: not logged in: run `paas login`\n")


def test_an_unreachable_server_is_one_clear_line(tmp_path, users, transactional_db):
    term = Terminal(tmp_path / "config.json")
    (tmp_path / "config.json").write_text(json.dumps(
        {"url": "http://127.0.0.1:9", "username": "owner", "token": "x"}))
    result = term("apps")
    assert result.code == 1
    assert result.err.startswith("paas: error: cannot reach http://127.0.0.1:9/api")
    assert result.err.count("\n") == 1


def test_apps_lists_and_creates(terminal, users, shop):
    owner = terminal(users.owner)
    listed = owner("apps")
    assert listed.code == 0
    assert "shop" in listed.out and "running" in listed.out and "web=1" in listed.out
    created = owner("apps:create", "fresh")
    assert created.code == 0, created.err
    assert "Created fresh" in created.out and "/git/fresh.git" in created.out
    assert App.objects.get(name="fresh").owner == users.owner


def test_apps_create_reports_an_invalid_name_with_its_code(terminal, users):
    result = terminal(users.owner)("apps:create", "Bad_Name")
    assert result.code == 1
    assert result.err.startswith("paas: error: invalid app name 'Bad_Name'")
    assert result.err.rstrip().endswith("(invalid_app_name)")


def test_config_set_show_and_unset(terminal, users, shop, platform):
    collaborator = terminal(users.collaborator)
    result = collaborator("config:set", "GREETING=Howdy there", "MODE=fast", "-a", "shop")
    assert result.code == 0, result.err
    lines = result.err.splitlines()
    assert lines[0] == "Setting GREETING, MODE and restarting shop..."
    assert "-----> v2 is live" in lines  # the deploy's progress, as it happened
    assert lines[-1] == "done, v2"
    assert platform.scheduler.converged[-1].env == {"GREETING": "Howdy there", "MODE": "fast"}
    shown = collaborator("config", "-a", "shop")
    assert "GREETING: Howdy there" in shown.out
    unset = collaborator("config:unset", "MODE", "-a", "shop")
    assert unset.code == 0 and "done, v3" in unset.err
    assert App.objects.get(name="shop").config == {"GREETING": "Howdy there"}


def test_config_set_needs_key_value_pairs(terminal, users, shop):
    result = terminal(users.owner)("config:set", "GREETING", "-a", "shop")
    assert (result.code, result.err) == (1, "paas: error: expected KEY=VALUE, got 'GREETING'\n")


def test_ps_and_ps_scale(terminal, users, shop):
    owner = terminal(users.owner)
    scaled = owner("ps:scale", "web=2", "worker=1", "-a", "shop")
    assert scaled.code == 0, scaled.err
    assert scaled.err.splitlines()[-1] == "done, now web=2 worker=1"
    ps = owner("ps", "-a", "shop")
    assert "Formation: web=2 worker=1" in ps.out
    instances = ps.out.split("\n\n")[1]
    assert [line.split()[0] for line in instances.splitlines()[1:]] == [
        "web.1", "web.2", "worker.1"]


def test_ps_scale_rejects_bad_input(terminal, users, shop):
    owner = terminal(users.owner)
    assert owner("ps:scale", "web=two", "-a", "shop").code == 1
    unknown = owner("ps:scale", "clock=1", "-a", "shop")
    assert unknown.code == 1 and "(unknown_process_type)" in unknown.err
    assert shop.formations.get(process_type="web").quantity == 1


def test_releases_and_rollback(terminal, users, shop):
    owner = terminal(users.owner)
    owner("config:set", "GREETING=Howdy", "-a", "shop")
    rolled = owner("rollback", "v1", "-a", "shop")
    assert rolled.code == 0, rolled.err
    assert rolled.err.splitlines()[0] == "Rolling back shop to v1..."
    assert rolled.err.splitlines()[-1] == "done, v3"
    releases = owner("releases", "-a", "shop").out.splitlines()
    assert releases[1].split()[:2] == ["v3", "current"]
    assert "Rollback to v1" in releases[1]
    missing = owner("rollback", "v42", "-a", "shop")
    assert missing.code == 1
    assert missing.err.splitlines()[-1] == \
        "paas: error: shop has no release v42 (release_not_found)"


def test_builds_and_their_output(terminal, users, shop, settings):
    from paas.core.buildlog import log_path

    build = Build.objects.create(app=shop, commit_sha="d" * 40, branch="main",
                                 status=Build.Status.SUCCEEDED, builder="dockerfile")
    path = log_path(settings.PAAS_HOME, "shop", build.pk)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("-----> Building shop\n")
    collaborator = terminal(users.collaborator)
    listed = collaborator("builds", "-a", "shop")
    assert f"{build.pk}" in listed.out and "succeeded" in listed.out and "ddddddd" in listed.out
    output = collaborator("builds:output", str(build.pk), "-a", "shop")
    assert output.out == "-----> Building shop\n"


def test_domains_and_access(terminal, users, shop):
    owner = terminal(users.owner)
    assert owner("domains:add", "shop.example.com", "-a", "shop").code == 0
    assert owner("domains", "-a", "shop").out == "shop.example.com\n"
    assert owner("access:add", "outsider", "-a", "shop").code == 0
    assert owner("access", "-a", "shop").out == "collaborator\noutsider\n"
    assert owner("access:remove", "outsider", "-a", "shop").code == 0
    assert owner("domains:remove", "shop.example.com", "-a", "shop").code == 0
    assert owner("domains", "-a", "shop").out == "shop has no custom domains.\n"


def test_destroy_asks_for_the_name_and_only_the_owner_may(terminal, users, shop, platform):
    collaborator = terminal(users.collaborator)
    refused = collaborator("apps:destroy", "-a", "shop", "--confirm", "shop")
    assert refused.code == 1 and "(forbidden)" in refused.err
    owner = terminal(users.owner)
    wrong = owner("apps:destroy", "-a", "shop", answers=["shoe"])
    assert wrong.code == 1 and "nothing destroyed" in wrong.err
    assert App.objects.filter(name="shop").exists()
    done = owner("apps:destroy", "-a", "shop", answers=["shop"])
    assert done.code == 0, done.err
    assert not App.objects.filter(name="shop").exists()
    assert platform.scheduler.removed == ["shop"]


def test_outsider_sees_nothing_and_changes_nothing(terminal, users, shop):
    outsider = terminal(users.outsider)
    assert "No apps yet" in outsider("apps").out
    for argv in (["config"], ["config:set", "A=1"], ["ps:scale", "web=3"], ["rollback", "v1"],
                 ["releases"], ["builds"], ["apps:destroy", "--confirm", "shop"],
                 ["ps:resize", "web", "--memory", "64m"], ["storage"],
                 ["storage:add", "x:/x"], ["builds:cache:purge", "--confirm", "shop"]):
        result = outsider(*argv, "-a", "shop")
        assert result.code == 1, argv
        assert result.err.splitlines()[-1] == \
            "paas: error: app 'shop' not found (app_not_found)", argv
    shop.refresh_from_db()
    assert shop.config == {}
    assert shop.formations.get(process_type="web").quantity == 1


def test_the_app_comes_from_the_paas_git_remote(terminal, users, shop, tmp_path, monkeypatch):
    import subprocess

    subprocess.run(["git", "init", "-q", str(tmp_path / "work")], check=True)
    subprocess.run(["git", "-C", str(tmp_path / "work"), "remote", "add", "paas",
                    "http://owner:t@paas.example:8000/git/shop.git"], check=True)
    monkeypatch.chdir(tmp_path / "work")
    assert "web=1" in terminal(users.owner)("ps").out


def test_without_an_app_it_says_how_to_name_one(terminal, users, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = terminal(users.owner)("ps")
    assert result.code == 1 and "use -a APP" in result.err


def test_streamed_lines_drop_the_servers_keep_alives(monkeypatch):
    from paas.cli.client import Client

    class FakeResponse:
        status_code = 200
        encoding = None

        def iter_content(self, chunk_size=None, decode_unicode=False):
            yield from ["web.1 | a\n\r\r", "\rweb.1 | b", "\n\n\r"]

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    client = Client("http://paas.invalid", "token")
    monkeypatch.setattr(client, "_send", lambda *args, **kwargs: FakeResponse())
    assert list(client.stream("/apps/shop/logs")) == ["web.1 | a", "web.1 | b", ""]


def test_a_failing_deploy_prints_its_progress_then_the_error(terminal, users, shop, platform,
                                                              monkeypatch):
    from paas.errors import UserError

    def unhealthy(desired, log=None):
        log("       waiting for the app to answer (connection refused)")
        raise UserError("web.1 did not pass its health check", code="health_check_failed")

    monkeypatch.setattr(platform.scheduler, "converge", unhealthy)
    result = terminal(users.owner)("config:set", "A=1", "-a", "shop")
    assert result.code == 1
    lines = result.err.splitlines()
    assert "       waiting for the app to answer (connection refused)" in lines
    assert lines[-1] == "paas: error: web.1 did not pass its health check " \
                        "(health_check_failed)"
    assert App.objects.get(name="shop").config == {}


def test_ps_resize_sets_and_clears_limits(terminal, users, shop, platform):
    owner = terminal(users.owner)
    resized = owner("ps:resize", "web", "--memory", "256m", "--cpus", "0.5", "-a", "shop")
    assert resized.code == 0, resized.err
    assert resized.err.splitlines()[0] == \
        "Resizing web of shop to memory 256m, cpus 0.5..."
    assert resized.err.splitlines()[-1] == "done, web: memory 256m, cpus 0.5"
    limits = owner("ps", "-a", "shop").out.splitlines()[1:3]
    assert [line.split() for line in limits] == [
        ["TYPE", "MEMORY", "CPUS", "PIDS", "ROOT", "FS"],
        ["web", "256m", "0.5", "256", "writable"]]
    assert platform.scheduler.converged[-1].limits["web"]["memory"] == "256m"
    cleared = owner("ps:resize", "web", "--memory", "none", "-a", "shop")
    assert cleared.err.splitlines()[-1] == "done, web: memory 512m (default), cpus 0.5"
    web = owner("ps", "-a", "shop").out.splitlines()[2]
    assert web.split() == ["web", "512m", "(default)", "0.5", "256", "writable"]
    bad = owner("ps:resize", "web", "--memory", "lots", "-a", "shop")
    assert bad.code == 1 and bad.err.rstrip().endswith("(invalid_limit)")
    assert owner("ps:resize", "web", "-a", "shop").code == 1


def test_storage_add_list_and_remove(terminal, users, shop, platform):
    collaborator = terminal(users.collaborator)
    added = collaborator("storage:add", "uploads:/data", "-a", "shop")
    assert added.code == 0, added.err
    assert added.err.splitlines()[-1] == "done, uploads is mounted at /data"
    listed = collaborator("storage", "-a", "shop").out.splitlines()
    assert listed[1].split()[:2] == ["uploads", "/data"]
    assert collaborator("storage:add", "uploads", "-a", "shop").code == 1
    kept = collaborator("storage:remove", "uploads", "-a", "shop")
    assert kept.code == 0, kept.err
    assert f"paas-shop_{shop.uid}_uploads" in platform.scheduler.volumes  # unmounted, data kept
    assert "has no persistent storage" in collaborator("storage", "-a", "shop").out


def test_storage_remove_with_delete_data_asks_first(terminal, users, shop, platform):
    owner = terminal(users.owner)
    owner("storage:add", "uploads:/data", "-a", "shop")
    refused = owner("storage:remove", "uploads", "--delete-data", "-a", "shop",
                    answers=["nope"])
    assert refused.code == 1 and "nothing removed" in refused.err
    assert shop.volumes.count() == 1
    done = owner("storage:remove", "uploads", "--delete-data", "-a", "shop", answers=["shop"])
    assert done.code == 0, done.err
    assert platform.scheduler.volumes == {}


def test_builds_cache_purge_asks_to_confirm(terminal, users, shop, platform):
    from paas.build.buildpack_runner import cache_marker
    from paas.core.builds import cache_id

    platform.images.build_cache = [f"RUN {cache_marker(cache_id(shop))} pip install"]
    collaborator = terminal(users.collaborator)
    refused = collaborator("builds:cache:purge", "-a", "shop", answers=["shoe"])
    assert refused.code == 1 and "nothing purged" in refused.err
    assert len(platform.images.build_cache) == 1
    purged = collaborator("builds:cache:purge", "-a", "shop", "--confirm", "shop")
    assert purged.code == 0, purged.err
    assert purged.err == "Purging the build cache of shop... done, 1 cache record removed\n"
    assert platform.images.build_cache == []


def test_apps_info_says_why_an_app_crashed(terminal, users, shop):
    from django.utils import timezone

    App.objects.filter(pk=shop.pk).update(crashed_at=timezone.now(),
                                          crash_reason="web.1 crashed 4 times")
    info = terminal(users.owner)("apps:info", "-a", "shop").out
    assert "Status:        crashed" in info
    assert "Crashed:       web.1 crashed 4 times" in info


def test_help_lists_the_resource_verbs():
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        from paas.cli.main import build_parser

        build_parser().parse_args(["--help"])
    for verb in ("ps:resize", "storage:add", "storage:remove", "builds:cache:purge"):
        assert verb in out.getvalue()
