"""The `paas` verbs for accounts: login with a password, tokens, users, and git's credential
helper (so a `paas` remote never holds the token).

A new token or password is printed alone on the last line of stdout, so scripts can take it
with ``| tail -1``.
"""

import os
import re
import shlex
import socket
import subprocess
import sys
from typing import Any
from urllib.parse import quote, urlsplit

from paas.cli import config
from paas.cli.client import ApiError, Client
from paas.cli.commands import CliError, Context, table, when

GIT_TIMEOUT = 30


def default_token_name() -> str:
    """``cli-<host>-<random>``: one token per login, told apart in `paas tokens`."""
    host = re.sub(r"[^a-z0-9-]+", "-", socket.gethostname().lower()).strip("-")[:12] or "host"
    return f"cli-{host}-{os.urandom(2).hex()}"


def _url(ctx: Context) -> str:
    url = (ctx.args.url or ctx.prompt("paas URL (e.g. http://paas.example.com:8000): ")).strip()
    if not url.startswith(("http://", "https://")):
        raise CliError(f"the URL must start with http:// or https://, got {url!r}")
    return url.rstrip("/")


def cmd_login(ctx: Context) -> None:
    """Save a token for the server: the one given with --token, or a new named one that the
    username and password (prompted, or --password-stdin) are exchanged for."""
    args = ctx.args
    url = _url(ctx)
    username = (args.username or ctx.prompt("Username: ")).strip()
    if args.token:
        token = args.token.strip()
        who = Client(url, token).request("GET", "/whoami")
        if who["username"] != username:
            raise CliError(f"that token belongs to {who['username']!r}, not {username!r}")
    else:
        if args.password_stdin:
            password = ctx.stdin.readline().rstrip("\r\n")
        else:
            password = ctx.secret_prompt("Password: ")
        if not password:
            raise CliError("no password given")
        name = args.token_name or default_token_name()
        issued = Client(url, "").request("POST", "/login", {
            "username": username, "password": password, "token_name": name,
            "expires_in_days": args.expires_in})
        token = issued["token"]
        ctx.err.write(f"Created token {issued['name']} ({issued['prefix']}…) for {username}\n")
    config.save(ctx.config_path, config.Credentials(url, username, token))
    ctx.print(f"Logged in to {url} as {username}")


# --- tokens --------------------------------------------------------------------------------


def _as_user(ctx: Context) -> dict[str, Any]:
    return {"user": ctx.args.user} if getattr(ctx.args, "user", None) else {}


def cmd_tokens(ctx: Context) -> None:
    tokens = ctx.client.request("GET", "/tokens", **_as_user(ctx))
    if not tokens:
        ctx.print("No tokens. Create one with `paas tokens:create NAME`.")
        return
    ctx.print(table([(t["name"], t["prefix"], when(t["created_at"]), when(t["last_used_at"]),
                      when(t["expires_at"]) if t["expires_at"] else "never")
                     for t in tokens],
                    ("NAME", "PREFIX", "CREATED", "LAST USED", "EXPIRES")))


def cmd_tokens_create(ctx: Context) -> None:
    body: dict[str, Any] = {"name": ctx.args.name, "expires_in_days": ctx.args.expires_in,
                            **_as_user(ctx)}
    issued = ctx.client.request("POST", "/tokens", body)
    expires = f"expires {when(issued['expires_at'])}" if issued["expires_at"] \
        else "never expires"
    ctx.print(f"Created token {issued['name']} for {issued['username']} ({expires}).")
    ctx.print("It is shown this once; keep it like a password:")
    ctx.print(issued["token"])


def cmd_tokens_revoke(ctx: Context) -> None:
    path = "/tokens/" + quote(ctx.args.token, safe="")
    revoked = ctx.client.request("DELETE", path, **_as_user(ctx))
    ctx.print(f"Revoked token {revoked['revoked']} ({revoked['prefix']}…)")


# --- users ---------------------------------------------------------------------------------


def cmd_users(ctx: Context) -> None:
    users = ctx.client.request("GET", "/users")
    ctx.print(table([(u["username"], "superuser" if u["is_superuser"] else "user",
                      "active" if u["is_active"] else "deactivated", when(u["last_login"]))
                     for u in users], ("USERNAME", "ROLE", "STATUS", "LAST LOGIN")))


def cmd_users_add(ctx: Context) -> None:
    created = ctx.client.request("POST", "/users", {"username": ctx.args.username,
                                                    "email": ctx.args.email or ""})
    ctx.print(f"Created user {created['username']}. Their one-time password (shown once; "
              "they log in with `paas login` or the dashboard):")
    ctx.print(created["password"])


def _set_active(ctx: Context, active: bool) -> None:
    path = "/users/" + quote(ctx.args.username, safe="")
    user = ctx.client.request("PATCH", path, {"is_active": active})
    ctx.print(f"{user['username']} is {'active' if user['is_active'] else 'deactivated'}")


def cmd_users_deactivate(ctx: Context) -> None:
    _set_active(ctx, False)


def cmd_users_activate(ctx: Context) -> None:
    _set_active(ctx, True)


# --- git -----------------------------------------------------------------------------------


def _git(*args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True,
                              timeout=GIT_TIMEOUT)
    except (OSError, subprocess.SubprocessError) as error:
        raise CliError(f"git failed: {error}") from None


def _server_root(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def credential_helper(environ: dict[str, str]) -> str:
    """The helper command git runs: this Python's ``-m paas.cli git:credential``, with the
    CLI's config file if it is not the default one."""
    command = f"{shlex.quote(sys.executable)} -m paas.cli git:credential"
    if environ.get("PAAS_CONFIG"):
        command = f"PAAS_CONFIG={shlex.quote(environ['PAAS_CONFIG'])} {command}"
    return "!" + command


def cmd_git_remote(ctx: Context) -> None:
    """Point the `paas` remote at the app, with the username but no token in the URL, and let
    `paas git:credential` answer git's password prompt for this server."""
    name = ctx.app
    try:
        ctx.client.request("GET", ctx.client.app_path(name))
        exists = True
    except ApiError as error:
        if error.code != "app_not_found":
            raise  # an invalid name, a bad token, an unreachable server
        # Unknown, or someone else's (the API does not say which): the remote grants nothing,
        # and a first push to a free name creates the app.
        exists = False
    credentials = config.load(ctx.config_path)
    root = _server_root(credentials.url)
    scheme, netloc = root.split("://", 1)
    remote_url = f"{scheme}://{quote(credentials.username, safe='')}@{netloc}/git/{name}.git"
    remote = ctx.args.remote
    known = _git("remote", "get-url", remote).returncode == 0
    changed = _git("remote", "set-url" if known else "add", remote, remote_url)
    if changed.returncode != 0:
        raise CliError(changed.stderr.strip() or "git remote failed (not a git repository?)")
    key = f"credential.{root}.helper"
    _git("config", "--local", "--unset-all", key)
    # An empty helper first: git forgets helpers configured elsewhere (a credential store that
    # might hold an old token) for this server, then asks only ours.
    for value in ("", credential_helper(ctx.environ)):
        result = _git("config", "--local", "--add", key, value)
        if result.returncode != 0:
            raise CliError(result.stderr.strip() or "git config failed")
    ctx.print(f"Git remote {remote}: {remote_url}")
    if not exists:
        ctx.print(f"You have no app {name} yet: your first push creates it.")
    ctx.print(f"git asks `paas git:credential` for the token (nothing is stored in "
              f".git/config). Deploy with: git push {remote} main")


def cmd_git_credential(ctx: Context) -> None:
    """git's credential-helper protocol: answer ``get`` for this CLI's server from the saved
    login; ``store`` and ``erase`` change nothing (the token lives in the CLI's config)."""
    if ctx.args.operation != "get":
        return
    asked: dict[str, str] = {}
    for line in ctx.stdin:
        line = line.rstrip("\r\n")
        if not line:
            break
        key, _, value = line.partition("=")
        asked[key] = value
    try:
        credentials = config.load(ctx.config_path)
    except config.NotLoggedIn:
        return  # say nothing: git goes on to its other helpers or a prompt
    saved = urlsplit(credentials.url)
    if asked.get("protocol") != saved.scheme or asked.get("host") != saved.netloc:
        return
    if asked.get("username") not in (None, "", credentials.username):
        return
    ctx.print(f"username={credentials.username}")
    ctx.print(f"password={credentials.token}")
