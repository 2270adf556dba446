"""Memory and pids ceilings for build steps, on the cgroup BuildKit runs them in.

BuildKit inside Docker 20.10 (Debian's docker.io) ignores ``docker build --memory``,
``--ulimit`` and ``--cgroup-parent`` (tried: a step's /proc/self/cgroup shows
``/docker/buildkit/<id>`` whatever is passed, and ``ulimit -u`` is the daemon's). Every RUN
step of every build runs in a child of one cgroup, ``<dockerd's cgroup parent>/buildkit``
(``/docker/buildkit`` with the cgroupfs driver). Limits written there bound all build steps on
this dockerd together, so a fork bomb or a memory hog in a Dockerfile fails its own build
instead of taking the host: ``PAAS_BUILD_MEMORY`` and ``PAAS_BUILD_PIDS``. The time limit is
``PAAS_BUILD_TIMEOUT`` (``DockerImages.build_image``).

``apply`` writes them (``make up`` / ``hostctl up`` run as root); ``BuildLimitCounters`` reads
how often they were hit, so a failed build can say why it failed.
"""

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

from paas.errors import PlatformError
from paas.names import memory_bytes

logger = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")
BUILDKIT_CGROUP = "docker/buildkit"


@dataclass(frozen=True)
class BuildCgroup:
    """Where BuildKit's build steps run, under a cgroup v1 or v2 hierarchy at ``root``."""

    root: Path = CGROUP_ROOT
    path: str = BUILDKIT_CGROUP

    @property
    def unified(self) -> bool:
        return (self.root / "cgroup.controllers").exists()

    def _dir(self, controller: str) -> Path:
        return self.root / self.path if self.unified else self.root / controller / self.path

    def files(self) -> dict[str, Path]:
        """The limit files: memory, memory+swap (v1; v2 has memory.swap.max), pids."""
        if self.unified:
            directory = self._dir("")
            return {"memory": directory / "memory.max", "swap": directory / "memory.swap.max",
                    "pids": directory / "pids.max"}
        return {"memory": self._dir("memory") / "memory.limit_in_bytes",
                "swap": self._dir("memory") / "memory.memsw.limit_in_bytes",
                "pids": self._dir("pids") / "pids.max"}

    def read_limits(self) -> dict[str, str]:
        """What the limit files hold now (absent ones left out)."""
        found = {}
        for name, path in self.files().items():
            with contextlib.suppress(OSError):
                found[name] = path.read_text().strip()
        return found

    def apply(self, memory: str, pids: int) -> dict[str, str]:
        """Make ``memory`` (like ``4g``; swap included) and ``pids`` the ceiling of all build
        steps; return the limits that were there before.

        Raises PlatformError(build_limits_unavailable) when the cgroup cannot be written (not
        root, another cgroup driver, no such controller).
        """
        previous = self.read_limits()
        files = self.files()
        values = {"memory": str(memory_bytes(memory)), "pids": str(pids)}
        values["swap"] = "0" if self.unified else values["memory"]
        try:
            for name in ("memory", "pids"):
                files[name].parent.mkdir(parents=True, exist_ok=True)
            # v1 refuses memory+swap below memory, and memory above memory+swap: write them
            # in the order that never crosses, whichever way the limit moves.
            order = ["memory", "swap"]
            if not self.unified and previous.get("swap", "").isdigit() and \
                    int(values["memory"]) > int(previous["swap"]):
                order.reverse()
            for name in [*order, "pids"]:
                if name == "swap" and not files[name].exists():
                    continue  # no swap accounting on this kernel: memory alone bounds it
                files[name].write_text(values[name])
        except OSError as error:
            raise PlatformError(f"cannot limit build steps in {files['pids'].parent}: {error}",
                                code="build_limits_unavailable") from error
        return previous

    def restore(self, previous: dict[str, str]) -> None:
        """Put back limits ``apply`` returned (best effort: the ceiling is host-wide)."""
        files = self.files()
        order = ["swap", "memory", "pids"] if not self.unified else ["memory", "swap", "pids"]
        for name in order:
            if name in previous:
                with contextlib.suppress(OSError):
                    files[name].write_text(previous[name])

    def counters(self) -> "BuildLimitCounters":
        """How often the ceilings were hit so far."""
        memory_events = self._dir("memory") / ("memory.events" if self.unified
                                               else "memory.oom_control")
        return BuildLimitCounters(
            oom_kills=_event_count(memory_events, "oom_kill"),
            pids_refused=_event_count(self._dir("pids") / "pids.events", "max"))


@dataclass(frozen=True)
class BuildLimitCounters:
    oom_kills: int = 0
    pids_refused: int = 0


def _event_count(path: Path, key: str) -> int:
    """The ``key N`` line of a cgroup events file, 0 if it cannot be read."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        name, _, value = line.partition(" ")
        if name == key and value.strip().isdigit():
            return int(value)
    return 0


def limit_hit(before: BuildLimitCounters, after: BuildLimitCounters, memory: str | None,
              pids: int | None) -> str:
    """Why a failed build failed, if a ceiling was hit meanwhile ("" if none was)."""
    if after.oom_kills > before.oom_kills:
        return (f"a build step was killed at the build memory limit (PAAS_BUILD_MEMORY"
                f"{'=' + memory if memory else ''})")
    if after.pids_refused > before.pids_refused:
        return (f"a build step could not start more processes: the build pids limit "
                f"(PAAS_BUILD_PIDS{'=' + str(pids) if pids else ''}) was reached")
    return ""


# What a build step prints when it hits a ceiling: the kernel refuses fork() with EAGAIN
# (sh: "Cannot fork", bash: "fork: retry", Python: "[Errno 11]"), and a step the OOM killer
# stopped ends with SIGKILL's status, 137.
FORK_REFUSED = ("Resource temporarily unavailable", "Cannot fork", "fork: retry",
                "[Errno 11]", "can't fork")
KILLED_STATUS = "exit code: 137"


def limit_hit_in_output(tail: list[str], memory: str | None, pids: int | None) -> str:
    """Why a failed build failed, read from its last lines ("" if they do not say).

    Cgroup v1 counts a refused fork or an OOM kill in the step's own cgroup, which is gone
    when the build returns, so the output is the witness that stays.
    """
    text = "\n".join(tail)
    if any(marker in text for marker in FORK_REFUSED):
        return (f"a build step could not start more processes: the build pids limit "
                f"(PAAS_BUILD_PIDS{'=' + str(pids) if pids else ''}) was reached")
    if KILLED_STATUS in text:
        return (f"a build step was killed, most likely at the build memory limit "
                f"(PAAS_BUILD_MEMORY{'=' + memory if memory else ''})")
    return ""
