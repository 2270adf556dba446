"""`paas run` chooses its way by where it runs: from a terminal it asks for an interactive
session, from a script it runs the command to its end as before, with --detach in the
background; `<kind>:connect` needs a terminal. Against the live test server, which (unlike
gunicorn) cannot hand a connection over: the upgrade is refused there with its reason."""

import io
import os
import termios

import pytest

from paas.cli.main import main


@pytest.fixture
def app_owned(users, platform, transactional_db):
    from paas.core.applications import create_app

    shop = create_app("shop", users.owner)
    platform.deploy(shop)
    return shop


@pytest.fixture
def pty_files():
    """stdin and stdout on the program's side of a new pseudo-terminal."""
    user_side, program_side = os.openpty()
    stdin = open(program_side, closefd=False)  # noqa: SIM115 (closed below)
    stdout = open(program_side, "w", closefd=False)  # noqa: SIM115
    yield stdin, stdout, program_side
    stdin.close()
    stdout.close()
    os.close(program_side)
    os.close(user_side)


def test_run_from_a_terminal_asks_for_a_session_and_reports_a_refusal(terminal, users,
                                                                      app_owned, platform,
                                                                      pty_files):
    stdin, stdout, program_side = pty_files
    term = terminal(users.owner)
    settings_before = termios.tcgetattr(program_side)
    err = io.StringIO()

    code = main(["run", "-a", "shop", "bash"], environ=term.environ, out=stdout, err=err,
                stdin=stdin)

    assert code == 1
    assert err.getvalue().endswith("(tty_unavailable)\n")
    assert platform.scheduler.sessions == [] and platform.scheduler.commands == []
    assert termios.tcgetattr(program_side) == settings_before


def test_run_from_a_script_runs_to_the_end_as_before(terminal, users, app_owned, platform):
    result = terminal(users.owner)("run", "-a", "shop", "--", "echo", "hi")

    assert (result.code, result.out) == (3, "ran echo hi in v1\n")
    assert platform.scheduler.sessions == []


def test_run_detach_prints_the_name_the_logs_show(terminal, users, app_owned, platform):
    result = terminal(users.owner)("run", "--detach", "-a", "shop", "--", "rake", "cleanup")

    assert result.code == 0, result.err
    ((task, args),) = [sent for sent in platform.tasks.sent
                       if sent[0] == "worker.tasks.run_detached"]
    assert args[1] == "rake cleanup"
    assert result.out == (f"Running `rake cleanup` on shop as {args[2]}; its output is in "
                          "`paas logs -a shop`\n")


def test_connect_from_a_script_says_it_needs_a_terminal(terminal, users, platform):
    result = terminal(users.owner)("redis:connect", "cache")

    assert result.code == 1
    assert "redis:connect needs a terminal" in result.err
