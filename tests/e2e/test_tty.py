"""Interactive sessions against the real stack, with the real CLI on a pseudo-terminal:
`paas run bash` in a one-off container of a deployed app (its exit code, its own terminal,
a resize), `paas postgres:connect` and `paas redis:connect` signed in to the service, an
outsider told the app and the service do not exist, and `paas run --detach` whose output
reaches `paas logs`. No one-off container is left behind."""

import subprocess
import time

import pytest

from tests.e2e.stack import run_cli, unique_app_name
from tests.e2e.terminal_support import TerminalSession
from tests.e2e.test_services import remove_service_leftovers

PROMPT = r"[$#] $"


@pytest.fixture(scope="module")
def world(stack, tmp_path_factory):
    """A deployed app, a PostgreSQL and a Redis service, and an outsider's CLI login."""
    app, pg, rd = unique_app_name("tty"), unique_app_name("ttypg"), unique_app_name("ttyrd")
    made = []
    try:
        repo = stack.checkout("dockerfile-hello", tmp_path_factory.mktemp("tty"))
        pushed = stack.push(repo, app)
        assert pushed.returncode == 0, pushed.stderr + stack.logs()
        for kind, name in (("postgres", pg), ("redis", rd)):
            created = stack.paas(f"{kind}:create", name)
            assert created.returncode == 0, created.stderr + stack.logs()
            made.append((kind, name))
        outsider = stack.create_user(unique_app_name("outsider"))
        config = stack.home / "cli" / "outsider.json"
        login = run_cli(config, "login", "--url", stack.control_url, "--username",
                        outsider.username, f"--token={outsider.token}", cwd=stack.home)
        assert login.returncode == 0, login.stderr
        yield {"app": app, "postgres": pg, "redis": rd, "outsider": config}
    finally:
        for kind, name in made:
            stack.paas(f"{kind}:destroy", name, "--confirm", name)
        stack.paas("apps:destroy", "-a", app, "--confirm", app)
        remove_service_leftovers(pg, rd)


def on_terminal(stack, *argv: str, config=None, **size) -> TerminalSession:
    return TerminalSession(config or stack.cli_config, *argv, cwd=stack.home, **size)


def oneoffs_of(app: str) -> list[str]:
    return subprocess.run(["docker", "ps", "-aq", "--filter", f"label=paas.app={app}",
                           "--filter", "label=paas.oneoff"], capture_output=True, text=True,
                          check=True).stdout.split()


def test_run_bash_is_interactive_on_a_terminal_of_its_own(stack, world):
    session = on_terminal(stack, "run", "-a", world["app"], "bash")
    session.expect(PROMPT)

    session.type("echo $((6*7)); tty; exit 3\r")

    assert session.wait() == 3
    # bash ends its bracketed-paste mode (an escape sequence, then \r) before the output.
    assert session.expect(r"\r42\r\n/dev/pts/\d+\r\n")
    assert oneoffs_of(world["app"]) == []


def test_a_resize_reaches_the_remote_terminal(stack, world):
    session = on_terminal(stack, "run", "-a", world["app"], "bash", rows=24, cols=80)
    session.expect(PROMPT)
    session.type("stty size\r")
    session.expect(r"\r24 80\r\n")  # after bash ends bracketed paste: ESC [?2004l \r

    session.resize(37, 101)
    # The resize and the keys travel in order on one connection, but the window signal and
    # the keys reach the CLI separately: wait in the shell for the new size.
    session.type('until [ "$(stty size)" = "37 101" ]; do sleep 0.1; done; echo now $(stty size)'
                 "; exit\r")

    assert session.wait() == 0
    assert b"now 37 101" in session.shown


def test_postgres_connect_runs_psql_signed_in(stack, world):
    session = on_terminal(stack, "postgres:connect", world["postgres"])
    session.expect(r"=[>#] $")

    session.type("select 40+2;\r")
    session.expect(r"\r\n\s+42\r\n\(1 row\)[\s\S]*=[>#] $")
    session.type("\\q\r")

    assert session.wait() == 0


def test_redis_connect_runs_redis_cli_signed_in(stack, world):
    session = on_terminal(stack, "redis:connect", world["redis"])
    session.expect(r"> $")

    session.type("PING\r")
    # redis-cli flushes what was typed ahead when it puts the terminal in raw mode for the
    # next line: type only at the new prompt.
    session.expect(r"PONG\r\n[^\n]*> $")
    session.type("quit\r")

    assert session.wait() == 0


def test_an_outsider_is_told_neither_the_app_nor_the_service_exists(stack, world):
    for argv, code in ((("run", "-a", world["app"], "bash"), "app_not_found"),
                       (("postgres:connect", world["postgres"]), "service_not_found")):
        session = on_terminal(stack, *argv, config=world["outsider"])
        assert session.wait() == 1
        assert f"({code})".encode() in session.shown
    assert oneoffs_of(world["app"]) == []


def test_piped_run_keeps_its_plain_output(stack, world):
    result = stack.paas("run", "-a", world["app"], "--", "sh", "-c", "tty; echo piped")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["not a tty", "piped"]


def test_run_detach_prints_its_name_and_its_output_reaches_the_logs(stack, world):
    started = stack.paas("run", "--detach", "-a", world["app"], "--", "sh", "-c",
                         "echo detached-$((6*7))")
    assert started.returncode == 0, started.stderr
    name = started.stdout.split(" as ")[1].split(";")[0]
    assert name.startswith("run.")
    assert f"paas logs -a {world['app']}" in started.stdout

    wanted = f"{name} | detached-42"
    logs = stack.paas("logs", "-a", world["app"])
    for _attempt in range(120):
        if wanted in logs.stdout:
            break
        time.sleep(1)
        logs = stack.paas("logs", "-a", world["app"])
    assert wanted in logs.stdout, logs.stdout + stack.logs()


def test_connect_from_a_script_says_it_needs_a_terminal(stack, world):
    result = stack.paas("redis:connect", world["redis"])
    assert result.returncode == 1
    assert "needs a terminal" in result.stderr
