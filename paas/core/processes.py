"""One-off processes: ``run(app, command)`` in a fresh container of the current release.

The container gets the release's image, config and volumes (not a port or a route) and is
removed afterwards. The command is the user's intent, so it runs as ``/bin/sh -c <command>``;
config values reach it only as environment variables, never spliced into the command.
"""

import logging
from dataclasses import dataclass

from paas.core.models import App
from paas.core.platform import platform
from paas.core.releases import desired_state
from paas.errors import UserError

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 600.0
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
    if not isinstance(command, str) or not command.strip() or "\0" in command \
            or len(command) > MAX_COMMAND_LENGTH:
        raise UserError("invalid command: give a non-empty command of at most "
                        f"{MAX_COMMAND_LENGTH} characters", code="invalid_command")
    if not timeout or timeout <= 0:
        raise UserError("invalid timeout: use a positive number of seconds",
                        code="invalid_command")
    release = app.current_release
    if release is None:
        raise UserError(f"{app.name} has no release to run commands in yet; push first",
                        code="no_release")
    logger.info("run in %s %s by %s: %r", app.name, release.version,
                getattr(user, "username", None) or "system", command)
    result = platform().scheduler.run_oneoff(desired_state(release), command, kind="run",
                                      timeout=timeout)
    return RunResult(result.exit_code, result.output[-MAX_OUTPUT_CHARS:], result.timed_out)
