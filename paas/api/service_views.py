"""The JSON API of backing services (PostgreSQL, Redis): list, create, show, link, unlink,
restart, destroy. Each handler finds the service through ``get_service`` (outsiders get 404)
and calls one ``paas.core.services`` function; the app of a link through ``get_app``.

Creating (which builds the service's image on first use) and linking (which deploys the app)
answer once done, as app links do.
"""

from typing import Any

from django.http import HttpRequest

from paas.api import serializers, tty
from paas.api.auth import HandlerResult, api_view, read_json
from paas.core import applications, processes, services
from paas.errors import UserError


def _shown(service) -> dict[str, Any]:
    return serializers.service(services.service_info(service))


def _kind(request: HttpRequest) -> str | None:
    kind = request.GET.get("kind")
    return services.validate_kind(kind) if kind else None


def list_services(request: HttpRequest, user) -> list[dict[str, Any]]:
    found = services.visible_services(user).select_related("owner")
    if (kind := _kind(request)) is not None:
        found = found.filter(kind=kind)
    return [_shown(service) for service in found]


def create_service(request: HttpRequest, user) -> dict[str, Any]:
    body = read_json(request)
    kind, name = body.get("kind"), body.get("name")
    if not isinstance(kind, str) or not isinstance(name, str):
        raise UserError("give the service's 'kind' (postgres or redis) and 'name'",
                        code="invalid_request")
    return _shown(services.create_service(kind, name, user))


def show_service(request: HttpRequest, user, name: str) -> dict[str, Any]:
    return _shown(services.get_service(name, user, _kind(request)))


def destroy_service(request: HttpRequest, user, name: str) -> dict[str, Any]:
    service = services.get_service(name, user, _kind(request))
    force = request.GET.get("force", "").lower() in ("1", "true", "yes")
    services.destroy_service(service, user, force=force)
    return {"destroyed": name}


def restart_service(request: HttpRequest, user, name: str) -> dict[str, Any]:
    service = services.get_service(name, user, _kind(request))
    services.restart_service(service)
    return _shown(service)


def link_service(request: HttpRequest, user, name: str) -> dict[str, Any]:
    service = services.get_service(name, user, _kind(request))
    app_name = read_json(request).get("app")
    if not isinstance(app_name, str):
        raise UserError("give the 'app' to link", code="invalid_request")
    services.link_service(service, applications.get_app(app_name, user), user)
    return _shown(service)


def unlink_service(request: HttpRequest, user, name: str, app: str) -> dict[str, Any]:
    service = services.get_service(name, user, _kind(request))
    services.unlink_service(service, applications.get_app(app, user), user)
    return _shown(service)


def connect_service(request: HttpRequest, user, name: str) -> HandlerResult:
    """psql / redis-cli in the service's container, upgraded to ``paas-tty`` (see
    ``paas.api.tty``)."""
    service = services.get_service(name, user, _kind(request))
    if not tty.wants_session(request):
        raise UserError("connect upgrades to an interactive session: send 'Connection: "
                        "Upgrade' and 'Upgrade: paas-tty'", code="upgrade_required")
    body = read_json(request)
    term = processes.terminal(body.get("rows", 24), body.get("cols", 80),
                              body.get("term", "xterm"))
    tty.client_socket(request)
    return tty.serve(request, lambda: services.open_console(service, term, user))


services_view = api_view(get=list_services, post=create_service)
service_view = api_view(get=show_service, delete=destroy_service)
service_restart_view = api_view(post=restart_service)
service_links_view = api_view(post=link_service)
service_link_view = api_view(delete=unlink_service)
service_connect_view = api_view(post=connect_service)
