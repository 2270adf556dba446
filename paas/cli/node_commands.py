"""The `paas nodes` verbs: the machines apps run on, and joining another (superusers only).

``nodes:join-command`` prints the ``docker swarm join`` line to run on a new machine;
``nodes`` lists the swarm's nodes with their state, availability and the instances on each.
"""

from paas.cli.commands import Context, table


def cmd_nodes(ctx: Context) -> None:
    listed = ctx.client.request("GET", "/nodes")
    ctx.print(table([(n["hostname"] + (" (leader)" if n["leader"] else ""), n["role"],
                      n["state"], n["availability"], " ".join(n["tasks"]) or "-")
                     for n in listed], ("NODE", "ROLE", "STATE", "AVAILABILITY", "INSTANCES")))


def cmd_nodes_join_command(ctx: Context) -> None:
    ctx.print(ctx.client.request("GET", "/nodes/join-command")["command"])
