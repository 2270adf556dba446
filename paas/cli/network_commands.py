"""The `paas network` verbs: which apps an app's containers may reach.

No app reaches another by default; ``network:link OTHER -a APP`` lets APP's containers reach
OTHER's web process at ``http://OTHER:5000`` (APP is redeployed to join OTHER's network).
"""

from paas.cli.commands import Context


def cmd_network(ctx: Context) -> None:
    linked = ctx.client.request("GET", ctx.client.app_path(ctx.app, "links"))["links"]
    if not linked:
        ctx.print(f"{ctx.app} is linked to no app: it reaches no other app's containers.")
        return
    for name in linked:
        ctx.print(name)


def cmd_network_link(ctx: Context) -> None:
    app, other = ctx.app, ctx.args.other
    ctx.progress(f"Linking {app} to {other} and restarting {app}")
    ctx.client.request("POST", ctx.client.app_path(app, "links"), {"app": other})
    ctx.done(f"done, {app} reaches {other} at http://{other}:5000")


def cmd_network_unlink(ctx: Context) -> None:
    app, other = ctx.app, ctx.args.other
    ctx.progress(f"Unlinking {app} from {other} and restarting {app}")
    ctx.client.request("DELETE", ctx.client.app_path(app, "links", other))
    ctx.done(f"done, {app} no longer reaches {other}")
