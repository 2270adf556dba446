"""Dashboard pages that follow something live: build logs, deploy actions and app logs,
streamed as Server-Sent Events."""

import json
from collections.abc import Callable, Iterator

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from paas.core import actionlog
from paas.core.logstreams import app_log_lines, build_log_lines
from paas.core.models import App, Build
from paas.errors import PaasError
from webui.views import app_or_404


def _build_or_404(app: App, build_id: int) -> Build:
    build = app.builds.select_related("app", "created_by").filter(pk=build_id).first()
    if build is None:
        raise Http404("no such build")
    return build


@login_required
@require_GET
def build_detail(request: HttpRequest, name: str, build_id: int) -> HttpResponse:
    app = app_or_404(name, request.user)
    build = _build_or_404(app, build_id)
    return render(request, "webui/build_detail.html", {"app": app, "build": build})


def _sse(lines: Iterator[str | None], end_event: Callable[[], str]) -> StreamingHttpResponse:
    """Server-Sent Events: one ``data:`` per line, a comment as keep-alive, then ``end``."""

    def events() -> Iterator[str]:
        yield "retry: 3000\n\n"
        for line in lines:
            if line is None:
                yield ": keep-alive\n\n"
            else:
                yield f"data: {json.dumps(line)}\n\n"
        yield f"event: end\ndata: {json.dumps(end_event())}\n\n"

    response = StreamingHttpResponse(events(), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


@login_required
@require_GET
def build_log_stream(request: HttpRequest, name: str, build_id: int) -> HttpResponse:
    app = app_or_404(name, request.user)
    build = _build_or_404(app, build_id)

    def final_status() -> str:
        return Build.objects.filter(pk=build.pk).values_list("status", flat=True).first() or ""

    return _sse(build_log_lines(build), final_status)


@login_required
@require_GET
def action_stream(request: HttpRequest, name: str, action_id: str) -> HttpResponse:
    """A deploy action's progress lines as Server-Sent Events, ending with its status."""
    app = app_or_404(name, request.user)
    try:
        action = actionlog.get_action(action_id, app)
    except PaasError:
        raise Http404("no such action") from None

    def final_status() -> str:
        try:
            return actionlog.get_action(action.id).status
        except PaasError:
            return ""

    return _sse(actionlog.log_lines(action), final_status)


@login_required
@require_GET
def app_logs(request: HttpRequest, name: str) -> HttpResponse:
    app = app_or_404(name, request.user)
    return render(request, "webui/app_logs.html", {"app": app})


@login_required
@require_GET
def app_log_stream(request: HttpRequest, name: str) -> HttpResponse:
    app = app_or_404(name, request.user)
    try:
        lines = app_log_lines(app, tail=200, follow_logs=True)
    except PaasError as error:
        return _sse(iter([f"logs are not available: {error}"]), lambda: "unavailable")
    return _sse(lines, lambda: "ended")
