"""HTTP Basic authentication for git: the user name and one of that user's API tokens.

A wrong token is counted as a failed sign-in of that name from that address; past the limit
it is answered 429 (see paas.core.throttle). A valid token is never slowed.
"""

import base64
import binascii

from django.http import HttpRequest, HttpResponse

from paas.core import throttle
from paas.core.accounts import authenticate_token


def basic_auth_user(request: HttpRequest):
    """The user named by the request's Basic credentials if the token matches, else None.

    Raises Throttled when the credentials are wrong and their name or address failed too
    often already.
    """
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, token = decoded.partition(":")
    if not sep:
        return None
    user = authenticate_token(token, username=username)
    if user is None:
        throttle.record_failure(username, throttle.client_address(request.META))
    return user


def unauthorized() -> HttpResponse:
    response = HttpResponse(
        "paas: authentication required: use http://<user>:<api token>@<host>/git/<app>.git\n",
        status=401, content_type="text/plain",
    )
    response["WWW-Authenticate"] = 'Basic realm="paas"'
    return response


def throttled(error: throttle.Throttled) -> HttpResponse:
    response = HttpResponse(f"paas: {error}\n", status=429, content_type="text/plain")
    response["Retry-After"] = str(error.retry_after)
    return response
