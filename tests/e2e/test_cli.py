"""The `paas` CLI from a terminal against the real stack: every verb changes the running app."""

import subprocess

import pytest

from tests.e2e.stack import PROJECT_DIR, run_cli, unique_app_name


@pytest.fixture(scope="module")
def cli_home(tmp_path_factory):
    return tmp_path_factory.mktemp("cli")


def paas(home, *argv: str, stdin: str | None = None, who: str = "admin",
         timeout: float = 300) -> subprocess.CompletedProcess:
    """The installed ``paas`` as user ``who``, each with their own login under ``home``."""
    return run_cli(home / who / "config.json", *argv, stdin=stdin, cwd=home, timeout=timeout)


@pytest.fixture(scope="module")
def deployed(stack, cli_home):
    app = unique_app_name("cli")
    repo = stack.checkout("dockerfile-hello", cli_home)
    result = stack.push(repo, app)
    assert result.returncode == 0, result.stderr + stack.logs()
    url = f"http://127.0.0.1:{stack.control_port}"
    login = paas(cli_home, "login", stdin=f"{url}\n{stack.username}\n{stack.token}\n")
    assert login.returncode == 0, login.stderr
    return app


def test_apps_lists_the_pushed_app(cli_home, deployed):
    result = paas(cli_home, "apps")
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith(deployed))
    assert line.split()[1:4] == ["running", "v1", "web=1"]


def test_config_set_changes_the_answer_and_unset_restores_it(stack, cli_home, deployed):
    result = paas(cli_home, "config:set", "GREETING=Bonjour", "-a", deployed)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == f"Setting GREETING and restarting {deployed}..."
    assert "-----> v2 is live" in lines  # the worker's progress, as it happened
    assert lines[-1] == "done, v2"
    assert stack.get(deployed).body == "Bonjour from dockerfile-hello\n"
    assert "GREETING: Bonjour" in paas(cli_home, "config", "-a", deployed).stdout


def test_ps_scale_runs_two_web_instances(cli_home, deployed):
    result = paas(cli_home, "ps:scale", "web=2", "-a", deployed)
    assert result.returncode == 0, result.stderr
    ps = paas(cli_home, "ps", "-a", deployed).stdout
    assert "Formation: web=2" in ps
    instances = ps.split("\n\n")[1]  # after the limits table
    assert [line.split()[:2] for line in instances.splitlines()[1:]] == [
        ["web.1", "running"], ["web.2", "running"]]


def test_rollback_restores_the_old_answer(stack, cli_home, deployed):
    result = paas(cli_home, "rollback", "v1", "-a", deployed)
    assert result.returncode == 0, result.stderr
    assert "done, v3" in result.stderr
    assert stack.get(deployed).body == "Hello from dockerfile-hello\n"
    releases = paas(cli_home, "releases", "-a", deployed).stdout.splitlines()
    assert releases[1].split()[:2] == ["v3", "current"]


def test_ps_resize_and_storage_reach_the_containers(stack, cli_home, deployed):
    resized = paas(cli_home, "ps:resize", "web", "--memory", "128m", "-a", deployed)
    assert resized.returncode == 0, resized.stderr
    assert resized.stderr.splitlines()[-1] == "done, web: memory 128m, cpus unlimited"
    web = paas(cli_home, "ps", "-a", deployed).stdout.splitlines()[2]
    assert web.split()[:3] == ["web", "128m", "unlimited"]
    added = paas(cli_home, "storage:add", "files:/srv/files", "-a", deployed)
    assert added.returncode == 0, added.stderr
    names = subprocess.run(["docker", "ps", "-q", "--filter", f"label=paas.app={deployed}"],
                           capture_output=True, text=True, check=True).stdout.split()
    inspected = subprocess.run(
        ["docker", "inspect", "--format",
         "{{.HostConfig.Memory}} {{range .Mounts}}{{.Destination}}{{end}}", *names],
        capture_output=True, text=True, check=True).stdout.splitlines()
    assert set(inspected) == {f"{128 * 1024 * 1024} /srv/files"}
    assert "files" in paas(cli_home, "storage", "-a", deployed).stdout
    removed = paas(cli_home, "storage:remove", "files", "--delete-data", "--confirm", deployed,
                   "-a", deployed)
    assert removed.returncode == 0, removed.stderr
    assert stack.get(deployed).status == 200


def test_builds_cache_purge_asks_then_purges(cli_home, deployed):
    refused = paas(cli_home, "builds:cache:purge", "-a", deployed, stdin="nope\n")
    assert refused.returncode == 1 and "nothing purged" in refused.stderr
    purged = paas(cli_home, "builds:cache:purge", "-a", deployed, stdin=f"{deployed}\n")
    assert purged.returncode == 0, purged.stderr
    assert "cache record" in purged.stderr.splitlines()[-1]


def test_builds_and_build_output(cli_home, deployed):
    builds = paas(cli_home, "builds", "-a", deployed).stdout.splitlines()
    build_id, status = builds[1].split()[:2]
    assert status == "succeeded"
    output = paas(cli_home, "builds:output", build_id, "-a", deployed).stdout
    assert "-----> Released v1" in output


def test_run_executes_in_a_fresh_container_with_the_config(cli_home, deployed):
    paas(cli_home, "config:set", "MARKER=from-config", "-a", deployed)
    result = paas(cli_home, "run", "-a", deployed, "--", "sh", "-c", "echo $MARKER; exit 4")
    assert result.stdout == "from-config\n"
    assert result.returncode == 4


def test_logs_show_the_apps_output(cli_home, deployed):
    result = paas(cli_home, "logs", "-n", "50", "-a", deployed)
    assert result.returncode == 0, result.stderr


def test_domains_add_routes_the_domain(stack, cli_home, deployed):
    hostname = f"{deployed}.example.test"
    result = paas(cli_home, "domains:add", hostname, "-a", deployed)
    assert result.returncode == 0, result.stderr
    assert paas(cli_home, "domains", "-a", deployed).stdout == f"{hostname}\n"
    from tests.e2e.stack import http_get

    answer = http_get(f"http://127.0.0.1:{stack.router_port}/", host=hostname)
    assert answer.body == "Hello from dockerfile-hello\n"


def test_collaborator_may_change_but_outsider_sees_nothing(stack, cli_home, deployed):
    url = f"http://127.0.0.1:{stack.control_port}"
    for role in ("collaborator", "outsider"):
        token = stack.create_user(f"cli-{role}").token
        login = paas(cli_home, "login", "--url", url, "--username", f"cli-{role}",
                     f"--token={token}", who=role)
        assert login.returncode == 0, login.stderr
    assert paas(cli_home, "access:add", "cli-collaborator", "-a", deployed).returncode == 0
    changed = paas(cli_home, "config:set", "GREETING=Hi", "-a", deployed, who="collaborator")
    assert changed.returncode == 0, changed.stderr
    assert stack.get(deployed).body == "Hi from dockerfile-hello\n"
    destroy = paas(cli_home, "apps:destroy", "--confirm", deployed, "-a", deployed,
                   who="collaborator")
    assert destroy.returncode == 1 and "(forbidden)" in destroy.stderr
    for argv in (["config"], ["config:set", "GREETING=Pwned"], ["ps:scale", "web=0"],
                 ["rollback", "v1"], ["releases"], ["run", "--", "env"]):
        result = paas(cli_home, argv[0], "-a", deployed, *argv[1:], who="outsider")
        assert result.returncode == 1, argv
        assert result.stderr.splitlines()[-1] == \
            f"paas: error: app '{deployed}' not found (app_not_found)"
    assert deployed not in paas(cli_home, "apps", who="outsider").stdout
    assert stack.get(deployed).body == "Hi from dockerfile-hello\n"


def test_apps_create_and_destroy_with_confirmation(stack, cli_home):
    app = unique_app_name("gone")
    created = paas(cli_home, "apps:create", app)
    assert created.returncode == 0, created.stderr
    refused = paas(cli_home, "apps:destroy", "-a", app, stdin="wrong\n")
    assert refused.returncode == 1 and "nothing destroyed" in refused.stderr
    destroyed = paas(cli_home, "apps:destroy", "-a", app, stdin=f"{app}\n")
    assert destroyed.returncode == 0, destroyed.stderr
    assert app not in paas(cli_home, "apps").stdout
    assert not (stack.home / "repos" / f"{app}.git").exists()


def test_errors_are_one_line_and_non_zero(cli_home):
    result = paas(cli_home, "apps:create", "Bad_Name")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "(invalid_app_name)" in result.stderr
    assert PROJECT_DIR.exists()
