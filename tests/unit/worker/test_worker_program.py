"""`python -m worker`: a Celery worker with a pool of threads, and beat only where asked."""

import socket
import threading

import pytest

from worker.__main__ import EmbeddedBeat, parse_args, worker_options


def test_it_runs_the_given_queues_with_a_thread_per_task():
    options = worker_options(parse_args(["--queues", "builds", "--concurrency", "2"]))

    assert options["queues"] == ["builds"]
    assert (options["pool_cls"], options["concurrency"]) == ("threads", 2)
    assert options["beat_schedule"] is None


def test_it_names_the_node_after_this_host():
    options = worker_options(parse_args(["--queues", "celery", "--concurrency", "8",
                                         "--hostname", "builder@%h"]))

    assert options["hostname"] == f"builder@{socket.gethostname()}"


def test_it_refuses_a_concurrency_below_one(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--queues", "celery", "--concurrency", "0"])

    assert "--concurrency must be at least 1" in capsys.readouterr().err


class _Worker:
    """What a bootstep reads of the worker it is part of."""

    def __init__(self) -> None:
        from paas.celery import app

        self.app = app


def test_beat_is_a_thread_of_the_worker_keeping_its_schedule_where_told(tmp_path):
    schedule = tmp_path / "celerybeat-schedule"
    options = worker_options(parse_args(["--queues", "celery", "--concurrency", "8",
                                         "--beat-schedule", str(schedule)]))
    worker = _Worker()
    step = EmbeddedBeat(worker, beat_schedule=options["beat_schedule"])

    beat = step.create(worker)

    assert step.enabled
    assert isinstance(beat, threading.Thread) and beat.daemon
    assert beat.service.schedule_filename == str(schedule)


def test_a_worker_without_a_beat_schedule_runs_no_beat():
    assert not EmbeddedBeat(_Worker()).enabled
