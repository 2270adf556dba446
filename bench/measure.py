"""What the benchmarks share: watching for an app's first answer, wrk, and Docker look-ups.

Both sides of a row are measured with the same helpers, so that polling granularity and client
cost fall on each side alike. Every wait here is bounded: a benchmark that cannot finish raises
``BenchError`` rather than hanging.
"""

import re
import subprocess
import threading
import time
from dataclasses import dataclass

from tests.e2e.stack import Stack, http_get

# Debian's docker CLI: the one paas itself builds with (paas.runtime.docker_client).
DOCKER = "/usr/bin/docker"
# The CA bundle a stack started by tests.e2e.stack gives its builds (PAAS_BUILD_CA_BUNDLE's
# default: the stack's environment drops every PAAS_ variable of the caller's).
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
POLL_SECONDS = 0.05


class BenchError(RuntimeError):
    """A benchmark could not measure what it set out to (a failed push, an app that never
    answered); the harness reports it in that benchmark's place and goes on."""


class AnswerWatch:
    """Polls ``url`` in a thread from the moment it is entered, and notes when it first answers
    200 with ``expected`` in the body, in seconds since entering.

    Used by both sides of a deploy row: the paas side's push and the baseline's build + run
    happen while it polls, every ``POLL_SECONDS``, the same way.
    """

    def __init__(self, url: str, expected: str, host: str | None = None) -> None:
        self.url, self.expected, self.host = url, expected, host
        self.answered_after: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self.started = 0.0

    def __enter__(self) -> "AnswerWatch":
        self.started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def _poll(self) -> None:
        while not self._stop.is_set():
            answer = http_get(self.url, host=self.host, timeout=5)
            if answer.status == 200 and self.expected in answer.body:
                self.answered_after = self.elapsed()
                return
            time.sleep(POLL_SECONDS)

    def wait(self, limit: float = 300) -> float:
        """Seconds from entering to the first right answer. Raises BenchError after
        ``limit`` seconds without one."""
        self._thread.join(timeout=limit)
        if self.answered_after is None:
            raise BenchError(f"{self.url} (Host: {self.host}) never answered {self.expected!r}")
        return self.answered_after


def router_url(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.router_port}/"


def app_host(app: str) -> str:
    return f"{app}.localhost"


# --- wrk ------------------------------------------------------------------------------------

WRK_RATE_RE = re.compile(r"^Requests/sec:\s+([0-9.]+)", re.MULTILINE)
WRK_P99_RE = re.compile(r"^\s+99%\s+([0-9.]+)(us|ms|s)\b", re.MULTILINE)
WRK_TOTAL_RE = re.compile(r"(\d+) requests in")
WRK_NON_2XX_RE = re.compile(r"Non-2xx or 3xx responses: (\d+)")
WRK_SOCKET_RE = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
MS_PER_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx/3xx answers plus socket errors


def parse_wrk(output: str) -> WrkResult:
    """The figures of ``wrk --latency``'s summary. Raises BenchError if it has none."""
    rate, p99, total = (WRK_RATE_RE.search(output), WRK_P99_RE.search(output),
                        WRK_TOTAL_RE.search(output))
    if not (rate and p99 and total):
        raise BenchError(f"wrk printed no summary:\n{output}")
    errors = 0
    for pattern in (WRK_NON_2XX_RE, WRK_SOCKET_RE):
        found = pattern.search(output)
        if found:
            errors += sum(int(group) for group in found.groups())
    return WrkResult(requests_per_second=float(rate.group(1)),
                     p99_ms=float(p99.group(1)) * MS_PER_UNIT[p99.group(2)],
                     requests=int(total.group(1)), errors=errors)


def wrk(url: str, host: str | None = None, connections: int = 8, seconds: int = 8) -> WrkResult:
    """One ``wrk -t1`` run with keep-alive (wrk's default: no ``Connection: close``) against a
    loopback ``url``. Raises BenchError if wrk fails."""
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    if host:
        argv += ["-H", f"Host: {host}"]
    result = subprocess.run([*argv, url], capture_output=True, text=True, timeout=seconds + 60)
    if result.returncode != 0:
        raise BenchError(f"wrk failed:\n{result.stdout}\n{result.stderr}")
    return parse_wrk(result.stdout)


# --- Docker and the stack -------------------------------------------------------------------

def docker(*argv: str, timeout: float = 900, check: bool = True) -> str:
    """Run Debian's docker CLI; its stdout. Raises BenchError if it fails and ``check``."""
    result = subprocess.run([DOCKER, *argv], capture_output=True, text=True, timeout=timeout,
                            env={"DOCKER_BUILDKIT": "1", "PATH": "/usr/bin:/bin"})
    if check and result.returncode != 0:
        raise BenchError(f"docker {' '.join(argv[:2])} failed:\n{result.stderr}")
    return result.stdout.strip()


def web_ports(app: str) -> list[int]:
    """The loopback ports the app's running web containers are published on."""
    ids = docker("ps", "--quiet", "--filter", f"label=paas.app={app}",
                 "--filter", "label=paas.process=web").split()
    ports = []
    for container in ids:
        for line in docker("port", container).splitlines():  # "5000/tcp -> 127.0.0.1:49153"
            ports.append(int(line.rsplit(":", 1)[1]))
    return sorted(set(ports))


def web_addresses(app: str) -> list[str]:
    """Where the app's running web containers listen on their networks (``ip:5000``): the
    addresses the router sends to."""
    ids = docker("ps", "--quiet", "--filter", f"label=paas.app={app}",
                 "--filter", "label=paas.process=web").split()
    addresses = []
    for container in ids:
        networks = docker("inspect", "--format",
                          "{{range $name, $n := .NetworkSettings.Networks}}"
                          "{{$name}} {{$n.IPAddress}}\n{{end}}", container)
        for line in networks.splitlines():
            name, _, address = line.partition(" ")
            if name.endswith(f"-{app}") and address:
                addresses.append(f"{address}:5000")
    return sorted(addresses)


def push_or_fail(stack: Stack, repo, app: str, ref: str = "main") -> None:
    """Raises BenchError if the push fails."""
    result = stack.push(repo, app, ref=ref)
    if result.returncode != 0:
        raise BenchError(f"push to {app} failed:\n{result.stderr}")


def destroy_app(stack: Stack, app: str) -> None:
    """Destroy an app the benchmark made, so that the rows after it run on a quiet machine.

    Cleanup, so it raises nothing: what it could not destroy, ``Stack.stop`` removes.
    """
    result = stack.paas("apps:destroy", "--confirm", app, "-a", app)
    if result.returncode != 0:
        # Not the benchmark's figure, but worth a look: the control plane's own account.
        print(f"  (could not destroy {app}: {result.stderr.strip()})\n{stack.logs()[-4000:]}",
              flush=True)


def paas_or_fail(stack: Stack, *argv: str) -> str:
    """Run the ``paas`` CLI as the stack's admin; its stdout. Raises BenchError if it fails."""
    result = stack.paas(*argv)
    if result.returncode != 0:
        raise BenchError(f"paas {' '.join(argv)} failed:\n{result.stderr}")
    return result.stdout
