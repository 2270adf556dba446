"""Links between apps: the only way one app's containers reach another's.

Every app has its own Docker network; no app reaches another by default. ``link(app, target)``
makes ``app``'s containers join ``target``'s network, where ``target``'s web containers answer
to ``target``'s name (``http://<target>:5000``). Backing services reuse this. A link is one
way and is recorded (``AppLink``); the containers are replaced with zero downtime to join or
leave the network, through the same converge as every other change.
"""

from django.db import IntegrityError, transaction

from paas.core.applications import get_app
from paas.core.models import App, AppLink
from paas.core.releases import deploy_release
from paas.errors import NotFound, PaasError, UserError
from paas.runtime.scheduler import Log, ignore


def linked_apps(app: App) -> list[str]:
    """The names of the apps ``app``'s containers may reach, sorted."""
    return list(app.links.order_by("target__name").values_list("target__name", flat=True))


def link(app: App, target_name: str, user, log: Log = ignore) -> AppLink:
    """Let ``app``'s containers reach ``target_name``'s, and redeploy ``app`` so they do.

    ``user`` must see both apps. Raises NotFound(app_not_found) for a target ``user`` cannot
    see (outsiders learn nothing), UserError(invalid_app_name / link_to_itself /
    link_exists), and what ``deploy_release`` raises (the link is then removed again, so a
    failed link changes nothing).
    """
    target = get_app(target_name, user)
    if target.pk == app.pk:
        raise UserError(f"{app.name} cannot be linked to itself", code="link_to_itself")
    try:
        with transaction.atomic():
            created = AppLink.objects.create(app=app, target=target)
    except IntegrityError:
        raise UserError(f"{app.name} is linked to {target.name} already",
                        code="link_exists") from None
    try:
        _redeploy(app, log)
    except PaasError:
        created.delete()
        raise
    return created


def unlink(app: App, target_name: str, user, log: Log = ignore) -> None:
    """Take ``app``'s containers off ``target_name``'s network, redeploying ``app``.

    Raises NotFound(link_not_found) if there is no such link, and what ``deploy_release``
    raises (the link is then put back).
    """
    found = app.links.select_related("target").filter(target__name=target_name).first()
    if found is None:
        raise NotFound(f"{app.name} is not linked to {target_name!r}", code="link_not_found")
    target = found.target
    found.delete()
    try:
        _redeploy(app, log)
    except PaasError:
        AppLink.objects.get_or_create(app=app, target=target)
        raise


def _redeploy(app: App, log: Log) -> None:
    release = app.current_release
    if release is not None:
        deploy_release(release, log)
