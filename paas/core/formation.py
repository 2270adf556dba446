"""Scaling and limits: how many containers of each process type an app runs, and how big."""

import os
from typing import Any

from django.conf import settings
from django.db import transaction

from paas.core.models import App, Formation
from paas.core.releases import container_limits, deploy_release
from paas.errors import UserError
from paas.names import memory_size, validate_process_type
from paas.runtime.scheduler import Log, ignore

MAX_INSTANCES = 20
# The release command runs once per release, never as a scaled process.
NOT_SCALABLE = frozenset({"release"})


def _check_process_type(app: App, process_type: str) -> None:
    validate_process_type(process_type)
    if process_type in NOT_SCALABLE:
        raise UserError(f"{process_type!r} runs once per release and cannot be scaled",
                        code="unknown_process_type")
    release = app.current_release
    if release is not None and process_type not in release.process_types:
        known = ", ".join(sorted(set(release.process_types) - NOT_SCALABLE)) or "none"
        raise UserError(f"{app.name} has no process type {process_type!r} "
                        f"(known: {known})", code="unknown_process_type")


def check_quantities(app: App, quantities: dict[str, Any]) -> None:
    """Raise UserError(invalid_quantity) for a quantity outside 0..MAX_INSTANCES, and
    UserError(unknown_process_type) for a type the current release does not define."""
    for process_type, quantity in quantities.items():
        _check_process_type(app, process_type)
        if isinstance(quantity, bool) or not isinstance(quantity, int) \
                or not 0 <= quantity <= MAX_INSTANCES:
            raise UserError(f"invalid quantity {quantity!r} for {process_type}: use a whole "
                            f"number from 0 to {MAX_INSTANCES}", code="invalid_quantity")


def scale(app: App, quantities: dict[str, int], log: Log = ignore) -> None:
    """Set the quantity of each named process type and converge, without rebuilding.

    Scaling down drains the removed containers (SIGTERM, grace period) after the router stops
    sending them requests. Raises what ``check_quantities`` and ``deploy_release`` raise.
    """
    check_quantities(app, quantities)
    with transaction.atomic():
        for process_type, quantity in quantities.items():
            Formation.objects.update_or_create(app=app, process_type=process_type,
                                               defaults={"quantity": quantity})
    release = app.current_release
    if release is not None:
        deploy_release(release, log)


def parse_memory(value: str) -> str:
    """Return ``value`` (like ``256m``, ``1g``) if it is a usable memory limit.

    Raises UserError(invalid_limit) otherwise.
    """
    size = memory_size(value)
    if size is None:
        raise UserError(f"invalid memory limit {value!r}: use a number with k, m or g, "
                        "at least 6m (e.g. 256m, 1g)", code="invalid_limit")
    return size


def parse_cpus(value: float | int | str) -> float:
    """Return ``value`` as a CPU count between 0.01 and this host's CPUs.

    Raises UserError(invalid_limit) otherwise.
    """
    host_cpus = os.cpu_count() or 1
    try:
        cpus = float(value)
    except (TypeError, ValueError):
        cpus = -1.0
    if isinstance(value, bool) or not 0.01 <= cpus <= host_cpus:
        raise UserError(f"invalid CPU limit {value!r}: use a number from 0.01 to {host_cpus}",
                        code="invalid_limit")
    return round(cpus, 2)


def check_limits(app: App, process_type: str, memory: str | float | None,
                 cpus: float | str | None) -> dict[str, Any]:
    """The Formation fields that ``memory`` and ``cpus`` set (see ``set_limits``).

    Raises UserError(invalid_limit / unknown_process_type).
    """
    _check_process_type(app, process_type)
    changes: dict[str, Any] = {}
    if memory is not None:
        if not isinstance(memory, str):
            raise UserError(f"invalid memory limit {memory!r}: it needs a unit, like 256m",
                            code="invalid_limit")
        changes["memory_limit"] = parse_memory(memory) if memory != "" else ""
    if cpus is not None:
        changes["cpu_limit"] = parse_cpus(cpus) if cpus != "" else None
    return changes


def set_limits(app: App, process_type: str, memory: str | None = None,
               cpus: float | str | None = None, log: Log = ignore) -> None:
    """Set (or, with an empty value, clear) the memory and CPU limit of one process type.

    ``None`` leaves a limit as it is; ``""`` removes it. Running containers of that type are
    replaced with zero downtime. Raises UserError(invalid_limit / unknown_process_type) and
    what ``deploy_release`` raises.
    """
    changes = check_limits(app, process_type, memory, cpus)
    if not changes:
        return
    formation, _ = Formation.objects.get_or_create(app=app, process_type=process_type)
    for field, value in changes.items():
        setattr(formation, field, value)
    formation.save(update_fields=[*changes, "updated_at"])
    release = app.current_release
    if release is not None:
        deploy_release(release, log)


def effective_limits(formation: Formation | None) -> dict[str, Any]:
    """What one container of ``formation``'s process type gets, whatever set it: memory (its
    own limit or PAAS_DEFAULT_MEMORY), CPUs (None: unlimited), pids (PAAS_PIDS_LIMIT) and
    whether its root filesystem is read-only (PAAS_READ_ONLY_ROOTFS)."""
    limits = container_limits(formation)
    nano_cpus = limits.get("nano_cpus")
    return {"memory": limits["memory"],
            "cpus": round(nano_cpus / 1_000_000_000, 2) if nano_cpus else None,
            "pids": limits["pids"],
            "read_only_rootfs": settings.PAAS_READ_ONLY_ROOTFS}
