"""The JSON API: every dashboard read and action, for the CLI and scripts.

Each handler finds the app through ``get_app`` (so outsiders get 404, never a peek) and calls
one ``paas.core`` service; nothing here changes a model directly.
"""

from collections.abc import Iterator
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse

from paas.api import serializers
from paas.api.auth import Forbidden, api_view, read_json
from paas.api.logstreams import app_log_lines, build_log_lines
from paas.api.openapi import openapi_document
from paas.core import applications, formation, releases
from paas.core.errors import NotFound, UserError
from paas.core.models import App

MAX_LOG_TAIL = 10_000


def _summary(app: App) -> dict[str, Any]:
    return serializers.app_summary(applications.app_summary(app))


def _require_admin(app: App, user, action: str) -> None:
    if not applications.can_administer(app, user):
        raise Forbidden(f"only the owner of {app.name} may {action}")


def _string_map(value: Any, field: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str | int | float)
                                              for v in value.values()):
        raise UserError(f"'{field}' must be an object of strings", code="invalid_request")
    return {str(k): str(v) for k, v in value.items()}


def _string_list(value: Any, field: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UserError(f"'{field}' must be a list of strings", code="invalid_request")
    return value


def _text_stream(lines: Iterator[str | None]) -> StreamingHttpResponse:
    # None is a follower's idle second: send a lone "\r" (an empty chunk would end the
    # response), so the server notices a client that left. The CLI drops leading "\r"s.
    # Buffering proxies are asked not to sit on the stream.
    response = StreamingHttpResponse(("\r" if line is None else f"{line}\n" for line in lines),
                                     content_type="text/plain; charset=utf-8")
    response["X-Accel-Buffering"] = "no"
    response["Cache-Control"] = "no-cache"
    return response


# --- account -------------------------------------------------------------------------------


def whoami(request: HttpRequest, user) -> dict[str, Any]:
    return {"username": user.get_username(), "is_superuser": user.is_superuser}


# --- apps ----------------------------------------------------------------------------------


def list_apps(request: HttpRequest, user) -> list[dict[str, Any]]:
    return [serializers.app_summary(s) for s in applications.app_summaries(user)]


def create_app(request: HttpRequest, user) -> dict[str, Any]:
    name = read_json(request).get("name")
    if not isinstance(name, str):
        raise UserError("give the app's 'name'", code="invalid_request")
    app = applications.create_app(name, user)
    return _summary(app)


def show_app(request: HttpRequest, user, name: str) -> dict[str, Any]:
    app = applications.get_app(name, user)
    return {**_summary(app), "git_remote": git_remote(request, app),
            "collaborators": serializers.collaborators(app),
            "domains": [serializers.domain(d) for d in app.domains.all()]}


def destroy_app(request: HttpRequest, user, name: str) -> dict[str, Any]:
    app = applications.get_app(name, user)
    _require_admin(app, user, "destroy it")
    applications.destroy_app(app)
    return {"destroyed": name}


def git_remote(request: HttpRequest, app: App) -> str:
    return request.build_absolute_uri(f"/git/{app.name}.git")


# --- config --------------------------------------------------------------------------------


def show_config(request: HttpRequest, user, name: str) -> dict[str, str]:
    return dict(applications.get_app(name, user).config)


def change_config(request: HttpRequest, user, name: str) -> dict[str, Any]:
    app = applications.get_app(name, user)
    body = read_json(request)
    changes = _string_map(body.get("set", {}), "set")
    unset = _string_list(body.get("unset", []), "unset")
    release = releases.set_config(app, changes, unset, user=user)
    return {"config": dict(app.config),
            "release": serializers.release(release) if release else None}


# --- processes -----------------------------------------------------------------------------


def show_formation(request: HttpRequest, user, name: str) -> dict[str, Any]:
    app = applications.get_app(name, user)
    return {"formation": {f.process_type: f.quantity for f in app.formations.all()},
            "instances": [serializers.instance(i) for i in applications.app_instances(app)]}


def change_formation(request: HttpRequest, user, name: str) -> dict[str, Any]:
    app = applications.get_app(name, user)
    quantities = read_json(request)
    if not quantities:
        raise UserError("give quantities, like {\"web\": 2}", code="invalid_request")
    formation.scale(app, quantities)
    return {"formation": {f.process_type: f.quantity for f in app.formations.all()}}


def run(request: HttpRequest, user, name: str) -> dict[str, Any]:
    app = applications.get_app(name, user)
    command = read_json(request).get("command")
    if not isinstance(command, str) or not command.strip():
        raise UserError("give the 'command' to run", code="invalid_request")
    from paas.core.processes import run_command  # added by the runtime work

    result = run_command(app, command, user=user)
    return {"exit_code": result.exit_code, "output": result.output}


def logs(request: HttpRequest, user, name: str) -> HttpResponse:
    app = applications.get_app(name, user)
    try:
        tail = int(request.GET.get("tail", "100"))
    except ValueError:
        raise UserError("'tail' must be a whole number", code="invalid_request") from None
    tail = max(0, min(tail, MAX_LOG_TAIL))
    follow_logs = request.GET.get("follow") in ("1", "true", "yes")
    return _text_stream(app_log_lines(app, tail, follow_logs))


# --- releases and builds -------------------------------------------------------------------


def list_releases(request: HttpRequest, user, name: str) -> list[dict[str, Any]]:
    app = applications.get_app(name, user)
    return [serializers.release(r) for r in app.releases.select_related("created_by")]


def rollback(request: HttpRequest, user, name: str) -> dict[str, Any]:
    app = applications.get_app(name, user)
    version = read_json(request).get("version")
    if isinstance(version, str) and version.lower().startswith("v"):
        version = version[1:]
    try:
        number = int(version)
    except (TypeError, ValueError):
        raise UserError("give the 'version' to roll back to, like \"v3\"",
                        code="invalid_request") from None
    release = releases.rollback(app, number, user=user)
    return serializers.release(release)


def list_builds(request: HttpRequest, user, name: str) -> list[dict[str, Any]]:
    app = applications.get_app(name, user)
    return [serializers.build(b) for b in app.builds.select_related("created_by")[:50]]


def _get_build(app: App, build_id: int):
    found = app.builds.select_related("app", "created_by").filter(pk=build_id).first()
    if found is None:
        raise NotFound(f"{app.name} has no build {build_id}", code="build_not_found")
    return found


def show_build(request: HttpRequest, user, name: str, build_id: int) -> dict[str, Any]:
    return serializers.build(_get_build(applications.get_app(name, user), build_id))


def build_log(request: HttpRequest, user, name: str, build_id: int) -> HttpResponse:
    build = _get_build(applications.get_app(name, user), build_id)
    return _text_stream(build_log_lines(build))


# --- domains and collaborators -------------------------------------------------------------


def list_domains(request: HttpRequest, user, name: str) -> list[dict[str, Any]]:
    app = applications.get_app(name, user)
    return [serializers.domain(d) for d in app.domains.all()]


def add_domain(request: HttpRequest, user, name: str) -> dict[str, Any]:
    app = applications.get_app(name, user)
    hostname = read_json(request).get("hostname")
    if not isinstance(hostname, str):
        raise UserError("give the 'hostname' to add", code="invalid_request")
    domain = applications.add_domain(app, hostname)
    _reconverge(app)
    return serializers.domain(domain)


def remove_domain(request: HttpRequest, user, name: str, hostname: str) -> dict[str, Any]:
    app = applications.get_app(name, user)
    applications.remove_domain(app, hostname)
    _reconverge(app)
    return {"removed": hostname}


def _reconverge(app: App) -> None:
    """Re-route the app after a domain change (a no-op before its first release)."""
    from paas.core.reconcile import reconcile_app

    reconcile_app(app)


def list_collaborators(request: HttpRequest, user, name: str) -> list[str]:
    return serializers.collaborators(applications.get_app(name, user))


def add_collaborator(request: HttpRequest, user, name: str) -> dict[str, Any]:
    app = applications.get_app(name, user)
    _require_admin(app, user, "add collaborators")
    username = read_json(request).get("username")
    if not isinstance(username, str):
        raise UserError("give the 'username' to add", code="invalid_request")
    applications.add_collaborator(app, username)
    return {"collaborators": serializers.collaborators(app)}


def remove_collaborator(request: HttpRequest, user, name: str, username: str) -> dict[str, Any]:
    app = applications.get_app(name, user)
    _require_admin(app, user, "remove collaborators")
    applications.remove_collaborator(app, username)
    return {"collaborators": serializers.collaborators(app)}


def openapi(request: HttpRequest) -> JsonResponse:
    return JsonResponse(openapi_document(request.build_absolute_uri("/api")))


whoami_view = api_view(get=whoami)
apps_view = api_view(get=list_apps, post=create_app)
app_view = api_view(get=show_app, delete=destroy_app)
config_view = api_view(get=show_config, patch=change_config)
formation_view = api_view(get=show_formation, patch=change_formation)
run_view = api_view(post=run)
logs_view = api_view(get=logs)
releases_view = api_view(get=list_releases)
rollback_view = api_view(post=rollback)
builds_view = api_view(get=list_builds)
build_view = api_view(get=show_build)
build_log_view = api_view(get=build_log)
domains_view = api_view(get=list_domains, post=add_domain)
domain_view = api_view(delete=remove_domain)
collaborators_view = api_view(get=list_collaborators, post=add_collaborator)
collaborator_view = api_view(delete=remove_collaborator)
