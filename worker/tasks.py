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


@shared_task(name="worker.tasks.renew_certificates")
def renew_certificates() -> None:
    from paas.core import acme_certificates

    acme_certificates.renew_certificates()


# A deploy action waits for health checks (seconds to minutes); acks_late and prefetch 1 (see
# settings) keep a worker from hoarding them. run_action never runs one action twice.
@shared_task(name="worker.tasks.run_action")
def run_action(action_id: str) -> None:
    actions.run_action(action_id)


# `paas run --detach`: the command runs for as long as it takes, its output going to the
# app's logs. On the deploy worker's queue (the builder's is for builds). Acknowledged on
# receipt, not at the end as the others: a worker lost mid-run must not have the user's
# command (a data migration, say) run a second time, and a run longer than the broker's
# visibility timeout would be handed out again.
@shared_task(name="worker.tasks.run_detached", acks_late=False)
def run_detached(release_id: int, command: str, label: str) -> None:
    from paas.core import processes

    processes.run_detached(release_id, command, label)
