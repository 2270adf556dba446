"""The `paas` CLI's commands: one function per verb, each a few API calls and some output.

Every failure raises CliError or ApiError; ``paas.cli.main`` turns them into one line on stderr.
"""

import argparse
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from paas.cli import config, terminal
from paas.cli.client import ApiError, Client

REMOTE_APP_RE = re.compile(r"/git/([a-z][a-z0-9-]{0,29})\.git/?$")


class CliError(Exception):
    pass


class Context:
    """What a command needs: parsed arguments, the API client, and where to write."""

    def __init__(self, args: argparse.Namespace, environ: dict[str, str], out: TextIO,
                 err: TextIO, prompt: Callable[[str], str],
                 secret_prompt: Callable[[str], str]) -> None:
        self.args = args
        self.environ = environ
        self.out = out
        self.err = err
        self.prompt = prompt
        self.secret_prompt = secret_prompt
        self.stdin: TextIO = sys.stdin  # what --password-stdin and git's helper calls read
        self._client: Client | None = None
        self.line_open = False  # a progress line waits for its "done"

    @property
    def config_path(self):
        return config.config_path(self.environ)

    @property
    def client(self) -> Client:
        if self._client is None:
            try:
                credentials = config.load(self.config_path)
            except config.NotLoggedIn as error:
                raise CliError(str(error)) from None
            self._client = Client(credentials.url, credentials.token)
        return self._client

    @property
    def app(self) -> str:
        """The app named by -a, or by the `paas` git remote of the current directory."""
        if self.args.app:
            return self.args.app
        try:
            remote = subprocess.run(["git", "remote", "get-url", "paas"], capture_output=True,
                                    text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            remote = ""
        found = REMOTE_APP_RE.search(remote)
        if found is None:
            raise CliError("which app? use -a APP (or run inside a checkout with a `paas` "
                           "git remote)")
        return found.group(1)

    def print(self, text: str = "", end: str = "\n") -> None:
        self.out.write(text + end)
        self.out.flush()

    def progress(self, text: str) -> None:
        """Start a line for a long operation; `done` finishes it."""
        self.err.write(f"{text}... ")
        self.err.flush()
        self.line_open = True

    def done(self, text: str = "done") -> None:
        self.err.write(text + "\n")
        self.err.flush()
        self.line_open = False

    def fail(self, message: str) -> None:
        """Close an open progress line, then print the error on its own line."""
        if self.line_open:
            self.done("failed")
        self.err.write(f"paas: error: {message}\n")


def follow_action(ctx: Context, method: str, path: str, body: Any, headline: str) -> dict:
    """Start a deploy action, print its progress lines as they come, return its outcome.

    ``headline`` goes first ("Setting X and restarting app..."), each progress line after it,
    on stderr. Raises ApiError with the action's error code when the change failed.
    """
    ctx.err.write(f"{headline}...\n")
    ctx.err.flush()
    action = ctx.client.request(method, path, body, headers={"Prefer": "respond-async"})
    action_path = ctx.client.app_path(ctx.app, "actions", action["id"])
    for line in ctx.client.stream(action_path + "/log"):
        if line:
            ctx.err.write(line + "\n")
            ctx.err.flush()
    action = ctx.client.request("GET", action_path)
    if action["status"] == "failed":
        raise ApiError(action["error"]["message"], action["error"]["code"])
    if action["status"] != "succeeded":
        raise CliError(f"the change is still {action['status']}; see `paas releases` later")
    return action


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    """Columns aligned for a terminal."""
    cells = [[str(c) for c in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                     for row in cells)


def when(iso: str | None) -> str:
    return iso[:19].replace("T", " ") if iso else "-"


# --- commands ------------------------------------------------------------------------------


def cmd_apps(ctx: Context) -> None:
    apps = ctx.client.request("GET", "/apps")
    if not apps:
        ctx.print("No apps yet. Create one with `paas apps:create NAME`, or just git push.")
        return
    ctx.print(table([(a["name"], a["status"], a["current_release"] or "-",
                      " ".join(f"{k}={v}" for k, v in a["formation"].items()),
                      when(a["last_deploy_at"]), a["url"]) for a in apps],
                    ("NAME", "STATUS", "RELEASE", "PROCESSES", "DEPLOYED", "URL")))


def cmd_apps_create(ctx: Context) -> None:
    app = ctx.client.request("POST", "/apps", {"name": ctx.args.name})
    shown = ctx.client.request("GET", ctx.client.app_path(app["name"]))
    ctx.print(f"Created {app['name']}: {app['url']}")
    ctx.print(f"Git remote: {shown['git_remote']}")


def cmd_apps_destroy(ctx: Context) -> None:
    app = ctx.app
    _confirm(ctx, f"This destroys {app}: its containers, repository, builds and releases.",
             "nothing destroyed")
    ctx.progress(f"Destroying {app}")
    ctx.client.request("DELETE", ctx.client.app_path(app))
    ctx.done()


def cmd_info(ctx: Context) -> None:
    app = ctx.client.request("GET", ctx.client.app_path(ctx.app))
    for label, value in [("Name", app["name"]), ("Owner", app["owner"]),
                         ("Status", app["status"]), ("Release", app["current_release"] or "-"),
                         ("URL", app["url"]), ("Git remote", app["git_remote"]),
                         ("Collaborators", ", ".join(app["collaborators"]) or "-"),
                         ("Domains", ", ".join(d["hostname"] for d in app["domains"]) or "-"),
                         ("Services", ", ".join(f"{s['name']} ({s['kind']}, {s['status']})"
                                                for s in app.get("services", [])) or "-")]:
        ctx.print(f"{label + ':':<15}{value}")
    if app.get("crash_reason"):
        ctx.print(f"{'Crashed:':<15}{app['crash_reason']} ({when(app['crashed_at'])})")


def cmd_config(ctx: Context) -> None:
    values = ctx.client.request("GET", ctx.client.app_path(ctx.app, "config"))
    if not values:
        ctx.print(f"{ctx.app} has no config vars.")
    width = max((len(k) for k in values), default=0) + 1
    for key, value in sorted(values.items()):
        ctx.print(f"{key + ':':<{width}} {value}")


def _config_change(ctx: Context, body: dict, what: str) -> None:
    app = ctx.app
    action = follow_action(ctx, "PATCH", ctx.client.app_path(app, "config"), body,
                           f"{what} and restarting {app}")
    ctx.done(f"done, {action['release']}" if action["release"]
             else "done (takes effect on next deploy)")


def cmd_config_set(ctx: Context) -> None:
    changes = {}
    for pair in ctx.args.pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CliError(f"expected KEY=VALUE, got {pair!r}")
        changes[key] = value
    _config_change(ctx, {"set": changes}, f"Setting {', '.join(changes)}")


def cmd_config_unset(ctx: Context) -> None:
    _config_change(ctx, {"unset": ctx.args.keys}, f"Unsetting {', '.join(ctx.args.keys)}")


def limits_table(resources: dict) -> str:
    """What each container of each process type gets: memory (marked when it is the
    default), CPUs, pids and whether its root filesystem is read-only."""
    rows = []
    for process_type, limit in resources.items():
        effective = limit.get("effective") or {}
        memory = effective.get("memory") or limit.get("memory") or "unlimited"
        if effective and not limit.get("memory"):
            memory += " (default)"
        rows.append((process_type, memory, effective.get("cpus") or "unlimited",
                     effective.get("pids") or "unlimited",
                     "read-only" if effective.get("read_only_rootfs") else "writable"))
    return table(rows, ("TYPE", "MEMORY", "CPUS", "PIDS", "ROOT FS"))


def cmd_ps(ctx: Context) -> None:
    shown = ctx.client.request("GET", ctx.client.app_path(ctx.app, "formation"))
    ctx.print("Formation: " + (" ".join(f"{k}={v}" for k, v in shown["formation"].items())
                               or "none"))
    if shown.get("resources"):
        ctx.print(limits_table(shown["resources"]))
        ctx.print()
    instances = shown["instances"]
    if instances:
        columns: tuple[str, ...] = ("INSTANCE", "STATE", "RELEASE", "PORT")
        rows: list[tuple[Any, ...]] = [(i["name"], i["state"], i["release"], i["port"] or "")
                                       for i in instances]
        if any(i.get("node") for i in instances):  # an engine with several machines
            columns += ("NODE",)
            rows = [(*row, i.get("node") or "") for row, i in zip(rows, instances, strict=True)]
        ctx.print(table(rows, columns))
    else:
        ctx.print("No containers are running.")


def cmd_ps_scale(ctx: Context) -> None:
    quantities = {}
    for pair in ctx.args.pairs:
        process_type, sep, raw = pair.partition("=")
        if not sep or not raw.isdigit():
            raise CliError(f"expected TYPE=N (like web=2), got {pair!r}")
        quantities[process_type] = int(raw)
    app = ctx.app
    summary = " ".join(f"{k}={v}" for k, v in quantities.items())
    action = follow_action(ctx, "PATCH", ctx.client.app_path(app, "formation"), quantities,
                           f"Scaling {app} to {summary}")
    ctx.done("done, now " + " ".join(f"{k}={v}"
                                     for k, v in action["result"]["formation"].items()))


def _limit_arg(value: str | None) -> str | None:
    """None keeps a limit; "none" (or "") removes it; anything else is sent as given."""
    if value is None:
        return None
    return "" if value.strip().lower() in ("", "none", "unlimited") else value.strip()


def cmd_ps_resize(ctx: Context) -> None:
    memory, cpus = _limit_arg(ctx.args.memory), _limit_arg(ctx.args.cpus)
    if memory is None and cpus is None:
        raise CliError("give --memory (like 256m) and/or --cpus (like 0.5); `none` removes "
                       "a limit")
    app, process_type = ctx.app, ctx.args.process_type
    body: dict[str, Any] = {"memory": memory, "cpus": cpus}
    wanted = ", ".join(f"{name} {value or 'unlimited'}" for name, value
                       in (("memory", memory), ("cpus", cpus)) if value is not None)
    follow_action(ctx, "PATCH", ctx.client.app_path(app, "formation", process_type), body,
                  f"Resizing {process_type} of {app} to {wanted}")
    shown = ctx.client.request("GET", ctx.client.app_path(app, "formation"))
    limit = shown["resources"].get(process_type, {})
    effective = limit.get("effective") or {}
    memory = limit.get("memory") or (f"{effective['memory']} (default)"
                                     if effective.get("memory") else "unlimited")
    ctx.done(f"done, {process_type}: memory {memory}, "
             f"cpus {limit.get('cpus') or 'unlimited'}")


def cmd_storage(ctx: Context) -> None:
    found = ctx.client.request("GET", ctx.client.app_path(ctx.app, "volumes"))
    if not found:
        ctx.print(f"{ctx.app} has no persistent storage. Add some with "
                  "`paas storage:add NAME:/path`.")
        return
    ctx.print(table([(v["name"], v["mount_path"], when(v["created_at"])) for v in found],
                    ("NAME", "MOUNTED AT", "CREATED")))


def cmd_storage_add(ctx: Context) -> None:
    name, sep, mount_path = ctx.args.mount.partition(":")
    if not sep or not name or not mount_path:
        raise CliError(f"expected NAME:/path (like uploads:/data), got {ctx.args.mount!r}")
    app = ctx.app
    follow_action(ctx, "POST", ctx.client.app_path(app, "volumes"),
                  {"name": name, "mount_path": mount_path},
                  f"Mounting {name} at {mount_path} in {app}")
    ctx.done(f"done, {name} is mounted at {mount_path}")


def _confirm(ctx: Context, warning: str, nothing_done: str) -> None:
    """Ask for the app's name (or take --confirm) before something that cannot be undone."""
    app = ctx.app
    confirm = ctx.args.confirm
    if confirm is None:
        ctx.err.write(warning + "\n")
        confirm = ctx.prompt(f"Type {app} to confirm: ").strip()
    if confirm != app:
        raise CliError(f"confirmation {confirm!r} does not match {app!r}; {nothing_done}")


def cmd_storage_remove(ctx: Context) -> None:
    app, name = ctx.app, ctx.args.name
    if ctx.args.delete_data:
        _confirm(ctx, f"This deletes the data of volume {name} of {app} for good.",
                 "nothing removed")
    path = ctx.client.app_path(app, "volumes", name)
    if ctx.args.delete_data:
        path += "?delete_data=1"
    what = "Removing" if ctx.args.delete_data else "Unmounting"
    follow_action(ctx, "DELETE", path, None, f"{what} {name} from {app}")
    ctx.done("done, its data is deleted" if ctx.args.delete_data
             else "done, its data is kept (storage:remove --delete-data deletes it)")


def cmd_builds_cache_purge(ctx: Context) -> None:
    app = ctx.app
    _confirm(ctx, f"This purges the build cache of {app}: its next build downloads and "
                  "installs every dependency again.", "nothing purged")
    ctx.progress(f"Purging the build cache of {app}")
    removed = ctx.client.request("DELETE", ctx.client.app_path(app, "build-cache"))["removed"]
    ctx.done(f"done, {removed} cache record{'s' if removed != 1 else ''} removed")


def cmd_releases(ctx: Context) -> None:
    releases = ctx.client.request("GET", ctx.client.app_path(ctx.app, "releases"))
    if not releases:
        ctx.print(f"{ctx.app} has no releases yet.")
        return
    ctx.print(table([(r["version"], r["status"], r["description"], r["created_by"] or "-",
                      when(r["created_at"])) for r in releases],
                    ("VERSION", "STATUS", "DESCRIPTION", "BY", "CREATED")))


def cmd_rollback(ctx: Context) -> None:
    version = ctx.args.version
    if not re.fullmatch(r"v?\d+", version):
        raise CliError(f"expected a release like v3, got {version!r}")
    app = ctx.app
    action = follow_action(ctx, "POST", ctx.client.app_path(app, "rollback"),
                           {"version": version}, f"Rolling back {app} to v{version.lstrip('v')}")
    ctx.done(f"done, {action['release']}")


def cmd_builds(ctx: Context) -> None:
    builds = ctx.client.request("GET", ctx.client.app_path(ctx.app, "builds"))
    if not builds:
        ctx.print(f"{ctx.app} has no builds yet.")
        return
    ctx.print(table([(b["id"], b["status"], b["commit_sha"][:7], b["branch"],
                      b["builder"] or "-", b["created_by"] or "-", when(b["created_at"]))
                     for b in builds],
                    ("ID", "STATUS", "COMMIT", "BRANCH", "BUILDER", "BY", "CREATED")))


def cmd_builds_output(ctx: Context) -> None:
    path = ctx.client.app_path(ctx.app, "builds", str(ctx.args.id), "log")
    for line in ctx.client.stream(path):
        ctx.print(line)


def cmd_builds_cancel(ctx: Context) -> None:
    path = ctx.client.app_path(ctx.app, "builds", str(ctx.args.id), "cancel")
    build = ctx.client.request("POST", path)
    if build["status"] == "cancelled":
        ctx.print(f"Build {ctx.args.id} of {ctx.app} cancelled.")
    else:
        ctx.print(f"Build {ctx.args.id} of {ctx.app} is stopping; `paas builds` shows when.")


def cmd_logs(ctx: Context) -> None:
    params: dict[str, Any] = {"tail": ctx.args.num}
    if ctx.args.follow:
        params["follow"] = "1"
    try:
        for line in ctx.client.stream(ctx.client.app_path(ctx.app, "logs"), **params):
            ctx.print(line)
    except KeyboardInterrupt:
        pass


def cmd_run(ctx: Context) -> int:
    command = ctx.args.command
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise CliError("give the command to run: paas run -- COMMAND")
    app = ctx.app
    path = ctx.client.app_path(app, "run")
    if ctx.args.detach:
        started = ctx.client.request("POST", path, {"command": shlex.join(command),
                                                    "detach": True})
        ctx.print(f"Running `{shlex.join(command)}` on {app} as {started['name']}; its "
                  f"output is in `paas logs -a {app}`")
        return 0
    if terminal_session(ctx):
        return interactive_session(ctx, path, {"command": shlex.join(command)})
    ctx.err.write(f"Running `{shlex.join(command)}` on {app}...\n")
    result = ctx.client.request("POST", path, {"command": shlex.join(command)})
    ctx.out.write(result["output"])
    ctx.out.flush()
    return int(result["exit_code"])


def _fileno(stream: TextIO) -> int | None:
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):  # a StringIO has none
        return None


def terminal_session(ctx: Context) -> bool:
    """Whether stdin and stdout are a terminal, as `run` needs to be interactive."""
    fds = (_fileno(ctx.stdin), _fileno(ctx.out))
    return all(fd is not None and terminal.is_terminal(fd) for fd in fds)


def interactive_session(ctx: Context, path: str, body: dict[str, Any]) -> int:
    """Open an interactive session at ``path`` and relay it to this terminal in raw mode;
    return the remote exit code. Raises ApiError."""
    in_fd, out_fd = _fileno(ctx.stdin), _fileno(ctx.out)
    assert in_fd is not None and out_fd is not None
    rows, cols = terminal.window_size(in_fd)
    sock, received = ctx.client.upgrade(path, {
        **body, "rows": rows, "cols": cols, "term": ctx.environ.get("TERM") or "xterm"})
    ctx.err.flush()
    return terminal.interactive(sock, received, in_fd, out_fd, _fileno(ctx.err))


def cmd_domains(ctx: Context) -> None:
    domains = ctx.client.request("GET", ctx.client.app_path(ctx.app, "domains"))
    for domain in domains:
        ctx.print(domain["hostname"])
    if not domains:
        ctx.print(f"{ctx.app} has no custom domains.")


def cmd_domains_add(ctx: Context) -> None:
    domain = ctx.client.request("POST", ctx.client.app_path(ctx.app, "domains"),
                                {"hostname": ctx.args.hostname})
    ctx.print(f"Added {domain['hostname']} to {ctx.app}")


def cmd_domains_remove(ctx: Context) -> None:
    ctx.client.request("DELETE", ctx.client.app_path(ctx.app, "domains", ctx.args.hostname))
    ctx.print(f"Removed {ctx.args.hostname} from {ctx.app}")


def cmd_access(ctx: Context) -> None:
    for username in ctx.client.request("GET", ctx.client.app_path(ctx.app, "collaborators")):
        ctx.print(username)


def cmd_access_add(ctx: Context) -> None:
    ctx.client.request("POST", ctx.client.app_path(ctx.app, "collaborators"),
                       {"username": ctx.args.username})
    ctx.print(f"{ctx.args.username} can now change {ctx.app}")


def cmd_access_remove(ctx: Context) -> None:
    ctx.client.request("DELETE",
                       ctx.client.app_path(ctx.app, "collaborators", ctx.args.username))
    ctx.print(f"Removed {ctx.args.username} from {ctx.app}")
