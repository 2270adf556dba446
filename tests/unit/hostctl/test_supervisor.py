"""The control plane's processes in host mode: few, and sized for an I/O-bound 2-core host."""

import re

from paas.hostctl.supervisor import StackSettings, render


def _programs(tmp_path, **overrides) -> dict[str, str]:
    """Each supervisord program's command line, by program name."""
    settings = {"home": tmp_path, "project_dir": tmp_path, "control_port": 8000,
                "router_port": 8080, "bind_address": "127.0.0.1",
                "redis_url": "redis://127.0.0.1:6380/0", "worker_concurrency": 8,
                "build_concurrency": 2, "nginx_binary": "/usr/sbin/nginx", "env": {},
                **overrides}
    (tmp_path / "run").mkdir(exist_ok=True)
    config = render(StackSettings(**settings))
    return dict(re.findall(r"^\[program:(\w+)\]\ncommand=(.*)$", config, re.MULTILINE))


def test_it_runs_redis_gunicorn_two_workers_and_nginx_and_no_separate_beat(tmp_path):
    assert sorted(_programs(tmp_path)) == ["builder", "redis", "router", "web", "worker"]


def test_each_worker_is_one_process_with_a_thread_per_task(tmp_path):
    programs = _programs(tmp_path, worker_concurrency=8, build_concurrency=3)

    assert " -m worker --queues celery --concurrency 8 " in programs["worker"]
    assert " -m worker --queues builds --concurrency 3 " in programs["builder"]
    # Not the `celery` command line, whose prefork pool is a process per task.
    assert all("celery -A" not in programs[name] for name in ("worker", "builder"))


def test_beat_runs_in_the_deploy_worker_only(tmp_path):
    programs = _programs(tmp_path)

    assert f"--beat-schedule {tmp_path / 'run' / 'celerybeat-schedule'}" in programs["worker"]
    assert "--beat-schedule" not in programs["builder"]


def test_the_web_process_has_the_workers_and_threads_it_is_given(tmp_path):
    assert "--workers 1 --threads 32 " in _programs(tmp_path)["web"]
    assert "--workers 2 --threads 64 " in _programs(tmp_path, web_workers=2,
                                                    web_threads=64)["web"]
