"""Health checks for new web containers: they must answer HTTP before traffic moves to them.

The default check passes on any HTTP response from ``/`` (the app is up and speaking HTTP).
app.json ``healthchecks.web`` entries, in the format Dokku reads, refine it: ``path``,
``content`` (expected in the body), ``attempts``, ``timeout``, ``wait`` and ``initialDelay``.
"""

import http.client
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from paas.errors import UserError


class HealthCheckFailed(UserError):
    code = "healthcheck_failed"


@dataclass(frozen=True)
class HealthCheck:
    path: str = "/"
    content: str | None = None
    attempts: int = 0  # 0: keep trying until the deploy's overall timeout
    timeout: float = 5.0
    # The default check polls often: a deploy is waiting on it, and a refused connection
    # costs nothing. app.json checks keep Dokku's one-second default (from_app_json).
    wait: float = 0.05
    initial_delay: float = 0.0
    name: str = "default"

    @classmethod
    def from_app_json(cls, entry: dict[str, Any]) -> "HealthCheck":
        """Build a check from one app.json ``healthchecks.web`` entry; UserError if malformed."""
        try:
            path = str(entry.get("path", "/"))
            if not path.startswith("/"):
                raise ValueError("path must start with /")
            return cls(
                path=path,
                content=entry.get("content"),
                attempts=int(entry.get("attempts", 5)),
                timeout=float(entry.get("timeout", 5)),
                wait=float(entry.get("wait", 1)),
                initial_delay=float(entry.get("initialDelay", 0)),
                name=str(entry.get("name", path)),
            )
        except (TypeError, ValueError) as error:
            raise UserError(f"invalid app.json healthcheck {entry!r}: {error}",
                            code="invalid_app_json") from None


def probe(port: int, check: HealthCheck) -> str | None:
    """One attempt: None if healthy, else what went wrong."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=check.timeout)
    try:
        connection.request("GET", check.path, headers={"Host": "localhost",
                                                       "User-Agent": "paas-healthcheck"})
        response = connection.getresponse()
        body = response.read(65536).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as error:
        return f"GET {check.path}: {error or type(error).__name__}"
    finally:
        connection.close()
    if check.name != "default" and response.status >= 400:
        return f"GET {check.path}: HTTP {response.status}"
    if check.content is not None and check.content not in body:
        return f"GET {check.path}: expected content {check.content!r} not found"
    return None


def wait_until_healthy(
    port: int,
    checks: list[HealthCheck],
    is_running: Callable[[], bool],
    deadline_seconds: float,
    log: Callable[[str], None],
) -> None:
    """Run every check against ``port`` until it passes.

    Raises HealthCheckFailed when a check runs out of attempts, the deadline passes, or the
    container stops (``is_running`` returns False).
    """
    deadline = time.monotonic() + deadline_seconds
    for check in checks or [HealthCheck()]:
        if check.initial_delay:
            time.sleep(check.initial_delay)
        attempt = 0
        while True:
            attempt += 1
            problem = probe(port, check)
            if problem is None:
                break
            if not is_running():
                raise HealthCheckFailed(f"the container exited during the health check ({problem})")
            if check.attempts and attempt >= check.attempts:
                raise HealthCheckFailed(
                    f"health check {check.name!r} failed after {attempt} attempts: {problem}")
            if time.monotonic() + check.wait > deadline:
                raise HealthCheckFailed(
                    f"no healthy answer within {int(deadline_seconds)} seconds: {problem}")
            if attempt == 1 or attempt % 100 == 0:
                log(f"       waiting for the app to answer ({problem})")
            time.sleep(check.wait)
