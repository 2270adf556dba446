"""The machines apps run on: listing them and joining another. Installation-wide, so for
superusers only; the scheduler says what the nodes are (one host for the docker scheduler,
the swarm's nodes for the swarm scheduler)."""

from paas.core.platform import platform
from paas.errors import Forbidden
from paas.runtime.scheduler import Node


def list_nodes(by) -> list[Node]:
    """The nodes, with their state, availability and the instances on each. Raises Forbidden
    unless ``by`` is a superuser."""
    if not by.is_superuser:
        raise Forbidden("only a superuser may list nodes")
    return platform().scheduler.nodes()


def join_command(by) -> str:
    """The ``docker swarm join`` line a new worker runs. Raises Forbidden unless ``by`` is a
    superuser (the line holds the swarm's join token), UserError(not_a_swarm) on one host."""
    if not by.is_superuser:
        raise Forbidden("only a superuser may see the join command")
    return platform().scheduler.join_command()
