"""The JSON API of backing services (PostgreSQL, Redis): list, create, show, link, unlink,
restart, destroy; backups (make, list, download, delete) and restore. Each handler finds
the service through ``get_service`` (outsiders get 404), a backup through ``get_backup``
(likewise), and calls one ``paas.core`` function; the app of a link through ``get_app``.

Creating (which builds the service's image on first use) and linking (which deploys the app)
answer once done, as app links do.
"""

from typing import Any

from django.http import FileResponse, HttpRequest

from paas.api import serializers, tty
from paas.api.auth import HandlerResult, api_view, read_json
from paas.core import applications, processes, service_backups, services
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
    # Backups outlive their service: the CLI says how many are kept.
    return {"destroyed": name, "backups_kept": service_backups.backups_kept(name, user)}


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
def list_backups(request: HttpRequest, user, name: str) -> list[dict[str, Any]]:
    return [serializers.backup(backup)
            for backup in service_backups.list_backups(name, user, _kind(request))]


def create_backup(request: HttpRequest, user, name: str) -> dict[str, Any]:
    service = services.get_service(name, user, _kind(request))
    return serializers.backup(service_backups.create_backup(service))


def download_backup(request: HttpRequest, user, name: str, backup_id: str) -> FileResponse:
    backup = service_backups.get_backup(backup_id, user, service=name, kind=_kind(request))
    return backup_file_response(backup)


def backup_file_response(backup: service_backups.Backup) -> FileResponse:
    """The backup's file, streamed, checked against its sha256 first (also sent, so the
    client can check what arrived)."""
    response = FileResponse(service_backups.open_backup(backup), as_attachment=True,
                            filename=backup.filename, content_type="application/octet-stream")
    response["X-Backup-Sha256"] = backup.sha256
    return response


def delete_backup(request: HttpRequest, user, name: str, backup_id: str) -> dict[str, Any]:
    backup = service_backups.get_backup(backup_id, user, service=name, kind=_kind(request))
    service_backups.delete_backup(backup)
    return {"deleted": backup.id}


def restore_service(request: HttpRequest, user, name: str) -> dict[str, Any]:
    service = services.get_service(name, user, _kind(request))
    backup_id = read_json(request).get("backup")
    if not isinstance(backup_id, str):
        raise UserError("give the 'backup' id to restore", code="invalid_request")
    backup = service_backups.get_backup(backup_id, user)
    service_backups.restore_backup(service, backup)
    return {"restored": backup.id, "service": _shown(service)}


services_view = api_view(get=list_services, post=create_service)
service_view = api_view(get=show_service, delete=destroy_service)
service_restart_view = api_view(post=restart_service)
service_links_view = api_view(post=link_service)
service_link_view = api_view(delete=unlink_service)
service_connect_view = api_view(post=connect_service)
service_backups_view = api_view(get=list_backups, post=create_backup)
service_backup_view = api_view(get=download_backup, delete=delete_backup)
service_restore_view = api_view(post=restore_service)
