"""The backing-service verbs, Dokku-style: `paas postgres:create NAME`, `paas redis:link NAME
-a APP`, ... for each kind, and `paas services` (or `paas postgres` / `paas redis`) to list.

Linking sets DATABASE_URL (postgres) or REDIS_URL (redis) in a new release of the app and
restarts it; only linked apps' containers can reach the service.
"""

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from paas.cli.commands import CliError, Context, interactive_session, table, terminal_session

KINDS = ("postgres", "redis")


def _path(name: str, *parts: str) -> str:
    return "/".join(["/services", quote(name, safe=""), *(quote(p, safe="") for p in parts)])


def _kind(ctx: Context) -> str:
    return str(ctx.args.kind)


def _table(ctx: Context, rows: list[dict[str, Any]]) -> None:
    if not rows:
        ctx.print("No services. Create one with `paas postgres:create NAME` or "
                  "`paas redis:create NAME`.")
        return
    header = ("NAME", "KIND", "STATUS", "LINKED APPS")
    lines = [header, *((row["name"], row["kind"], row["container"],
                        ", ".join(row["links"]) or "-") for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(3)]
    for line in lines:
        ctx.print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=False))
                  + "  " + line[3])


def cmd_services(ctx: Context) -> None:
    kind = getattr(ctx.args, "kind", None)
    _table(ctx, ctx.client.request("GET", "/services", **({"kind": kind} if kind else {})))


def cmd_service_create(ctx: Context) -> None:
    kind, name = _kind(ctx), ctx.args.name
    ctx.progress(f"Creating {kind} {name} (the first one builds its image; this takes a "
                 "while)")
    ctx.client.request("POST", "/services", {"kind": kind, "name": name})
    ctx.done(f"done, link it with `paas {kind}:link {name} -a APP`")


def cmd_service_info(ctx: Context) -> None:
    shown = ctx.client.request("GET", _path(ctx.args.name), kind=_kind(ctx))
    ctx.print(f"=== {shown['kind']} {shown['name']}")
    rows = [("Status", shown["status"] + (f" ({shown['status_message']})"
                                         if shown.get("status_message") else "")),
            ("Container", shown["container"]),
            ("Host", shown["host"]),
            (shown["url_var"], shown["url"]),
            ("Volume", shown["volume"]),
            ("Linked apps", ", ".join(shown["links"]) or "-"),
            ("Owner", shown["owner"]),
            ("Created", shown["created_at"])]
    width = max(len(label) for label, _ in rows) + 1
    for label, value in rows:
        ctx.print(f"{label + ':':<{width}} {value}")


def cmd_service_link(ctx: Context) -> None:
    kind, name, app = _kind(ctx), ctx.args.name, ctx.app
    var = "DATABASE_URL" if kind == "postgres" else "REDIS_URL"
    ctx.progress(f"Linking {kind} {name} to {app}, setting {var} and restarting {app}")
    ctx.client.request("POST", _path(name, "links"), {"app": app}, kind=kind)
    ctx.done()


def cmd_service_unlink(ctx: Context) -> None:
    kind, name, app = _kind(ctx), ctx.args.name, ctx.app
    ctx.progress(f"Unlinking {kind} {name} from {app} and restarting {app}")
    ctx.client.request("DELETE", _path(name, "links", app), kind=kind)
    ctx.done()


def cmd_service_restart(ctx: Context) -> None:
    kind, name = _kind(ctx), ctx.args.name
    ctx.progress(f"Restarting {kind} {name}")
    ctx.client.request("POST", _path(name, "restart"), kind=kind)
    ctx.done()


def cmd_service_destroy(ctx: Context) -> None:
    kind, name = _kind(ctx), ctx.args.name
    confirm = ctx.args.confirm
    if confirm is None:
        ctx.err.write(f"This destroys {kind} {name} and deletes its data for good"
                      f"{' (linked apps are unlinked first)' if ctx.args.force else ''}.\n")
        confirm = ctx.prompt(f"Type {name} to confirm: ").strip()
    if confirm != name:
        raise CliError(f"confirmation {confirm!r} does not match {name!r}; nothing was "
                       "destroyed")
    ctx.progress(f"Destroying {kind} {name}")
    destroyed = ctx.client.request("DELETE", _path(name), kind=kind,
                                   force="true" if ctx.args.force else "false")
    ctx.done()
    if kept := destroyed.get("backups_kept"):
        ctx.print(f"Its {kept} backup{'s are' if kept != 1 else ' is'} kept: "
                  f"`paas {kind}:backups {name}`, `paas {kind}:backups:delete {name} ID`")


def _size(size: int) -> str:
    if size < 1000:
        return f"{size} B"
    scaled = float(size)
    for unit in ("kB", "MB", "GB"):
        scaled /= 1000
        if scaled < 1000 or unit == "GB":
            break
    return f"{scaled:.1f} {unit}"


def cmd_service_backup(ctx: Context) -> None:
    kind, name = _kind(ctx), ctx.args.name
    ctx.progress(f"Backing up {kind} {name}")
    backup = ctx.client.request("POST", _path(name, "backups"), kind=kind)
    ctx.done()
    ctx.print(f"Backup {backup['id']} ({_size(backup['size'])}, sha256 {backup['sha256']})")


def cmd_service_backups(ctx: Context) -> None:
    kind, name = _kind(ctx), ctx.args.name
    rows = ctx.client.request("GET", _path(name, "backups"), kind=kind)
    if not rows:
        ctx.print(f"No backups of {name}. Make one with `paas {kind}:backup {name}`.")
        return
    ctx.print(table([(row["id"], row["created"][:19].replace("T", " "), _size(row["size"]),
                      row["sha256"][:12]) for row in rows],
                    ("ID", "CREATED (UTC)", "SIZE", "SHA256")))


def cmd_service_backup_download(ctx: Context) -> None:
    kind, name, backup_id = _kind(ctx), ctx.args.name, ctx.args.id
    suffix = ".dump" if kind == "postgres" else ".rdb"
    target = Path(ctx.args.output or f"{backup_id}{suffix}")
    if target.exists():
        raise CliError(f"{target} exists already; give another with -o FILE")
    partial = target.with_name(f".{target.name}.partial")
    ctx.progress(f"Downloading {backup_id} to {target}")
    digest = hashlib.sha256()
    try:
        with partial.open("xb") as out:
            def write(chunk: bytes) -> None:
                digest.update(chunk)
                out.write(chunk)

            headers = ctx.client.download(_path(name, "backups", backup_id), write, kind=kind)
        expected = headers.get("x-backup-sha256", "")
        if digest.hexdigest() != expected:
            raise CliError(f"the download does not match the backup's sha256 ({expected}); "
                           "nothing was kept")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    ctx.done()
    ctx.print(f"{target}: {_size(target.stat().st_size)}, sha256 {digest.hexdigest()}")


def cmd_service_backup_delete(ctx: Context) -> None:
    kind, name, backup_id = _kind(ctx), ctx.args.name, ctx.args.id
    ctx.progress(f"Deleting backup {backup_id} of {name}")
    ctx.client.request("DELETE", _path(name, "backups", backup_id), kind=kind)
    ctx.done()


def cmd_service_restore(ctx: Context) -> None:
    kind, name, backup_id = _kind(ctx), ctx.args.name, ctx.args.id
    confirm = ctx.args.confirm
    if confirm is None:
        ctx.err.write(f"This replaces the data of {kind} {name} with backup {backup_id}.\n")
        confirm = ctx.prompt(f"Type {name} to confirm: ").strip()
    if confirm != name:
        raise CliError(f"confirmation {confirm!r} does not match {name!r}; nothing was "
                       "restored")
    ctx.progress(f"Restoring {backup_id} into {kind} {name}")
    ctx.client.request("POST", _path(name, "restore"), {"backup": backup_id}, kind=kind)
    ctx.done()


def cmd_service_connect(ctx: Context) -> int:
    kind, name = _kind(ctx), ctx.args.name
    if not terminal_session(ctx):
        raise CliError(f"{kind}:connect needs a terminal; to run commands from a script, "
                       f"use a linked app: paas run -a APP -- ...")
    return interactive_session(ctx, _path(name, "connect") + f"?kind={kind}", {})


def add_service_commands(add: Callable) -> None:
    """`services`, and for each kind: KIND, KIND:create, :info, :link, :unlink, :restart,
    :destroy, :backup, :backups, :backups:download, :backups:delete, :restore."""
    add("services", cmd_services, "list your backing services (PostgreSQL, Redis)", app=False)
    for kind in KINDS:
        var = "DATABASE_URL" if kind == "postgres" else "REDIS_URL"

        def verb(name: str, handler: Callable, help_text: str, app: bool = False,
                 kind: str = kind):
            sub = add(f"{kind}{name}", handler, help_text, app=app)
            sub.set_defaults(kind=kind)
            if name:
                sub.add_argument("name", metavar="NAME")
            return sub

        verb("", cmd_services, f"list your {kind} services")
        verb(":create", cmd_service_create, f"create a {kind} service")
        verb(":info", cmd_service_info, f"show a {kind} service, with its {var}")
        verb(":link", cmd_service_link,
             f"link a {kind} service to an app: sets {var} and restarts the app", app=True)
        verb(":unlink", cmd_service_unlink,
             f"unlink a {kind} service: unsets {var} and restarts the app", app=True)
        verb(":connect", cmd_service_connect,
             f"open {'psql' if kind == 'postgres' else 'redis-cli'} on a {kind} service")
        verb(":restart", cmd_service_restart, f"restart a {kind} service (its data stays)")
        destroy = verb(":destroy", cmd_service_destroy,
                       f"destroy a {kind} service and delete its data (asks to confirm)")
        destroy.add_argument("--force", action="store_true",
                             help="unlink the apps linked to it first")
        destroy.add_argument("--confirm", metavar="NAME",
                             help="the service's name, to skip the prompt")
        verb(":backup", cmd_service_backup,
             f"back a {kind} service up now (kept under PAAS_HOME)")
        verb(":backups", cmd_service_backups,
             f"list a {kind} service's backups (also after it is destroyed)")
        download = verb(":backups:download", cmd_service_backup_download,
                        "download a backup (checked against its sha256)")
        download.add_argument("id", metavar="ID")
        download.add_argument("-o", "--output", metavar="FILE",
                              help="where to write it (default: ./ID.dump or ./ID.rdb)")
        verb(":backups:delete", cmd_service_backup_delete,
             "delete a backup").add_argument("id", metavar="ID")
        restore = verb(":restore", cmd_service_restore,
                       f"replace a {kind} service's data with a backup of any {kind} service "
                       "of yours (asks to confirm)")
        restore.add_argument("id", metavar="ID")
        restore.add_argument("--confirm", metavar="NAME",
                             help="the service's name, to skip the prompt")
