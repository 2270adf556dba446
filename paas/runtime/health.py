"""Health checks for new web containers: they must answer HTTP before traffic moves to them.

The default check passes on any answer from ``/`` that is not a server error: 2xx, 3xx and
4xx pass (many apps answer 404 or redirect on ``/`` and are up all the same), 5xx fails (the
app is up but broken). app.json ``healthchecks.web`` entries, in the format Dokku reads,
refine it: ``path``, ``content`` (expected in the body), ``attempts``, ``timeout``, ``wait``
and ``initialDelay``; such a check also fails on 4xx. Each number is bounded (see LIMITS),
and no check waits past the deploy's deadline (PAAS_HEALTHCHECK_TIMEOUT), whatever it asks.
"""

import http.client
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from paas.errors import UserError

# The most an app.json check may ask for. One check holds a build worker while it runs, so
# these keep a hostile app.json from holding every tenant's builds.
MAX_ATTEMPTS = 60
MAX_TIMEOUT_SECONDS = 60
MAX_WAIT_SECONDS = 60
MAX_INITIAL_DELAY_SECONDS = 300
MAX_PATH_LENGTH = 1024
MAX_CONTENT_LENGTH = 1024
MAX_CHECKS = 10
LIMITS = {"attempts": (1, MAX_ATTEMPTS), "timeout": (0.1, MAX_TIMEOUT_SECONDS),
          "wait": (0, MAX_WAIT_SECONDS), "initialDelay": (0, MAX_INITIAL_DELAY_SECONDS)}


class HealthCheckFailed(UserError):
    code = "healthcheck_failed"


def _invalid(entry: object, problem: str) -> UserError:
    return UserError(f"invalid app.json healthcheck {entry!r}: {problem}",
                     code="invalid_app_json")


def _number(entry: dict[str, object], key: str, default: float, whole: bool = False) -> float:
    value = entry.get(key, default)
    kinds = (int,) if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value):
        raise _invalid(entry, f"{key} must be a {'whole ' if whole else ''}number")
    low, high = LIMITS[key]
    if not low <= value <= high:
        raise _invalid(entry, f"{key} must be between {low} and {high}")
    return value


def _text(entry: dict[str, object], key: str, default: str | None, maximum: int) -> str | None:
    value = entry.get(key, default)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > maximum:
        raise _invalid(entry, f"{key} must be text of at most {maximum} characters")
    return value


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
    def from_app_json(cls, entry: object) -> "HealthCheck":
        """Build a check from one app.json ``healthchecks.web`` entry.

        Raises UserError(invalid_app_json) for a malformed entry or a number out of LIMITS.
        Keys paas does not use are ignored.
        """
        if not isinstance(entry, dict):
            raise _invalid(entry, "each check must be a JSON object")
        path = _text(entry, "path", "/", MAX_PATH_LENGTH) or ""
        if not path.startswith("/") or any(c <= " " or c == "\x7f" for c in path):
            raise _invalid(entry, "path must start with / and hold no spaces or control "
                                  "characters")
        return cls(
            path=path,
            content=_text(entry, "content", None, MAX_CONTENT_LENGTH),
            attempts=int(_number(entry, "attempts", 5, whole=True)),
            timeout=float(_number(entry, "timeout", 5)),
            wait=float(_number(entry, "wait", 1)),
            initial_delay=float(_number(entry, "initialDelay", 0)),
            name=_text(entry, "name", path, MAX_PATH_LENGTH) or path,
        )


def checks_from_app_json(app_json: dict[str, object]) -> list[HealthCheck]:
    """The web checks an app.json asks for (``healthchecks.web``), in order.

    Raises UserError(invalid_app_json) when ``healthchecks`` is malformed (see
    ``HealthCheck.from_app_json``) or lists more than MAX_CHECKS checks.
    """
    healthchecks = app_json.get("healthchecks")
    if healthchecks is None:
        return []
    if not isinstance(healthchecks, dict):
        raise UserError("app.json: healthchecks must be an object like "
                        '{"web": [{"path": "/health"}]}', code="invalid_app_json")
    entries = healthchecks.get("web")
    if entries is None:
        return []
    if not isinstance(entries, list) or len(entries) > MAX_CHECKS:
        raise UserError(f"app.json: healthchecks.web must be a list of at most {MAX_CHECKS} "
                        "checks", code="invalid_app_json")
    return [HealthCheck.from_app_json(entry) for entry in entries]


def probe(address: str, check: HealthCheck, timeout: float | None = None) -> str | None:
    """One attempt at ``address`` (``ip:port``), waiting at most ``timeout`` (default: the
    check's): None if healthy, else what went wrong."""
    host, _, port = address.rpartition(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout or check.timeout)
    try:
        connection.request("GET", check.path, headers={"Host": "localhost",
                                                       "User-Agent": "paas-healthcheck"})
        response = connection.getresponse()
        body = response.read(65536).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as error:
        return f"GET {check.path}: {error or type(error).__name__}"
    finally:
        connection.close()
    # The default check lets 4xx pass (an app without a page at / is still up); a check the
    # app asked for names a path that must answer.
    if response.status >= (500 if check.name == "default" else 400):
        return f"GET {check.path}: HTTP {response.status}"
    if check.content is not None and check.content not in body:
        return f"GET {check.path}: expected content {check.content!r} not found"
    return None


def wait_until_healthy(
    address: str,
    checks: list[HealthCheck],
    is_running: Callable[[], bool],
    deadline_seconds: float,
    log: Callable[[str], None],
) -> None:
    """Run every check against ``address`` (``ip:port``: where the router will send
    requests) until it passes.

    Raises HealthCheckFailed when a check runs out of attempts, the deadline passes (no
    initial delay or probe waits past it), or the container stops (``is_running`` returns
    False).
    """
    deadline = time.monotonic() + deadline_seconds
    for check in checks or [HealthCheck()]:
        if check.initial_delay:
            if time.monotonic() + check.initial_delay > deadline:
                raise HealthCheckFailed(
                    f"health check {check.name!r}: its initialDelay of {check.initial_delay:g} "
                    f"seconds ends past the deploy's {int(deadline_seconds)} seconds "
                    "(PAAS_HEALTHCHECK_TIMEOUT)")
            time.sleep(check.initial_delay)
        attempt = 0
        while True:
            attempt += 1
            remaining = max(deadline - time.monotonic(), 0.1)
            problem = probe(address, check, timeout=min(check.timeout, remaining))
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
