"""HTTP Basic authentication for git: the user name and one of that user's API tokens."""

import base64
import binascii

from django.http import HttpRequest, HttpResponse

from paas.core.accounts import authenticate_token


def basic_auth_user(request: HttpRequest):
    """The user named by the request's Basic credentials if the token matches, else None."""
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
    return authenticate_token(token, username=username)


def unauthorized() -> HttpResponse:
    response = HttpResponse(
        "paas: authentication required: use http://<user>:<api token>@<host>/git/<app>.git\n",
        status=401, content_type="text/plain",
    )
    response["WWW-Authenticate"] = 'Basic realm="paas"'
    return response
