"""What every app container is started with so that it can harm neither the host nor another
app: the confinement flags, the limits, and the only kind of mount paas gives out.

App and one-off containers (release phase, ``run``) both take their ``docker create`` keyword
arguments from ``confined_create_kwargs``; nothing else in paas starts an app's code.

- ``cap_drop=["ALL"]`` and none added back. Buildpack images run as the stack's ``app`` user
  (uid 1000), which needs no capability; apps listen on ``$PORT`` (5000), so no
  NET_BIND_SERVICE. An image whose entrypoint starts as root and drops privileges itself
  (gosu, su-exec) would need CHOWN/SETUID/SETGID: such an image should set ``USER`` in its
  Dockerfile instead. A Dockerfile app that keeps running as root is root without any
  capability: it cannot chown, bypass file permissions of other users, load modules, change
  the network or mount anything.
- ``no-new-privileges``: a setuid binary in the image (sudo, su) cannot raise privileges.
- A pids limit (a fork bomb stops at it instead of taking the host), a memory limit with the
  same swap limit (so "512m" means 512m, not 512m plus as much swap), optional CPU limit.
- Never privileged, never a host path: volumes are named Docker volumes only, so neither the
  Docker socket nor any other host file can be mounted, whatever a caller passes.
- Optionally a read-only root filesystem, with a tmpfs at /tmp for what apps scribble.
"""

import re
from dataclasses import dataclass
from typing import Any

from paas.errors import PlatformError

CAP_DROP = ("ALL",)
SECURITY_OPT = ("no-new-privileges:true",)
# Writable scratch space when the root filesystem is read-only; noexec would break Python's and
# Node's habit of writing helpers there, so only nosuid/nodev.
READ_ONLY_TMPFS = {"/tmp": "rw,nosuid,nodev,size=64m"}
# A Docker volume name (paas names them paas-<app>-<name>): no slash, so never a host path.
NAMED_VOLUME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
MOUNT_MODES = ("rw", "ro")


@dataclass(frozen=True)
class ContainerLimits:
    """The resources one container may use; None for memory/cpus means unlimited."""

    memory: str | None = None  # like "512m"
    nano_cpus: int | None = None
    pids: int | None = None
    read_only_rootfs: bool = False


def checked_volumes(volumes: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """``volumes`` if every one is a named Docker volume mounted at an absolute path.

    Raises PlatformError(host_mount_refused) for anything that would mount a host path (a
    name with a slash, like /var/run/docker.sock) or has an unknown mode.
    """
    for name, mount in volumes.items():
        bind = mount.get("bind", "")
        if not NAMED_VOLUME_RE.fullmatch(name) or not bind.startswith("/") \
                or mount.get("mode", "rw") not in MOUNT_MODES or set(mount) - {"bind", "mode"}:
            raise PlatformError(f"refusing to mount {name!r} at {bind!r}: app containers get "
                                "named volumes only, never a host path",
                                code="host_mount_refused")
    return volumes


def confined_create_kwargs(limits: ContainerLimits,
                           volumes: dict[str, dict[str, str]]) -> dict[str, Any]:
    """The ``containers.create`` keyword arguments that confine an app container.

    Raises PlatformError(host_mount_refused) for a volume that is not a named volume.
    """
    kwargs: dict[str, Any] = {
        "cap_drop": list(CAP_DROP),
        "security_opt": list(SECURITY_OPT),
        "privileged": False,
        "volumes": checked_volumes(volumes) or None,
    }
    if limits.pids:
        kwargs["pids_limit"] = limits.pids
    if limits.memory:
        kwargs["mem_limit"] = limits.memory
        kwargs["memswap_limit"] = limits.memory
    if limits.nano_cpus:
        kwargs["nano_cpus"] = limits.nano_cpus
    if limits.read_only_rootfs:
        kwargs["read_only"] = True
        kwargs["tmpfs"] = dict(READ_ONLY_TMPFS)
    return kwargs
