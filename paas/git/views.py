"""git smart HTTP at /git/<app>.git: ref advertisement, receive-pack (push), upload-pack (fetch).

A push's response streams: the handler runs in a thread and its protocol output is relayed as it
is written, so the build log reaches ``git push`` line by line while the request stays open.
"""

import io
import logging
import queue
import threading
from collections.abc import Iterator

from django.conf import settings
from django.db import close_old_connections, connection
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from dulwich.protocol import ReceivableProtocol, pkt_line
from dulwich.server import UploadPackHandler

from paas.core.applications import get_app, get_or_create_app_for_push, repo_path
from paas.core.throttle import Throttled
from paas.errors import UserError
from paas.git.auth import basic_auth_user, throttled, unauthorized
from paas.git.limits import BoundedBody
from paas.git.receiver import DeployingReceivePackHandler, SingleRepoBackend, ensure_repository

logger = logging.getLogger(__name__)

SERVICES = ("git-receive-pack", "git-upload-pack")
NO_CACHE = {"Cache-Control": "no-cache, max-age=0, must-revalidate", "Pragma": "no-cache"}


def _advertisement_error(service: str, message: str) -> HttpResponse:
    """An advertisement carrying ``ERR``: git prints "remote error: <message>" and stops."""
    body = (pkt_line(f"# service={service}\n".encode()) + pkt_line(None)
            + pkt_line(f"ERR {message}".encode()))
    return HttpResponse(body, content_type=f"application/x-{service}-advertisement",
                        headers=NO_CACHE)


def _open_app(request: HttpRequest, app_name: str, service: str):
    user = basic_auth_user(request)
    if user is None:
        return None, None
    if service == "git-receive-pack":
        app = get_or_create_app_for_push(app_name, user)
        ensure_repository(repo_path(app.name))
    else:
        app = get_app(app_name, user)
    return user, app


@csrf_exempt
@require_GET
def info_refs(request: HttpRequest, app_name: str) -> HttpResponse:
    service = request.GET.get("service", "")
    if service not in SERVICES:
        return HttpResponse("paas: only git's smart HTTP protocol is supported\n",
                            status=403, content_type="text/plain")
    try:
        user, app = _open_app(request, app_name, service)
    except Throttled as error:
        return throttled(error)
    except UserError as error:
        return _advertisement_error(service, str(error))
    if user is None:
        return unauthorized()
    if not repo_path(app.name).exists():
        return _advertisement_error(service, f"app {app.name} has no code yet")
    output = io.BytesIO()
    proto = ReceivableProtocol(io.BytesIO().read, output.write)
    proto.write_pkt_line(f"# service={service}\n".encode())
    proto.write_pkt_line(None)
    _run_handler(_handler(service, app, user, proto, advertise_refs=True))
    return HttpResponse(output.getvalue(),
                        content_type=f"application/x-{service}-advertisement", headers=NO_CACHE)


def _request_body(request: HttpRequest) -> BoundedBody:
    """The request body, bounded (see ``paas.git.limits``).

    Read from the WSGI input directly: git sends large packs chunked, without Content-Length,
    and Django's request stream reads nothing without one. gunicorn decodes the chunks. Raises
    UserError(unsupported_encoding) for a Content-Encoding other than gzip.
    """
    encoding = request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    if encoding not in ("", "identity", "gzip"):
        raise UserError(f"unsupported Content-Encoding {encoding!r}: send gzip or nothing",
                        code="unsupported_encoding")
    client = request.META.get("gunicorn.socket")
    if client is not None:
        # A client that stops sending must not hold a thread (and the app's push) forever:
        # every read of the body waits at most this long. gunicorn resets the socket for
        # the next request on the connection.
        client.settimeout(settings.PAAS_GIT_READ_TIMEOUT)
    return BoundedBody(request.META["wsgi.input"], settings.PAAS_MAX_PUSH_BYTES,
                       gzipped=encoding == "gzip",
                       within_seconds=settings.PAAS_GIT_PUSH_TIMEOUT)


def _handler(service: str, app, user, proto: ReceivableProtocol, **kwargs):
    backend = SingleRepoBackend(repo_path(app.name), settings.PAAS_MAX_OBJECT_BYTES)
    if service == "git-receive-pack":
        return DeployingReceivePackHandler(backend, ["/"], proto, app=app, user=user,
                                           stateless_rpc=True, **kwargs)
    return UploadPackHandler(backend, ["/"], proto, stateless_rpc=True, **kwargs)


def _run_handler(handler) -> None:
    try:
        handler.handle()
    finally:
        handler.repo.close()


def _stream_output(run) -> Iterator[bytes]:
    """Run ``run(write)`` in a thread and stream what it writes as the response body."""
    chunks: queue.Queue[bytes | None] = queue.Queue()

    def work() -> None:
        close_old_connections()
        try:
            run(chunks.put)
        except Exception:
            logger.exception("git request failed")
        finally:
            chunks.put(None)
            connection.close()

    threading.Thread(target=work, name="git-handler", daemon=True).start()

    def body():
        while (chunk := chunks.get()) is not None:
            yield chunk

    return body()


def _rpc(request: HttpRequest, app_name: str, service: str) -> HttpResponseBase:
    """A push (receive-pack) or fetch (upload-pack), its output streamed as it is written."""
    try:
        user, app = _open_app(request, app_name, service)
    except Throttled as error:
        return throttled(error)
    except UserError as error:
        return HttpResponse(f"paas: {error}\n", status=404, content_type="text/plain")
    if user is None:
        return unauthorized()
    try:
        body = _request_body(request)
    except UserError as error:
        return HttpResponse(f"paas: {error}\n", status=415, content_type="text/plain")

    def run(write) -> None:
        _run_handler(_handler(service, app, user, ReceivableProtocol(body.read, write)))

    return StreamingHttpResponse(_stream_output(run),
                                 content_type=f"application/x-{service}-result",
                                 headers=NO_CACHE)


@csrf_exempt
@require_POST
def receive_pack(request: HttpRequest, app_name: str) -> HttpResponseBase:
    return _rpc(request, app_name, "git-receive-pack")


@csrf_exempt
@require_POST
def upload_pack(request: HttpRequest, app_name: str) -> HttpResponseBase:
    return _rpc(request, app_name, "git-upload-pack")
