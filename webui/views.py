"""The dashboard: apps, config, scaling, releases, builds with live logs, domains.

Views find apps through ``get_app`` (outsiders get 404) and change things only through
``paas.core`` services. Every change is a POST (CSRF-checked by Django's middleware) that
redirects back to the app page with a message, so a reload never repeats an action.
"""

import logging
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from paas.core import (
    acme_certificates,
    actionlog,
    actions,
    applications,
    buildcache,
    buildguard,
    certificates,
    formation,
    services,
)
from paas.core.actionlog import Action
from paas.core.models import App
from paas.errors import Forbidden, NotFound, PaasError, PlatformError, UserError

logger = logging.getLogger(__name__)

RELEASES_SHOWN = 20
BUILDS_SHOWN = 10


def app_or_404(name: str, user) -> App:
    try:
        return applications.get_app(name, user)
    except (NotFound, UserError):  # an invalid name is "not found" too: no hints
        raise Http404("no such app") from None


def _app_page(app: App, anchor: str = "") -> HttpResponseRedirect:
    return redirect(reverse("webui:app", args=[app.name]) + (f"#{anchor}" if anchor else ""))


def _run_action(request: HttpRequest, action: Callable[[], object], success: str) -> bool:
    """Call a service; report the outcome as a message. Returns whether it succeeded.

    Forbidden becomes a 404, as for outsiders: the dashboard gives no hints.
    """
    try:
        action()
    except Forbidden:
        raise Http404("no such app") from None
    except PlatformError as error:
        logger.exception("dashboard action failed")
        messages.error(request, f"paas could not do that right now ({error.code}): {error}")
        return False
    except PaasError as error:
        messages.error(request, str(error))
        return False
    messages.success(request, success)
    return True


def _start_action(request: HttpRequest, app: App, start: Callable[[], Action],
                  anchor: str) -> HttpResponseRedirect:
    """Queue a deploy action with ``start`` and show the app page following its progress; a
    refused change is shown as a message there."""
    try:
        action = start()
    except PlatformError as error:
        logger.exception("dashboard could not queue a change of %s", app.name)
        messages.error(request, f"paas could not do that right now ({error.code}): {error}")
        return _app_page(app, anchor)
    except PaasError as error:
        messages.error(request, str(error))
        return _app_page(app, anchor)
    return redirect(reverse("webui:app", args=[app.name]) + f"?action={action.id}")


def _action_context(request: HttpRequest, app: App) -> dict:
    """The action named by ?action=: followed live while it runs, its outcome once done."""
    action_id = request.GET.get("action", "")
    if not action_id:
        return {}
    try:
        action = actionlog.get_action(action_id, app)
    except PaasError:
        return {}
    if not action.is_finished:
        return {"action": action}
    lines = []
    for line in actionlog.log_lines(action):
        if line is None:  # the log is gone or incomplete: show what there is
            break
        lines.append(line)
    if action.status == actionlog.Status.SUCCEEDED:
        messages.success(request, actions.outcome_message(action))
    else:
        messages.error(request, actions.outcome_message(action))
    return {"action": action, "action_log": "\n".join(lines)}


# --- apps list -----------------------------------------------------------------------------


@login_required
@require_GET
def app_list(request: HttpRequest) -> HttpResponse:
    summaries = applications.app_summaries(request.user)
    return render(request, "webui/app_list.html", {"summaries": summaries})


@login_required
@require_POST
def app_create(request: HttpRequest) -> HttpResponse:
    name = request.POST.get("name", "").strip()
    try:
        app = applications.create_app(name, request.user)
    except PaasError as error:
        messages.error(request, str(error))
        return redirect("webui:app-list")
    messages.success(request, f"Created {app.name}. Push to its git remote to deploy it.")
    return _app_page(app)


# --- app page ------------------------------------------------------------------------------


@login_required
@require_GET
def app_detail(request: HttpRequest, name: str) -> HttpResponse:
    app = app_or_404(name, request.user)
    builds = list(app.builds.select_related("created_by")[:BUILDS_SHOWN])
    formations = list(app.formations.all())
    context = {
        **_action_context(request, app),
        "app": app,
        "summary": applications.app_summary(app),
        # While a build runs, the builds list refreshes itself (and stops once none does).
        "building": any(not build.is_finished for build in builds),
        "can_administer": applications.can_administer(app, request.user),
        "git_remote": request.build_absolute_uri(f"/git/{app.name}.git"),
        "config": sorted(app.config.items()),
        "formations": formations,
        "releases": list(app.releases.select_related("created_by", "build")[:RELEASES_SHOWN]),
        "builds": builds,
        "domains": list(app.domains.all()),
        "certificate": _certificate_info(app),
        "acme_renew_days": settings.PAAS_ACME_RENEW_DAYS,
        "volumes": list(app.volumes.all()),
        "limits_summary": _limits_summary(formations),
        # What each container gets, defaults included (memory, CPUs, pids, read-only root).
        "effective_limits": [(f.process_type, formation.effective_limits(f))
                             for f in formations],
        "collaborators": list(app.collaborators.order_by("username")),
        "services": services.linked_service_statuses(app),
    }
    context.update(_instances_context(app))
    return render(request, "webui/app_detail.html", context)


def _certificate_info(app: App) -> certificates.CertificateInfo | None:
    try:
        return certificates.certificate_info(app)
    except NotFound:
        return None


def _limits_summary(formations) -> str:
    """"web: 256m, 0.5 CPU · worker: 1g" for the process types that have limits."""
    parts = []
    for f in formations:
        limits = [f.memory_limit] if f.memory_limit else []
        if f.cpu_limit:
            limits.append(f"{f.cpu_limit:g} CPU")
        if limits:
            parts.append(f"{f.process_type}: {', '.join(limits)}")
    return " · ".join(parts)


def _instances_context(app: App) -> dict:
    try:
        return {"instances": applications.app_instances(app), "instances_error": ""}
    except PlatformError as error:
        return {"instances": [], "instances_error": str(error)}


@login_required
@require_GET
def app_instances(request: HttpRequest, name: str) -> HttpResponse:
    """The live instances panel, polled by the app page."""
    app = app_or_404(name, request.user)
    context = {"app": app, "summary": applications.app_summary(app),
               "formations": list(app.formations.all()), **_instances_context(app)}
    return render(request, "webui/_instances.html", context)


@login_required
@require_POST
def config_set(request: HttpRequest, name: str) -> HttpResponse:
    app = app_or_404(name, request.user)
    key = request.POST.get("key", "").strip()
    value = request.POST.get("value", "")
    return _start_action(request, app, lambda: actions.start_config_change(
        app, request.user, {key: value}, []), "config")


@login_required
@require_POST
def config_unset(request: HttpRequest, name: str) -> HttpResponse:
    app = app_or_404(name, request.user)
    key = request.POST.get("key", "")
    return _start_action(request, app, lambda: actions.start_config_change(
        app, request.user, {}, [key]), "config")


@login_required
@require_POST
def scale(request: HttpRequest, name: str) -> HttpResponse:
    app = app_or_404(name, request.user)
    quantities: dict[str, int] = {}
    for field, raw in request.POST.items():
        if not field.startswith("qty-"):
            continue
        try:
            quantities[field.removeprefix("qty-")] = int(raw)
        except ValueError:
            messages.error(request, f"{raw!r} is not a number of instances")
            return _app_page(app, "processes")
    return _start_action(request, app, lambda: actions.start_scale(
        app, request.user, quantities), "processes")


@login_required
@require_POST
def resize(request: HttpRequest, name: str) -> HttpResponse:
    """Set one process type's limits; an emptied field removes that limit."""
    app = app_or_404(name, request.user)
    process_type = request.POST.get("process_type", "")
    memory = request.POST.get("memory", "").strip()
    cpus = request.POST.get("cpus", "").strip()
    return _start_action(request, app, lambda: actions.start_resize(
        app, request.user, process_type, memory, cpus), "processes")


@login_required
@require_POST
def rollback(request: HttpRequest, name: str) -> HttpResponse:
    app = app_or_404(name, request.user)
    version = request.POST.get("version", "")
    return _start_action(request, app, lambda: actions.start_rollback(
        app, request.user, version), "releases")


@login_required
@require_POST
def volume_add(request: HttpRequest, name: str) -> HttpResponse:
    app = app_or_404(name, request.user)
    volume = request.POST.get("name", "").strip()
    mount_path = request.POST.get("mount_path", "").strip()
    return _start_action(request, app, lambda: actions.start_volume_add(
        app, request.user, volume, mount_path), "storage")


@login_required
@require_POST
def volume_remove(request: HttpRequest, name: str) -> HttpResponse:
    app = app_or_404(name, request.user)
    volume = request.POST.get("name", "")
    delete_data = request.POST.get("delete_data") == "1"
    return _start_action(request, app, lambda: actions.start_volume_remove(
        app, request.user, volume, delete_data), "storage")


@login_required
@require_POST
def build_cache_purge(request: HttpRequest, name: str) -> HttpResponse:
    app = app_or_404(name, request.user)
    try:
        removed = buildcache.purge_build_cache(app)
    except PlatformError as error:
        logger.exception("build cache purge of %s failed", app.name)
        messages.error(request, f"paas could not do that right now ({error.code}): {error}")
    else:
        records = "record" if removed == 1 else "records"
        messages.success(request, f"Purged the build cache ({removed} {records}): the next "
                                  "build reinstalls every dependency.")
    return _app_page(app, "builds")


@login_required
@require_POST
def build_cancel(request: HttpRequest, name: str, build_id: int) -> HttpResponse:
    app = app_or_404(name, request.user)
    build = app.builds.filter(pk=build_id).first()
    if build is None:
        raise Http404("no such build")
    _run_action(request, lambda: buildguard.cancel_build(build),
                f"Cancelling build #{build.pk}.")
    return redirect("webui:build", app.name, build.pk)


@login_required
@require_POST
def domain_add(request: HttpRequest, name: str) -> HttpResponse:
    app = app_or_404(name, request.user)
    hostname = request.POST.get("hostname", "").strip()
    _run_action(request, lambda: applications.add_domain(app, hostname), f"Added {hostname}.")
    return _app_page(app, "domains")


@login_required
@require_POST
def domain_remove(request: HttpRequest, name: str) -> HttpResponse:
    app = app_or_404(name, request.user)
    hostname = request.POST.get("hostname", "")
    _run_action(request, lambda: applications.remove_domain(app, hostname),
                f"Removed {hostname}.")
    return _app_page(app, "domains")


@login_required
@require_POST
def cert_add(request: HttpRequest, name: str) -> HttpResponse:
    app = app_or_404(name, request.user)
    cert_pem, key_pem = request.POST.get("certificate", ""), request.POST.get("key", "")
    _run_action(request, lambda: certificates.add_certificate(app, cert_pem, key_pem,
                                                              request.user),
                "Certificate added: HTTPS for the names it covers.")
    return _app_page(app, "https")


@login_required
@require_POST
def cert_remove(request: HttpRequest, name: str) -> HttpResponse:
    app = app_or_404(name, request.user)
    _run_action(request, lambda: certificates.remove_certificate(app),
                "Certificate removed: plain HTTP only.")
    return _app_page(app, "https")


@login_required
@require_POST
def cert_auto(request: HttpRequest, name: str) -> HttpResponse:
    """Issue the app a certificate by ACME now, in the request as the API's ``certs:auto``
    does (seconds, some 90 s at worst: within gunicorn's timeout), and say what it serves."""
    app = app_or_404(name, request.user)
    try:
        # The exchange goes to the server's log: the message says the outcome.
        info = acme_certificates.issue_certificate(
            app, lambda line: logger.info("ACME certificate for %s: %s", app.name, line))
    except PlatformError as error:
        logger.exception("ACME certificate for %s failed", app.name)
        messages.error(request, f"paas could not do that right now ({error.code}): {error}")
    except PaasError as error:
        # The code (acme_challenge_failed, acme_rate_limited...) is what docs/https.md explains.
        messages.error(request, f"No certificate by ACME ({error.code}): {error}")
    else:
        served = ", ".join(info.covered) or "none of its hostnames"
        messages.success(request, f"Certificate issued by ACME and renewed automatically: "
                                  f"HTTPS for {served}.")
    return _app_page(app, "https")


@login_required
@require_POST
def cert_hsts(request: HttpRequest, name: str) -> HttpResponse:
    app = app_or_404(name, request.user)
    enabled = request.POST.get("enabled") == "1"
    _run_action(request, lambda: certificates.set_hsts(app, enabled),
                f"HSTS {'on' if enabled else 'off'}.")
    return _app_page(app, "https")


@login_required
@require_POST
def collaborator_add(request: HttpRequest, name: str) -> HttpResponse:
    app = app_or_404(name, request.user)
    username = request.POST.get("username", "").strip()
    _run_action(request, lambda: applications.add_collaborator(app, username, by=request.user),
                f"{username} can now change {app.name}.")
    return _app_page(app, "access")


@login_required
@require_POST
def collaborator_remove(request: HttpRequest, name: str) -> HttpResponse:
    app = app_or_404(name, request.user)
    username = request.POST.get("username", "")
    _run_action(request, lambda: applications.remove_collaborator(app, username,
                                                                  by=request.user),
                f"Removed {username}.")
    return _app_page(app, "access")


@login_required
@require_POST
def app_destroy(request: HttpRequest, name: str) -> HttpResponse:
    app = app_or_404(name, request.user)
    if not applications.can_administer(app, request.user):
        raise Http404("no such app")  # not even the confirmation hint for collaborators
    if request.POST.get("confirm", "") != app.name:
        messages.error(request, f"Type {app.name} to confirm destroying it.")
        return _app_page(app, "danger")
    if _run_action(request, lambda: applications.destroy_app(app, request.user),
                   f"Destroyed {name}."):
        return redirect("webui:app-list")
    return _app_page(app, "danger")
