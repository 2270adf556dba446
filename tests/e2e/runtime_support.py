"""Helpers for the runtime e2e tests: call paas.core services in the real stack, and load it.

``core`` runs a snippet in ``manage.py shell`` against the stack's database, Redis and Docker
(exactly what the dashboard or API would call); ``Load`` runs wrk against the router.
"""

import json
import re
import signal
import subprocess
import sys

from tests.e2e.stack import PROJECT_DIR

PREAMBLE = """
import json, os
from paas.errors import PaasError
from paas.core.models import App
app = App.objects.get(name=os.environ["RUNTIME_TEST_APP"])

def call(function, *args, **kwargs):
    try:
        value = function(*args, **kwargs)
    except PaasError as error:
        return {"ok": False, "code": error.code, "message": str(error)}
    return {"ok": True, "value": value}
"""


def core(stack, app: str, code: str, timeout: float = 600) -> dict:
    """Run ``code`` (which sets ``result`` to something JSON-able) with ``app`` loaded."""
    script = PREAMBLE + code + "\nprint('RESULT:' + json.dumps(result, default=str))\n"
    completed = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script], cwd=PROJECT_DIR,
        env={**stack.env, "RUNTIME_TEST_APP": app}, capture_output=True, text=True,
        timeout=timeout)
    for line in reversed(completed.stdout.splitlines()):
        if line.startswith("RESULT:"):
            return json.loads(line[len("RESULT:"):])
    raise AssertionError(f"no result (exit {completed.returncode}):\n{completed.stdout}\n"
                         f"{completed.stderr}")


class Load:
    """wrk sending a steady stream of GETs to one app through the router until stopped.

    ``Connection: close`` is not set: wrk keeps connections alive, as browsers do.
    """

    def __init__(self, stack, app: str, connections: int = 4) -> None:
        self.argv = ["wrk", "-t1", f"-c{connections}", "-d600s", "--timeout", "10s",
                     "-H", f"Host: {app}.localhost", f"http://127.0.0.1:{stack.router_port}/"]
        self.process: subprocess.Popen | None = None
        self.output = ""

    def __enter__(self) -> "Load":
        self.process = subprocess.Popen(self.argv, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)
        return self

    def __exit__(self, *exc) -> None:
        assert self.process is not None
        # wrk prints its summary on SIGINT.
        self.process.send_signal(signal.SIGINT)
        try:
            self.output, _ = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.output, _ = self.process.communicate()

    @property
    def requests(self) -> int:
        match = re.search(r"(\d+) requests in", self.output)
        return int(match.group(1)) if match else 0

    @property
    def failures(self) -> int:
        """Non-2xx/3xx answers plus connect, read, write and timeout errors."""
        failed = 0
        match = re.search(r"Non-2xx or 3xx responses: (\d+)", self.output)
        if match:
            failed += int(match.group(1))
        match = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                          r"timeout (\d+)", self.output)
        if match:
            failed += sum(int(group) for group in match.groups())
        return failed
