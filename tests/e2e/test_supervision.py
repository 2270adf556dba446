"""Host mode keeps the control plane up: a crashed process is restarted by supervisord."""

import os
import signal
import subprocess
import sys
import time

from tests.e2e.stack import http_get


def _supervisorctl(stack, *args: str) -> str:
    return subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "supervisorctl"),
         "-c", str(stack.home / "run" / "supervisord.conf"), *args],
        capture_output=True, text=True).stdout


def test_status_lists_every_control_plane_process(stack):
    result = stack.hostctl("status")
    assert result.returncode == 0
    states = dict(line.split()[:2] for line in result.stdout.splitlines() if line.strip())
    # Beat is a thread of the worker, not a process of its own.
    assert states == {program: "RUNNING"
                      for program in ("builder", "redis", "router", "web", "worker")}


def test_a_killed_web_process_comes_back(stack):
    old_pid = int(_supervisorctl(stack, "pid", "web").strip())
    os.kill(old_pid, signal.SIGKILL)
    new_pid = old_pid
    for _ in range(60):
        time.sleep(1)
        pid_text = _supervisorctl(stack, "pid", "web").strip()
        if pid_text.isdigit() and int(pid_text) not in (0, old_pid):
            new_pid = int(pid_text)
            if http_get(f"http://127.0.0.1:{stack.control_port}/").status == 200:
                break
    assert new_pid != old_pid
    assert http_get(f"http://127.0.0.1:{stack.control_port}/").status == 200
