"""A Celery worker of paas, as a program (what supervisord and docker-compose run):

    python -m worker --queues celery --concurrency 8 --hostname worker@%h \
        --beat-schedule /var/lib/paas/run/celerybeat-schedule
    python -m worker --queues builds --concurrency 2 --hostname builder@%h

An entry point: it reads its arguments, and the settings through paas.settings. It starts the
worker from Python (``app.Worker``), as ``celery worker`` would, but without the ``celery``
command line, which imports every subcommand, an interactive shell among them (click-repl,
prompt_toolkit, pygments: about 10 MB in each worker process).

Every task here waits on something else (Docker, health checks, a ``docker build``
subprocess, Redis), so the pool is threads: one process whatever the concurrency, instead of
a process of some 70 MB per task slot. Builds keep a worker of their own (queue ``builds``),
so a few long builds never hold up a deploy action or the reconcile.

``--beat-schedule`` runs Celery beat (reconcile, re-routing) as a thread of this worker rather
than as a process of its own. Give it to one worker only: two beats would queue every
periodic task twice.
"""

import argparse
import os
from pathlib import Path

from celery import bootsteps
from celery.utils.nodenames import default_nodename, host_format

# Django's system checks import the whole URLconf (the dashboard, the API, the git receiver,
# the admin) into every worker: some 3 MB each. `make up` runs them once, in `migrate`.
os.environ.setdefault("CELERY_SKIP_CHECKS", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "paas.settings")

from paas.celery import app  # noqa: E402 - after the environment it reads


class EmbeddedBeat(bootsteps.StartStopStep):
    """Celery beat as a thread of the worker, enabled by ``beat_schedule``: the file where
    beat keeps when each periodic task last ran."""

    label = "EmbeddedBeat"
    conditional = True

    def __init__(self, parent, beat_schedule: str | None = None, **kwargs) -> None:
        self.enabled = beat_schedule is not None
        self.schedule_filename = beat_schedule
        super().__init__(parent, **kwargs)

    def create(self, parent):
        from celery.beat import EmbeddedService

        # thread=True: a thread of this process, stopped with the worker; Celery's own
        # `worker --beat` forks a process instead.
        return EmbeddedService(parent.app, thread=True, schedule_filename=self.schedule_filename)


app.steps["worker"].add(EmbeddedBeat)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m worker",
                                     description="run a Celery worker of paas")
    parser.add_argument("--queues", required=True,
                        help="comma-separated queues to consume (celery, builds)")
    parser.add_argument("--concurrency", type=int, required=True,
                        help="tasks that run at once (threads)")
    parser.add_argument("--hostname", default="worker@%h",
                        help="the node name; %%h expands to the host name")
    parser.add_argument("--beat-schedule", type=Path,
                        help="also run beat, keeping its schedule in this file")
    parser.add_argument("--loglevel", default="INFO")
    args = parser.parse_args(argv)
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    return args


def worker_options(args: argparse.Namespace) -> dict:
    """What ``app.Worker`` takes for these arguments."""
    return {
        "hostname": host_format(default_nodename(args.hostname)),
        "queues": [queue for queue in args.queues.split(",") if queue],
        "concurrency": args.concurrency,
        "pool_cls": "threads",
        "loglevel": args.loglevel,
        "beat_schedule": str(args.beat_schedule) if args.beat_schedule else None,
    }


def main(argv: list[str] | None = None) -> int:
    worker = app.Worker(**worker_options(parse_args(argv)))
    worker.start()
    return worker.exitcode or 0


if __name__ == "__main__":
    raise SystemExit(main())
