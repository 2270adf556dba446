"""The certificate verbs: `paas certs -a APP`, `certs:add CERT KEY`, `certs:auto` (by ACME,
renewed by paas), `certs:remove`, `certs:info`, `certs:hsts on|off`; with `--platform`
(superusers) the control plane's at PAAS_CONTROL_DOMAIN instead of an app's.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

from paas.cli.commands import CliError, Context


def _path(ctx: Context, *parts: str) -> str:
    if ctx.args.platform:
        return "/".join(["/platform/certs", *parts])
    return ctx.client.app_path(ctx.app, "certs", *parts)


def _whose(ctx: Context) -> str:
    return "the control plane" if ctx.args.platform else ctx.app


def _read(path: str, what: str) -> str:
    try:
        return Path(path).read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise CliError(f"cannot read the {what} {path}: {error}") from None


def _show(ctx: Context, shown: dict[str, Any]) -> None:
    rows = [("Names", ", ".join(shown["names"])),
            ("Serves", ", ".join(shown["covered"]) or "none of its hostnames"),
            ("Not covered", ", ".join(shown["uncovered"]) or "-"),
            ("Issuer", shown["issuer"]),
            ("Valid", f"{shown['not_before']} to {shown['not_after']}"),
            ("Source", shown["source"]),
            ("Fingerprint", f"SHA-256 {shown['fingerprint']}"),
            ("HSTS", "on" if shown["hsts"] else "off")]
    width = max(len(label) for label, _ in rows) + 1
    for label, value in rows:
        ctx.print(f"{label + ':':<{width}} {value}")


def _current(ctx: Context) -> dict[str, Any] | None:
    listed = ctx.client.request("GET", _path(ctx))
    return listed[0] if listed else None


def cmd_certs(ctx: Context) -> None:
    shown = _current(ctx)
    if shown is None:
        ctx.print(f"{_whose(ctx)} has no certificate: add one with `paas certs:add CERT KEY` "
                  "or `paas certs:auto`.")
        return
    ctx.print(f"{', '.join(shown['names'])}  expires {shown['not_after']}  ({shown['source']})")


def cmd_certs_info(ctx: Context) -> None:
    shown = _current(ctx)
    if shown is None:
        raise CliError(f"{_whose(ctx)} has no certificate")
    ctx.print(f"=== certificate of {_whose(ctx)}")
    _show(ctx, shown)


def cmd_certs_add(ctx: Context) -> None:
    body = {"certificate": _read(ctx.args.cert, "certificate"),
            "key": _read(ctx.args.key, "key")}
    ctx.progress(f"Adding the certificate to {_whose(ctx)}")
    shown = ctx.client.request("POST", _path(ctx), body)
    ctx.done()
    _show(ctx, shown)
    if shown["uncovered"]:
        ctx.print(f"Plain HTTP only (not covered): {', '.join(shown['uncovered'])}")


def cmd_certs_auto(ctx: Context) -> None:
    ctx.progress(f"Getting a certificate for {_whose(ctx)} by ACME")
    shown = ctx.client.request("POST", _path(ctx, "auto"), {})
    ctx.done()
    for line in shown["log"]:
        ctx.print(f"  {line}")
    _show(ctx, shown)
    ctx.print("paas renews it before it expires.")


def cmd_certs_remove(ctx: Context) -> None:
    ctx.progress(f"Removing the certificate of {_whose(ctx)}")
    ctx.client.request("DELETE", _path(ctx))
    ctx.done("done, plain HTTP only")


def cmd_certs_hsts(ctx: Context) -> None:
    if ctx.args.platform:
        raise CliError("the control plane's HSTS is PAAS_TLS's (PAAS_HSTS_SECONDS)")
    enabled = ctx.args.state == "on"
    ctx.client.request("POST", _path(ctx, "hsts"), {"enabled": enabled})
    ctx.print(f"HSTS {'on' if enabled else 'off'} for {ctx.app}"
              + (": browsers will insist on HTTPS for a year" if enabled else ""))


def add_cert_commands(add: Callable) -> None:
    def with_platform(name: str, handler: Callable, help_text: str):
        sub = add(name, handler, help_text)
        sub.add_argument("--platform", action="store_true",
                         help="the control plane's certificate at PAAS_CONTROL_DOMAIN "
                              "(superusers only)")
        return sub

    with_platform("certs", cmd_certs, "show the app's certificate, in short")
    with_platform("certs:info", cmd_certs_info,
                  "show the certificate: names, issuer, expiry, source, fingerprint")
    certs_add = with_platform("certs:add", cmd_certs_add,
                              "serve HTTPS with a certificate (PEM, leaf first, then "
                              "intermediates) and its key; replaces the one there is")
    certs_add.add_argument("cert", metavar="CERT")
    certs_add.add_argument("key", metavar="KEY")
    with_platform("certs:auto", cmd_certs_auto,
                  "get a certificate for every hostname by ACME (HTTP-01 through the router, "
                  "from PAAS_ACME_DIRECTORY) and keep it renewed")
    with_platform("certs:remove", cmd_certs_remove, "remove the certificate: plain HTTP only")
    with_platform("certs:hsts", cmd_certs_hsts,
                  "send Strict-Transport-Security (one year) on HTTPS answers, or stop"
                  ).add_argument("state", choices=("on", "off"))
