"""Load for the runtime e2e tests: wrk sending requests to an app through the router; and what
the router's nginx is doing (its routes, its workers).

The tests change apps with the ``paas`` CLI and read them from the JSON API (``Stack.paas``,
``Stack.api`` in tests.e2e.stack); ``Load`` counts what the router answered meanwhile.
"""

import re
import signal
import subprocess

from paas.router.nginx import accepting_workers
from paas.router.route_table import ControlClient


def routed_upstreams(stack, app: str) -> list[str]:
    """The upstreams (``ip:port``) the stack's nginx sends ``app``'s requests to, asked
    through its control socket (the table in nginx's memory, not the file)."""
    route = ControlClient(stack.home / "run" / "router" / "control.sock").get(app)
    return sorted(route.upstreams) if route else []


def released(result) -> int:
    """The version a deploying CLI command ends with ("done, v7")."""
    assert result.returncode == 0, result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith("done, v"), result.stderr
    return int(last.removeprefix("done, v"))


def router_workers(stack) -> set[int]:
    """The pids of the nginx workers accepting connections: a reload replaces them all."""
    master = int((stack.home / "run" / "nginx.pid").read_text())
    return accepting_workers(master)


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
