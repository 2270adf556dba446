"""Celery tasks: thin wrappers that load rows by id and call one paas.core service."""

from celery import shared_task

from paas.core import builds, reconcile


@shared_task(name="worker.tasks.run_build")
def run_build(build_id: int) -> None:
    builds.run_build(build_id)


@shared_task(name="worker.tasks.reconcile_all")
def reconcile_all() -> None:
    reconcile.reconcile_all()
