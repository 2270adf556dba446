"""PAAS_TLS's redirect (paas.https_redirect): plain HTTP that came through the router goes to
HTTPS; a request made on this host straight to gunicorn (no X-Forwarded-Proto) is served."""

from django.http import HttpResponse
from django.test import RequestFactory

from paas.https_redirect import ProxiedHttpsRedirectMiddleware

middleware = ProxiedHttpsRedirectMiddleware(lambda request: HttpResponse("served"))


def test_plain_http_through_the_router_is_sent_to_https_keeping_path_and_query(settings):
    settings.ALLOWED_HOSTS = ["paas.example.com"]
    request = RequestFactory().get("/login/?next=/apps/", HTTP_HOST="paas.example.com:8080",
                                   HTTP_X_FORWARDED_PROTO="http")
    answer = middleware(request)
    assert answer.status_code == 301
    assert answer["Location"] == "https://paas.example.com/login/?next=/apps/"


def test_https_through_the_router_and_requests_on_this_host_are_served():
    for headers in ({"HTTP_X_FORWARDED_PROTO": "https"}, {}):
        request = RequestFactory().get("/login/", HTTP_HOST="127.0.0.1", **headers)
        assert middleware(request).content == b"served"
