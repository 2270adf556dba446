"""Scaling: how many containers of each process type an app runs."""

from collections.abc import Callable

from django.db import transaction

from paas.core.errors import UserError
from paas.core.models import App, Formation
from paas.core.names import validate_process_type

MAX_INSTANCES = 20


def _ignore(_line: str) -> None:
    pass


def scale(app: App, quantities: dict[str, int], log: Callable[[str], None] = _ignore) -> None:
    """Set the quantity of each named process type and converge, without rebuilding.

    Raises UserError(invalid_quantity) for a quantity outside 0..MAX_INSTANCES and
    UserError(unknown_process_type) for a type the current release does not define.
    """
    from paas.core.releases import deploy_release

    release = app.current_release
    for process_type, quantity in quantities.items():
        validate_process_type(process_type)
        if isinstance(quantity, bool) or not isinstance(quantity, int) \
                or not 0 <= quantity <= MAX_INSTANCES:
            raise UserError(f"invalid quantity {quantity!r} for {process_type}: use a whole "
                            f"number from 0 to {MAX_INSTANCES}", code="invalid_quantity")
        if release is not None and process_type not in release.process_types:
            known = ", ".join(sorted(release.process_types)) or "none"
            raise UserError(f"{app.name} has no process type {process_type!r} "
                            f"(known: {known})", code="unknown_process_type")
    with transaction.atomic():
        for process_type, quantity in quantities.items():
            Formation.objects.update_or_create(app=app, process_type=process_type,
                                               defaults={"quantity": quantity})
    if release is not None:
        deploy_release(release, log)
