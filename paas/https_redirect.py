"""With PAAS_TLS: send plain-HTTP requests that came through the proxy to HTTPS.

Django's own SECURE_SSL_REDIRECT redirects every request that is not HTTPS, those made
straight to gunicorn on loopback too: `make up`'s readiness check, and the CLI and git on the
host itself, which then follow a redirect to an https:// port where nothing speaks TLS. A
request that came through the router (or another proxy in front) says how it arrived in
X-Forwarded-Proto, which the router always sets; only those are redirected. gunicorn listens
on loopback only (PAAS_BIND_ADDRESS), so a request without the header came from this host.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect


class ProxiedHttpsRedirectMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        proto = request.META.get("HTTP_X_FORWARDED_PROTO")
        if proto is not None and proto != "https":
            # The HTTPS port is the standard one in front of a proxy (443): drop the plain
            # one the request named.
            host = request.get_host()
            if not host.endswith("]"):  # a bracketed IPv6 address names no port
                host = host.rsplit(":", 1)[0]
            return HttpResponsePermanentRedirect(f"https://{host}{request.get_full_path()}")
        return self.get_response(request)
