"""Creating, finding and destroying apps, and who may see them."""

from django.db import IntegrityError, transaction
from django.db.models import Q

from paas.core.errors import NotFound, UserError
from paas.core.models import App, Domain, Formation
from paas.core.names import validate_app_name, validate_hostname


def create_app(name: str, owner) -> App:
    """Create app ``name`` owned by ``owner`` with the default formation (web=1).

    Raises UserError(invalid_app_name) or UserError(app_exists).
    """
    validate_app_name(name)
    try:
        with transaction.atomic():
            app = App.objects.create(name=name, owner=owner)
            Formation.objects.create(app=app, process_type="web", quantity=1)
    except IntegrityError:
        raise UserError(f"app {name!r} already exists", code="app_exists") from None
    return app


def visible_apps(user):
    """The apps ``user`` may see: all for superusers, else owned or collaborating."""
    if user.is_superuser:
        return App.objects.all()
    return App.objects.filter(Q(owner=user) | Q(collaborators=user)).distinct()


def get_app(name: str, user) -> App:
    """Return app ``name`` if ``user`` may see it. Raises NotFound (also for outsiders)."""
    validate_app_name(name)
    app = visible_apps(user).filter(name=name).first()
    if app is None:
        raise NotFound(f"app {name!r} not found", code="app_not_found")
    return app


def get_or_create_app_for_push(name: str, user) -> App:
    """The app a push to ``name`` goes to: created on the first push of a valid, unknown name.

    Raises UserError(invalid_app_name), or NotFound when the app exists but belongs to others.
    """
    validate_app_name(name)
    if not App.objects.filter(name=name).exists():
        try:
            return create_app(name, user)
        except UserError as error:
            if error.code != "app_exists":  # lost a race with a concurrent first push
                raise
    return get_app(name, user)


def add_domain(app: App, hostname: str) -> Domain:
    """Route ``hostname`` to ``app``. Raises UserError on an invalid or taken hostname."""
    hostname = validate_hostname(hostname.lower())
    try:
        return Domain.objects.create(app=app, hostname=hostname)
    except IntegrityError:
        raise UserError(f"domain {hostname} is already in use", code="domain_taken") from None
