"""The JSON API: every dashboard read and action, for the CLI and scripts.

Each handler finds the app through ``get_app`` (so outsiders get 404, never a peek) and calls
one ``paas.core`` service; nothing here changes a model directly.
"""

from collections.abc import Callable, Iterator
from typing import Any

from django.http import HttpRequest, JsonResponse, StreamingHttpResponse

from paas.api import serializers, tty
from paas.api.auth import HandlerResult, api_view, read_json
from paas.api.openapi import openapi_document
from paas.core import (
    actionlog,
    actions,
    applications,
    buildcache,
    buildguard,
    links,
    processes,
    services,
)
from paas.core.actionlog import Action
from paas.core.logstreams import app_log_lines, build_log_lines
from paas.core.models import App
from paas.errors import NotFound, UserError

MAX_LOG_TAIL = 10_000


def _summary(app: App) -> dict[str, Any]:
    return serializers.app_summary(applications.app_summary(app))


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


# --- deploy actions ------------------------------------------------------------------------
# Config changes, scaling, rollback, resizing and storage changes deploy: a worker runs them
# (see paas.core.actions). By default the request waits for the outcome and answers as a
# synchronous call would; with "Prefer: respond-async" it answers 202 at once, with the action
# (its status URL in Location, its live log at <url>/log).


def prefers_async(request: HttpRequest) -> bool:
    preferences = request.headers.get("Prefer", "").lower().replace(" ", "").split(",")
    return "respond-async" in preferences


def _action_url(request: HttpRequest, action: Action) -> str:
    return request.build_absolute_uri(f"/api/apps/{action.app}/actions/{action.id}")


def _deploy(request: HttpRequest, app: App, action: Action,
            outcome: Callable[[App, Action], dict[str, Any] | list[Any]],
            status: int = 200) -> HandlerResult:
    """Answer for a started ``action``: at once (202) if the client prefers, else once it ends
    with ``outcome``, or its error."""
    if prefers_async(request):
        url = _action_url(request, action)
        response = JsonResponse(serializers.action(action, url), status=202)
        response["Location"] = url
        response["Preference-Applied"] = "respond-async"
        return response
    action = actionlog.wait(action)
    actionlog.raise_for_outcome(action)
    result = outcome(App.objects.get(pk=app.pk), action)
    return JsonResponse(result, status=status, safe=False)


def _made_release(app: App, action: Action):
    if not action.release:
        return None
    return app.releases.select_related("created_by").get(number=int(action.release[1:]))


def show_action(request: HttpRequest, user, name: str, action_id: str) -> dict[str, Any]:
    app = applications.get_app(name, user)
    action = actionlog.get_action(action_id, app)
    return serializers.action(action, _action_url(request, action))


def action_log(request: HttpRequest, user, name: str, action_id: str) -> StreamingHttpResponse:
    app = applications.get_app(name, user)
    return _text_stream(actionlog.log_lines(actionlog.get_action(action_id, app)))


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
            "domains": [serializers.domain(d) for d in app.domains.all()],
            "services": services.linked_service_statuses(app)}


def destroy_app(request: HttpRequest, user, name: str) -> dict[str, Any]:
    app = applications.get_app(name, user)
    applications.destroy_app(app, user)
    return {"destroyed": name}


def git_remote(request: HttpRequest, app: App) -> str:
    return request.build_absolute_uri(f"/git/{app.name}.git")


# --- config --------------------------------------------------------------------------------


def show_config(request: HttpRequest, user, name: str) -> dict[str, str]:
    return dict(applications.get_app(name, user).config)


def change_config(request: HttpRequest, user, name: str) -> HandlerResult:
    app = applications.get_app(name, user)
    body = read_json(request)
    changes = _string_map(body.get("set", {}), "set")
    unset = _string_list(body.get("unset", []), "unset")
    action = actions.start_config_change(app, user, changes, unset)

    def outcome(app: App, action: Action) -> dict[str, Any]:
        release = _made_release(app, action)
        return {"config": dict(app.config),
                "release": serializers.release(release) if release else None}

    return _deploy(request, app, action, outcome)


# --- processes -----------------------------------------------------------------------------


def _formation(app: App) -> dict[str, Any]:
    formations = list(app.formations.all())
    return {"formation": {f.process_type: f.quantity for f in formations},
            "resources": serializers.resources(formations)}


def show_formation(request: HttpRequest, user, name: str) -> dict[str, Any]:
    app = applications.get_app(name, user)
    return {**_formation(app),
            "instances": [serializers.instance(i) for i in applications.app_instances(app)]}


def change_formation(request: HttpRequest, user, name: str) -> HandlerResult:
    app = applications.get_app(name, user)
    action = actions.start_scale(app, user, read_json(request))
    return _deploy(request, app, action, lambda app, action: _formation(app))


def _limit(body: dict, field: str) -> str | float | None:
    value = body.get(field)
    if value is None or isinstance(value, str) or \
            (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    raise UserError(f"'{field}' must be a string, a number or null", code="invalid_request")


def resize(request: HttpRequest, user, name: str, process_type: str) -> HandlerResult:
    app = applications.get_app(name, user)
    body = read_json(request)
    action = actions.start_resize(app, user, process_type, _limit(body, "memory"),
                                  _limit(body, "cpus"))
    return _deploy(request, app, action, lambda app, action: _formation(app))


def run(request: HttpRequest, user, name: str) -> HandlerResult:
    """Run a one-off command: to its end (its exit code and output), in the background with
    ``"detach": true`` (202 with the name its output has in the logs), or, upgraded to
    ``paas-tty``, on a terminal relayed over the connection (see ``paas.api.tty``)."""
    app = applications.get_app(name, user)
    body = read_json(request)
    command = body.get("command")
    if not isinstance(command, str) or not command.strip():
        raise UserError("give the 'command' to run", code="invalid_request")
    if tty.wants_session(request):
        term = processes.terminal(body.get("rows", 24), body.get("cols", 80),
                                  body.get("term", "xterm"))
        tty.client_socket(request)  # before a container starts for nothing
        return tty.serve(request, lambda: processes.open_session(app, command, term, user))
    if body.get("detach") is True:
        label = processes.start_detached(app, command, user=user)
        return JsonResponse({"name": label, "command": command}, status=202)
    result = processes.run_command(app, command, user=user)
    return {"exit_code": result.exit_code, "output": result.output}


def logs(request: HttpRequest, user, name: str) -> StreamingHttpResponse:
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


def rollback(request: HttpRequest, user, name: str) -> HandlerResult:
    app = applications.get_app(name, user)
    version = read_json(request).get("version")
    if not isinstance(version, int | str):
        raise UserError("give the 'version' to roll back to, like \"v3\"",
                        code="invalid_request")
    action = actions.start_rollback(app, user, version)
    return _deploy(request, app, action,
                   lambda app, action: serializers.release(_made_release(app, action)),
                   status=201)


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


def build_log(request: HttpRequest, user, name: str, build_id: int) -> StreamingHttpResponse:
    build = _get_build(applications.get_app(name, user), build_id)
    return _text_stream(build_log_lines(build))


def cancel_build(request: HttpRequest, user, name: str, build_id: int) -> JsonResponse:
    build = _get_build(applications.get_app(name, user), build_id)
    status = buildguard.cancel_build(build)
    # 200, not the 201 of POSTs that create something.
    return JsonResponse({**serializers.build(build), "status": status})


def purge_build_cache(request: HttpRequest, user, name: str) -> dict[str, Any]:
    app = applications.get_app(name, user)
    return {"removed": buildcache.purge_build_cache(app)}


# --- storage -------------------------------------------------------------------------------


def list_volumes(request: HttpRequest, user, name: str) -> list[dict[str, Any]]:
    app = applications.get_app(name, user)
    return [serializers.volume(v) for v in app.volumes.all()]


def add_volume(request: HttpRequest, user, name: str) -> HandlerResult:
    app = applications.get_app(name, user)
    body = read_json(request)
    volume_name, mount_path = body.get("name"), body.get("mount_path")
    if not isinstance(volume_name, str) or not isinstance(mount_path, str):
        raise UserError("give the volume's 'name' and 'mount_path'", code="invalid_request")
    action = actions.start_volume_add(app, user, volume_name, mount_path)

    def outcome(app: App, action: Action) -> dict[str, Any]:
        return serializers.volume(app.volumes.get(name=volume_name))

    return _deploy(request, app, action, outcome, status=201)


def remove_volume(request: HttpRequest, user, name: str, volume: str) -> HandlerResult:
    app = applications.get_app(name, user)
    delete_data = request.GET.get("delete_data") in ("1", "true", "yes")
    action = actions.start_volume_remove(app, user, volume, delete_data)
    return _deploy(request, app, action,
                   lambda app, action: {"removed": volume, "data_deleted": delete_data})


# --- domains and collaborators -------------------------------------------------------------


def list_domains(request: HttpRequest, user, name: str) -> list[dict[str, Any]]:
    app = applications.get_app(name, user)
    return [serializers.domain(d) for d in app.domains.all()]


def add_domain(request: HttpRequest, user, name: str) -> dict[str, Any]:
    app = applications.get_app(name, user)
    hostname = read_json(request).get("hostname")
    if not isinstance(hostname, str):
        raise UserError("give the 'hostname' to add", code="invalid_request")
    return serializers.domain(applications.add_domain(app, hostname))


def remove_domain(request: HttpRequest, user, name: str, hostname: str) -> dict[str, Any]:
    app = applications.get_app(name, user)
    applications.remove_domain(app, hostname)
    return {"removed": hostname}


def list_collaborators(request: HttpRequest, user, name: str) -> list[str]:
    return serializers.collaborators(applications.get_app(name, user))


def add_collaborator(request: HttpRequest, user, name: str) -> dict[str, Any]:
    app = applications.get_app(name, user)
    username = read_json(request).get("username")
    if not isinstance(username, str):
        raise UserError("give the 'username' to add", code="invalid_request")
    applications.add_collaborator(app, username, by=user)
    return {"collaborators": serializers.collaborators(app)}


def remove_collaborator(request: HttpRequest, user, name: str, username: str) -> dict[str, Any]:
    app = applications.get_app(name, user)
    applications.remove_collaborator(app, username, by=user)
    return {"collaborators": serializers.collaborators(app)}


# --- network links ---------------------------------------------------------------------------
# Apps reach each other only when linked (see paas.core.links); linking redeploys the app.


def list_links(request: HttpRequest, user, name: str) -> dict[str, Any]:
    app = applications.get_app(name, user)
    return {"links": links.linked_apps(app)}


def add_link(request: HttpRequest, user, name: str) -> dict[str, Any]:
    app = applications.get_app(name, user)
    target = read_json(request).get("app")
    if not isinstance(target, str):
        raise UserError("give the 'app' to link to", code="invalid_request")
    links.link(app, target, user)
    return {"links": links.linked_apps(app)}


def remove_link(request: HttpRequest, user, name: str, target: str) -> dict[str, Any]:
    app = applications.get_app(name, user)
    links.unlink(app, target, user)
    return {"links": links.linked_apps(app)}


def openapi(request: HttpRequest) -> JsonResponse:
    return JsonResponse(openapi_document(request.build_absolute_uri("/api")))


whoami_view = api_view(get=whoami)
apps_view = api_view(get=list_apps, post=create_app)
app_view = api_view(get=show_app, delete=destroy_app)
config_view = api_view(get=show_config, patch=change_config)
formation_view = api_view(get=show_formation, patch=change_formation)
formation_type_view = api_view(patch=resize)
build_cache_view = api_view(delete=purge_build_cache)
volumes_view = api_view(get=list_volumes, post=add_volume)
volume_view = api_view(delete=remove_volume)
action_view = api_view(get=show_action)
action_log_view = api_view(get=action_log)
run_view = api_view(post=run)
logs_view = api_view(get=logs)
releases_view = api_view(get=list_releases)
rollback_view = api_view(post=rollback)
builds_view = api_view(get=list_builds)
build_view = api_view(get=show_build)
build_log_view = api_view(get=build_log)
build_cancel_view = api_view(post=cancel_build)
domains_view = api_view(get=list_domains, post=add_domain)
domain_view = api_view(delete=remove_domain)
collaborators_view = api_view(get=list_collaborators, post=add_collaborator)
collaborator_view = api_view(delete=remove_collaborator)
links_view = api_view(get=list_links, post=add_link)
link_view = api_view(delete=remove_link)
