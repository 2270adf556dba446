"""The JSON API of certificates: an app's (``/api/apps/<app>/certs``, its owners and
collaborators, as for domains) and the control plane's (``/api/platform/certs``, superusers
only). Each handler calls one ``paas.core.certificates`` function.
"""

from typing import Any

from django.http import HttpRequest

from paas.api import serializers
from paas.api.auth import api_view, read_json
from paas.core import acme_certificates, applications, certificates
from paas.core.models import App
from paas.errors import NotFound, UserError


def _pems(request: HttpRequest) -> tuple[str, str]:
    body = read_json(request)
    cert_pem, key_pem = body.get("certificate"), body.get("key")
    if not isinstance(cert_pem, str) or not isinstance(key_pem, str):
        raise UserError("give the 'certificate' (PEM, leaf first, then intermediates) and "
                        "its 'key' (PEM)", code="invalid_request")
    return cert_pem, key_pem


def _listed(app: App | None) -> list[dict[str, Any]]:
    """The certificate as a list: none, or the one there is."""
    try:
        return [serializers.certificate(certificates.certificate_info(app))]
    except NotFound:
        return []


def list_certificates(request: HttpRequest, user, name: str) -> list[dict[str, Any]]:
    return _listed(applications.get_app(name, user))


def add_certificate(request: HttpRequest, user, name: str) -> dict[str, Any]:
    app = applications.get_app(name, user)
    cert_pem, key_pem = _pems(request)
    return serializers.certificate(certificates.add_certificate(app, cert_pem, key_pem, user))


def remove_certificate(request: HttpRequest, user, name: str) -> dict[str, Any]:
    certificates.remove_certificate(applications.get_app(name, user))
    return {"removed": True}


def set_hsts(request: HttpRequest, user, name: str) -> dict[str, Any]:
    app = applications.get_app(name, user)
    enabled = read_json(request).get("enabled")
    if not isinstance(enabled, bool):
        raise UserError("give 'enabled': true or false", code="invalid_request")
    certificates.set_hsts(app, enabled)
    return serializers.certificate(certificates.certificate_info(app))


def auto_certificate(request: HttpRequest, user, name: str) -> dict[str, Any]:
    """Issue the app a certificate by ACME now (seconds: the CA checks each hostname through
    the router) and keep it renewed; the log of the exchange comes back with it."""
    return _issued(applications.get_app(name, user))


def auto_platform_certificate(request: HttpRequest, user) -> dict[str, Any]:
    certificates.require_platform_admin(user)
    return _issued(None)


def _issued(app: App | None) -> dict[str, Any]:
    lines: list[str] = []
    shown = serializers.certificate(acme_certificates.issue_certificate(app, lines.append))
    return {**shown, "log": lines}


def list_platform_certificates(request: HttpRequest, user) -> list[dict[str, Any]]:
    certificates.require_platform_admin(user)
    return _listed(None)


def add_platform_certificate(request: HttpRequest, user) -> dict[str, Any]:
    certificates.require_platform_admin(user)
    cert_pem, key_pem = _pems(request)
    return serializers.certificate(certificates.install_certificate(
        None, cert_pem, key_pem, source="manual", user=user))


def remove_platform_certificate(request: HttpRequest, user) -> dict[str, Any]:
    certificates.require_platform_admin(user)
    certificates.remove_certificate(None)
    return {"removed": True}


certs_view = api_view(get=list_certificates, post=add_certificate, delete=remove_certificate)
hsts_view = api_view(post=set_hsts)
auto_view = api_view(post=auto_certificate)
platform_auto_view = api_view(post=auto_platform_certificate)
platform_certs_view = api_view(get=list_platform_certificates, post=add_platform_certificate,
                               delete=remove_platform_certificate)
