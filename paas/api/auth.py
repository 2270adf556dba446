"""Bearer-token authentication, JSON errors and method dispatch for the API views."""

import json
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from paas.core import throttle
from paas.core.accounts import authenticate_token
from paas.errors import Forbidden, NotFound, PaasError, PlatformError, UserError

logger = logging.getLogger(__name__)

# What a handler returns: a response, or data to send as JSON.
HandlerResult = HttpResponseBase | dict[str, Any] | list[Any]
Handler = Callable[..., HandlerResult]

# Codes that mean "this clashes with what exists" rather than "this request is malformed".
CONFLICT_CODES = frozenset({"app_exists", "domain_taken", "already_owner", "user_exists",
                            "token_name_taken", "service_exists", "service_link_exists",
                            "service_var_taken", "service_linked"})


def error_response(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


# Codes that mean "these credentials are wrong": 401, like a bad token.
UNAUTHORIZED_CODES = frozenset({"invalid_credentials"})


def status_for(error: PaasError) -> int:
    if isinstance(error, throttle.Throttled):
        return 429
    if error.code in UNAUTHORIZED_CODES:
        return 401
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, Forbidden):
        return 403
    if isinstance(error, PlatformError):
        return 503
    if error.code in CONFLICT_CODES:
        return 409
    return 400


def read_json(request: HttpRequest) -> dict[str, Any]:
    """The request's JSON object body. Raises UserError(invalid_json) otherwise."""
    if not request.body:
        return {}
    try:
        body = json.loads(request.body)
    except ValueError:
        raise UserError("the request body is not valid JSON", code="invalid_json") from None
    if not isinstance(body, dict):
        raise UserError("the request body must be a JSON object", code="invalid_json")
    return body


def bearer_token(request: HttpRequest) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def paas_error_response(error: PaasError) -> JsonResponse:
    response = error_response(status_for(error), error.code, str(error))
    if isinstance(error, throttle.Throttled):
        response["Retry-After"] = str(error.retry_after)
    return response


def _unauthorized(request: HttpRequest, token: str) -> JsonResponse:
    """401 for a missing or bad token; 429 once this address failed too often (a request
    without any token is no failed sign-in, so it is not counted)."""
    if token:
        try:
            throttle.record_failure(None, throttle.client_address(request.META))
        except throttle.Throttled as error:
            return paas_error_response(error)
    response = error_response(401, "unauthorized",
                              "send a valid token as 'Authorization: Bearer <token>'")
    response["WWW-Authenticate"] = 'Bearer realm="paas"'
    return response


def api_view(**handlers: Handler) -> Callable[..., HttpResponseBase]:
    """A view that authenticates the bearer token, then calls the handler for the method.

    Handlers take (request, user, **url_kwargs) and return a dict/list (sent as JSON with
    200, or 201 for POST) or a response. PaasErrors become ``{"error": {code, message}}``.
    CSRF does not apply: a bearer token is never sent by a browser on its own.
    """
    return _dispatching_view(handlers, authenticated=True)


def anonymous_api_view(**handlers: Handler) -> Callable[..., HttpResponseBase]:
    """Like ``api_view`` without a token: handlers take (request, **url_kwargs). For the one
    endpoint that hands out tokens (POST /api/login), which throttles itself."""
    return _dispatching_view(handlers, authenticated=False)


def _dispatching_view(handlers: dict[str, Handler],
                      authenticated: bool) -> Callable[..., HttpResponseBase]:
    allowed = sorted(method.upper() for method in handlers)

    @csrf_exempt
    @wraps(next(iter(handlers.values())))
    def view(request: HttpRequest, **kwargs: Any) -> HttpResponseBase:
        handler = handlers.get((request.method or "").lower())
        if handler is None:
            response = error_response(405, "method_not_allowed",
                                      f"use {', '.join(allowed)} here")
            response["Allow"] = ", ".join(allowed)
            return response
        args: tuple = ()
        if authenticated:
            token = bearer_token(request)
            user = authenticate_token(token)
            if user is None:
                return _unauthorized(request, token)
            args = (user,)
        try:
            result = handler(request, *args, **kwargs)
        except PlatformError as error:
            logger.exception("API %s %s failed", request.method, request.path)
            return error_response(503, error.code, str(error))
        except PaasError as error:
            return paas_error_response(error)
        if isinstance(result, HttpResponseBase):  # streaming responses too
            return result
        return JsonResponse(result, status=201 if request.method == "POST" else 200,
                            safe=False)

    return view
