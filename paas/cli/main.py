"""`paas`: the command-line client, Heroku-style verbs over the JSON API.

Every failure is one line on stderr and a non-zero exit status. The verbs themselves are in
``paas.cli.commands``.
"""

import argparse
import getpass
import os
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from paas.cli import account_commands as accounts
from paas.cli.cert_commands import add_cert_commands
from paas.cli.client import ApiError
from paas.cli.commands import (
    CliError,
    Context,
    cmd_access,
    cmd_access_add,
    cmd_access_remove,
    cmd_apps,
    cmd_apps_create,
    cmd_apps_destroy,
    cmd_builds,
    cmd_builds_cache_purge,
    cmd_builds_cancel,
    cmd_builds_output,
    cmd_config,
    cmd_config_set,
    cmd_config_unset,
    cmd_domains,
    cmd_domains_add,
    cmd_domains_remove,
    cmd_info,
    cmd_logs,
    cmd_ps,
    cmd_ps_resize,
    cmd_ps_scale,
    cmd_releases,
    cmd_rollback,
    cmd_run,
    cmd_storage,
    cmd_storage_add,
    cmd_storage_remove,
)
from paas.cli.network_commands import cmd_network, cmd_network_link, cmd_network_unlink
from paas.cli.node_commands import cmd_nodes, cmd_nodes_join_command
from paas.cli.service_commands import add_service_commands

# --- parsing -------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paas", description="Manage apps on a paas server.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Changes that deploy (config:set, config:unset, ps:scale, ps:resize, rollback,\n"
               "storage:add, storage:remove) print the deploy's progress as it happens, then\n"
               "`done, vN` or the error (exit status 1).\n\n"
               "Examples:\n"
               "  paas config:set GREETING=hi -a shop\n"
               "  paas ps:scale web=2 worker=1\n"
               "  paas ps:resize web --memory 256m --cpus 0.5\n"
               "  paas storage:add uploads:/data\n"
               "  paas postgres:create db && paas postgres:link db -a shop\n"
               "  paas certs:add shop.crt shop.key -a shop\n"
               "  paas builds:cache:purge --confirm shop")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, handler: Callable, help_text: str, app: bool = True):
        sub = commands.add_parser(name, help=help_text, description=help_text)
        if app:
            sub.add_argument("-a", "--app", help="app name (default: from the `paas` remote)")
        sub.set_defaults(handler=handler)
        return sub

    add_account_commands(add)
    add("apps", cmd_apps, "list your apps", app=False)
    add("apps:create", cmd_apps_create, "create an app", app=False).add_argument("name")
    destroy = add("apps:destroy", cmd_apps_destroy, "destroy an app (asks to confirm)")
    destroy.add_argument("--confirm", metavar="APP", help="the app's name, to skip the prompt")
    add("apps:info", cmd_info, "show an app")
    add("config", cmd_config, "show config vars")
    add("config:set", cmd_config_set, "set config vars and restart").add_argument(
        "pairs", nargs="+", metavar="KEY=VALUE")
    add("config:unset", cmd_config_unset, "unset config vars and restart").add_argument(
        "keys", nargs="+", metavar="KEY")
    add("ps", cmd_ps, "show process types and running instances")
    add("ps:scale", cmd_ps_scale, "scale process types, like web=2 worker=1").add_argument(
        "pairs", nargs="+", metavar="TYPE=N")
    resize = add("ps:resize", cmd_ps_resize,
                 "set memory/CPU limits per container: ps:resize web --memory 256m --cpus 0.5")
    resize.add_argument("process_type", metavar="TYPE")
    resize.add_argument("--memory", help="like 256m or 1g; `none` removes the limit")
    resize.add_argument("--cpus", help="like 0.5; `none` removes the limit")
    add("storage", cmd_storage, "list persistent volumes")
    add("storage:add", cmd_storage_add,
        "mount a persistent volume: storage:add NAME:/path").add_argument(
        "mount", metavar="NAME:/path")
    storage_remove = add("storage:remove", cmd_storage_remove,
                         "unmount a volume (its data is kept unless --delete-data)")
    storage_remove.add_argument("name", metavar="NAME")
    storage_remove.add_argument("--delete-data", action="store_true",
                                help="delete the volume's data too (asks to confirm)")
    storage_remove.add_argument("--confirm", metavar="APP", help="the app's name, to skip "
                                "the prompt")
    add("releases", cmd_releases, "list releases")
    add("rollback", cmd_rollback, "roll back to a release (code and config)").add_argument(
        "version", metavar="vN")
    add("builds", cmd_builds, "list builds")
    add("builds:output", cmd_builds_output, "print a build's log").add_argument(
        "id", type=int)
    add("builds:cancel", cmd_builds_cancel,
        "cancel a queued build, or one whose image is building").add_argument("id", type=int)
    purge = add("builds:cache:purge", cmd_builds_cache_purge,
                "purge the build cache: the next build reinstalls dependencies (asks to "
                "confirm)")
    purge.add_argument("--confirm", metavar="APP", help="the app's name, to skip the prompt")
    logs = add("logs", cmd_logs, "show the app's output")
    logs.add_argument("-f", "--follow", action="store_true", help="keep following")
    logs.add_argument("-n", "--num", type=int, default=100, help="lines of history")
    run = add("run", cmd_run, "run a one-off command: paas run -- COMMAND (interactive "
              "from a terminal)")
    run.add_argument("-d", "--detach", action="store_true",
                     help="run in the background; its output goes to `paas logs`")
    run.add_argument("command", nargs=argparse.REMAINDER)
    add("domains", cmd_domains, "list custom domains")
    add("domains:add", cmd_domains_add, "route a domain to the app").add_argument("hostname")
    add("domains:remove", cmd_domains_remove, "stop routing a domain").add_argument("hostname")
    add_cert_commands(add)
    add("access", cmd_access, "list collaborators")
    add("access:add", cmd_access_add, "add a collaborator").add_argument("username")
    add("access:remove", cmd_access_remove, "remove a collaborator").add_argument("username")
    add("nodes", cmd_nodes, "list the machines apps run on (superusers only)", app=False)
    add("nodes:join-command", cmd_nodes_join_command,
        "print the command that joins another machine (superusers only)", app=False)
    add("network", cmd_network, "list the apps this app's containers may reach")
    add("network:link", cmd_network_link,
        "let this app reach OTHER's web process at http://OTHER:5000 (restarts this app)"
        ).add_argument("other", metavar="OTHER")
    add("network:unlink", cmd_network_unlink,
        "stop this app reaching OTHER (restarts this app)").add_argument("other",
                                                                         metavar="OTHER")
    add_service_commands(add)
    return parser


def _days(raw: str) -> int:
    if not raw.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number of days, got {raw!r}")
    return int(raw)


def add_account_commands(add: Callable) -> None:
    """login, tokens, users and git:remote / git:credential (paas.cli.account_commands)."""
    login = add("login", accounts.cmd_login,
                "log in: exchange your username and password for a new token (or save one "
                "given with --token)", app=False)
    login.add_argument("--url")
    login.add_argument("--username")
    login.add_argument("--token", help="an API token to save instead of a password")
    login.add_argument("--password-stdin", action="store_true",
                       help="read the password from stdin instead of prompting")
    login.add_argument("--token-name", help="name of the new token (default: cli-<host>-...)")
    login.add_argument("--expires-in", type=_days, metavar="DAYS",
                       help="the new token expires after DAYS days")
    for verb in ("tokens", "tokens:list"):
        listed = add(verb, accounts.cmd_tokens, "list your API tokens", app=False)
        listed.add_argument("--user", help="another user's (superusers only)")
    create = add("tokens:create", accounts.cmd_tokens_create,
                 "create a named API token; it is printed alone on the last line",
                 app=False)
    create.add_argument("name", metavar="NAME")
    create.add_argument("--expires-in", type=_days, metavar="DAYS",
                        help="expire after DAYS days (default: never)")
    create.add_argument("--user", help="for another user (superusers only)")
    revoke = add("tokens:revoke", accounts.cmd_tokens_revoke,
                 "revoke an API token by name or prefix", app=False)
    revoke.add_argument("token", metavar="NAME-or-PREFIX")
    revoke.add_argument("--user", help="another user's (superusers only)")
    add("users", accounts.cmd_users, "list users (superusers only)", app=False)
    users_add = add("users:add", accounts.cmd_users_add,
                    "create a user; their one-time password is printed on the last line "
                    "(superusers only)", app=False)
    users_add.add_argument("username", metavar="NAME")
    users_add.add_argument("--email")
    add("users:deactivate", accounts.cmd_users_deactivate,
        "deactivate a user: their tokens and sessions stop working (superusers only)",
        app=False).add_argument("username", metavar="NAME")
    add("users:activate", accounts.cmd_users_activate, "reactivate a user (superusers only)",
        app=False).add_argument("username", metavar="NAME")
    remote = add("git:remote", accounts.cmd_git_remote,
                 "add the `paas` git remote without the token in it (git asks "
                 "`paas git:credential`)")
    remote.add_argument("--remote", default="paas", help="the remote's name (default: paas)")
    add("git:credential", accounts.cmd_git_credential,
        "git's credential helper (git runs it; see git:remote)", app=False).add_argument(
        "operation", choices=("get", "store", "erase"))


def main(argv: Sequence[str] | None = None, environ: dict[str, str] | None = None,
         out: TextIO | None = None, err: TextIO | None = None,
         prompt: Callable[[str], str] = input,
         secret_prompt: Callable[[str], str] = getpass.getpass,
         stdin: TextIO | None = None) -> int:
    """Run one command; return the exit status (the command's own for `run`)."""
    out = out or sys.stdout
    err = err or sys.stderr
    args = build_parser().parse_args(argv)
    ctx = Context(args, dict(os.environ if environ is None else environ), out, err, prompt,
                  secret_prompt)
    ctx.stdin = stdin or sys.stdin
    try:
        status = args.handler(ctx)
    except ApiError as error:
        if error.code == "unauthorized":
            ctx.fail("the server rejected your token; run `paas login`")
        else:
            ctx.fail(f"{error} ({error.code})")
        return 1
    except (CliError, EOFError) as error:
        ctx.fail(str(error) or "no input")
        return 1
    except KeyboardInterrupt:
        err.write("\n")
        return 130
    return status if isinstance(status, int) else 0
