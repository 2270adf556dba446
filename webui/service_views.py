"""The dashboard's services page: the user's backing services with their status, linked
apps and backups, each backup downloadable. Services are made, linked and restored from the
CLI or the API; this page shows them. Found through ``paas.core`` (outsiders get 404)."""

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from paas.core import service_backups, services
from paas.errors import NotFound, UserError


@login_required
@require_GET
def service_list(request: HttpRequest) -> HttpResponse:
    entries = []
    for service in services.visible_services(request.user).select_related("owner"):
        entries.append({"info": services.service_info(service),
                        "backups": service_backups.list_backups(service.name, request.user)})
    return render(request, "webui/services.html", {"entries": entries})


@login_required
@require_GET
def backup_download(request: HttpRequest, name: str, backup_id: str) -> FileResponse:
    try:
        backup = service_backups.get_backup(backup_id, request.user, service=name)
        opened = service_backups.open_backup(backup)
    except (NotFound, UserError):  # unknown, not theirs, or corrupt: no hints
        raise Http404("no such backup") from None
    response = FileResponse(opened, as_attachment=True, filename=backup.filename,
                            content_type="application/octet-stream")
    response["X-Backup-Sha256"] = backup.sha256
    return response
