"""Celery tasks: thin wrappers that load rows by id and call one paas.core service."""

from celery import shared_task

from paas.core import actions, reconcile


@shared_task(name="worker.tasks.run_build")
def run_build(build_id: int) -> None:
    # Imported here: only the builder runs builds, and the deploy worker need not carry the
    # builders and dulwich (some 3.5 MB).
    from paas.core import builds

    builds.run_build(build_id)


@shared_task(name="worker.tasks.reconcile_all")
def reconcile_all() -> None:
    reconcile.reconcile_all()


@shared_task(name="worker.tasks.reroute_moved_ports")
def reroute_moved_ports() -> None:
    reconcile.reroute_moved_ports()


# A deploy action waits for health checks (seconds to minutes); acks_late and prefetch 1 (see
# settings) keep a worker from hoarding them. run_action never runs one action twice.
@shared_task(name="worker.tasks.run_action")
def run_action(action_id: str) -> None:
    actions.run_action(action_id)
