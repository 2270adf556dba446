"""Scaling and limits: how many containers of each process type an app runs, and how big."""

import os
import re
from collections.abc import Callable

from django.db import transaction

from paas.core.models import App, Formation
from paas.errors import UserError
from paas.names import validate_process_type

MAX_INSTANCES = 20
# Docker refuses memory limits under 6 MiB; anything that small cannot run a process anyway.
MIN_MEMORY_BYTES = 6 * 1024 * 1024
MEMORY_RE = re.compile(r"^([1-9][0-9]{0,6})([kmg])$")
MEMORY_UNITS = {"k": 1024, "m": 1024**2, "g": 1024**3}
# The release command runs once per release, never as a scaled process.
NOT_SCALABLE = frozenset({"release"})


def _ignore(_line: str) -> None:
    pass


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


def scale(app: App, quantities: dict[str, int], log: Callable[[str], None] = _ignore) -> None:
    """Set the quantity of each named process type and converge, without rebuilding.

    Scaling down drains the removed containers (SIGTERM, grace period) after the router stops
    sending them requests. Raises UserError(invalid_quantity) for a quantity outside
    0..MAX_INSTANCES, UserError(unknown_process_type) for a type the current release does not
    define, and what ``deploy_release`` raises.
    """
    from paas.core.releases import deploy_release

    for process_type, quantity in quantities.items():
        _check_process_type(app, process_type)
        if isinstance(quantity, bool) or not isinstance(quantity, int) \
                or not 0 <= quantity <= MAX_INSTANCES:
            raise UserError(f"invalid quantity {quantity!r} for {process_type}: use a whole "
                            f"number from 0 to {MAX_INSTANCES}", code="invalid_quantity")
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
    match = MEMORY_RE.fullmatch(value.strip().lower())
    if not match or int(match.group(1)) * MEMORY_UNITS[match.group(2)] < MIN_MEMORY_BYTES:
        raise UserError(f"invalid memory limit {value!r}: use a number with k, m or g, "
                        "at least 6m (e.g. 256m, 1g)", code="invalid_limit")
    return match.group(0)


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


def set_limits(app: App, process_type: str, memory: str | None = None,
               cpus: float | str | None = None, log: Callable[[str], None] = _ignore) -> None:
    """Set (or, with an empty value, clear) the memory and CPU limit of one process type.

    ``None`` leaves a limit as it is; ``""`` removes it. Running containers of that type are
    replaced with zero downtime. Raises UserError(invalid_limit / unknown_process_type) and
    what ``deploy_release`` raises.
    """
    from paas.core.releases import deploy_release

    _check_process_type(app, process_type)
    changes: dict = {}
    if memory is not None:
        changes["memory_limit"] = parse_memory(memory) if memory != "" else ""
    if cpus is not None:
        changes["cpu_limit"] = parse_cpus(cpus) if cpus != "" else None
    if not changes:
        return
    formation, _ = Formation.objects.get_or_create(app=app, process_type=process_type)
    for field, value in changes.items():
        setattr(formation, field, value)
    formation.save(update_fields=[*changes, "updated_at"])
    release = app.current_release
    if release is not None:
        deploy_release(release, log)
