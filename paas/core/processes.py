"""One-off processes: ``run(app, command)`` in a fresh container of the current release.

The container gets the release's image, config and volumes (not a port or a route) and is
removed afterwards. The command is the user's intent, so it runs as ``/bin/sh -c <command>``;
config values reach it only as environment variables, never spliced into the command.

Three ways to run one: to completion with its output returned (``run_command``), on a
pseudo-terminal the caller relays to the user's (``open_session``: ``paas run`` from a
terminal), or in the background with its output in the app's logs (``start_detached``:
``paas run --detach``, which a worker runs with ``run_detached``).
"""

import logging
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from paas.core.models import App, Release
from paas.core.platform import platform
from paas.core.releases import desired_state
from paas.errors import PlatformError, UserError
from paas.runtime.scheduler import Terminal, TtySession

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 600.0
# An interactive session or a detached run may last long (a console, a data migration); past
# this the periodic clean-up removes its container (see remove_stale_oneoffs).
SESSION_TIMEOUT = 12 * 3600.0
DETACHED_TIMEOUT = 24 * 3600.0
RUN_DETACHED_TASK = "worker.tasks.run_detached"
TERM_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
MAX_TERMINAL_SIZE = 10_000
MAX_COMMAND_LENGTH = 4096
# Keep the end of very chatty commands; the start is rarely what the user looks for.
MAX_OUTPUT_CHARS = 1_000_000


@dataclass(frozen=True)
class RunResult:
    exit_code: int
    output: str
    timed_out: bool = False


def run_command(app: App, command: str, user=None, timeout: float = DEFAULT_TIMEOUT) -> RunResult:
    """Run ``command`` once in a container of ``app``'s current release and wait for it.

    Returns its exit code and combined output (124 and timed_out=True if it ran past
    ``timeout`` seconds and was killed). Raises UserError(no_release) if the app has no
    current release, UserError(invalid_command) for an empty or oversized command, and
    PlatformError if Docker fails.
    """
    validate_command(command)
    if not timeout or timeout <= 0:
        raise UserError("invalid timeout: use a positive number of seconds",
                        code="invalid_command")
    release = _current_release(app)
    logger.info("run in %s %s by %s: %r", app.name, release.version,
                getattr(user, "username", None) or "system", command)
    result = platform().scheduler.run_oneoff(desired_state(release), command, kind="run",
                                      timeout=timeout)
    return RunResult(result.exit_code, result.output[-MAX_OUTPUT_CHARS:], result.timed_out)


def validate_command(command: str) -> str:
    """``command`` if it is one to run. Raises UserError(invalid_command)."""
    if not isinstance(command, str) or not command.strip() or "\0" in command \
            or len(command) > MAX_COMMAND_LENGTH:
        raise UserError("invalid command: give a non-empty command of at most "
                        f"{MAX_COMMAND_LENGTH} characters", code="invalid_command")
    return command


def terminal(rows: object = 24, cols: object = 80, term: object = "xterm") -> Terminal:
    """The pseudo-terminal a client asks for. Raises UserError(invalid_terminal) for a size
    that is not a positive whole number up to MAX_TERMINAL_SIZE or a TERM that is not a
    plain terminal name."""
    for value in (rows, cols):
        if isinstance(value, bool) or not isinstance(value, int) \
                or not 0 < value <= MAX_TERMINAL_SIZE:
            raise UserError(f"invalid terminal size {value!r}: use 1 to {MAX_TERMINAL_SIZE}",
                            code="invalid_terminal")
    if not isinstance(term, str) or not TERM_RE.match(term):
        raise UserError(f"invalid TERM {term!r}", code="invalid_terminal")
    assert isinstance(rows, int) and isinstance(cols, int)
    return Terminal(rows=rows, cols=cols, term=term)


def _current_release(app: App) -> Release:
    release = app.current_release
    if release is None:
        raise UserError(f"{app.name} has no release to run commands in yet; push first",
                        code="no_release")
    return release


def open_session(app: App, command: str, term: Terminal, user=None,
                 timeout: float = SESSION_TIMEOUT) -> TtySession:
    """Start ``command`` in a one-off container of ``app``'s current release on a
    pseudo-terminal and return the session, for the caller to relay and close (closing
    removes the container).

    Raises UserError(invalid_command / no_release / tty_not_supported) and PlatformError if
    Docker fails.
    """
    validate_command(command)
    release = _current_release(app)
    logger.info("interactive run in %s %s by %s: %r", app.name, release.version,
                getattr(user, "username", None) or "system", command)
    return platform().scheduler.open_oneoff_tty(desired_state(release), command, term,
                                                timeout=timeout)


def start_detached(app: App, command: str, user=None) -> str:
    """Queue ``command`` to run in the background in a one-off container of ``app``'s current
    release; return the name its output has in ``paas logs`` (``run.<hex>``).

    Raises UserError(invalid_command / no_release), PlatformError(queue_down) if the broker
    refuses.
    """
    validate_command(command)
    release = _current_release(app)
    label = f"run.{os.urandom(3).hex()}"
    logger.info("detached run %s in %s %s by %s: %r", label, app.name, release.version,
                getattr(user, "username", None) or "system", command)
    try:
        platform().tasks.send(RUN_DETACHED_TASK, [release.pk, command, label])
    except Exception as error:  # the broker (Redis) refused: nothing will run it
        logger.exception("could not queue the detached run %s of %s", label, app.name)
        raise PlatformError(f"could not queue the run: {error}", code="queue_down") from error
    return label


def run_detached(release_id: int, command: str, label: str,
                 timeout: float = DETACHED_TIMEOUT) -> int:
    """Run a detached command (see ``start_detached``) to its end; return its exit code.

    Its output goes, line by line as it comes, with Docker's timestamps, to the file ``paas
    logs`` reads the output of removed instances from (``v<release>/<label>.log``), so it
    shows there among the app's other processes. A release deleted meanwhile runs nothing.
    """
    release = Release.objects.select_related("app").filter(pk=release_id).first()
    if release is None:
        logger.warning("detached run %s: release %s is gone", label, release_id)
        return 1
    scheduler = platform().scheduler
    path = scheduler.saved_logs_dir(release.app.name) / release.version / f"{label}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as log_file:

        def log(line: str) -> None:
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")
            log_file.write(f"{stamp} {line}\n")
            log_file.flush()

        result = scheduler.run_oneoff(desired_state(release), command, kind="run",
                                      timeout=timeout, log=log)
        if result.timed_out:
            log(f"(killed after {timeout:.0f} seconds)")
    logger.info("detached run %s of %s ended with %s", label, release.app.name,
                result.exit_code)
    return result.exit_code
