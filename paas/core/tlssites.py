"""Where an app's (or the control plane's) certificate lives and how the router is told to
serve it: the hostnames it is for, the PEM files under ``PAAS_HOME/certs/``, and the
``TlsSite`` / ``ControlSite`` the router renders.

Read by the release's desired state (every converge routes with it) and by the reconcile,
which rewrites the control plane's server block; changed by ``paas.core.certificates``.
"""

from pathlib import Path

from django.conf import settings

from paas.core.models import App, Certificate
from paas.router.nginx_config import ControlSite, TlsSite

# The control plane's certificate, beside the apps' (no app name starts with "_").
PLATFORM_DIR = "_platform"


def certs_root() -> Path:
    return settings.PAAS_HOME / "certs"


def certs_dir(app_name: str | None) -> Path:
    """``PAAS_HOME/certs/<app>`` (``_platform`` for the control plane's)."""
    return certs_root() / (app_name or PLATFORM_DIR)


def pem_paths(certificate: Certificate) -> tuple[Path, Path]:
    """The chain and key files of ``certificate``."""
    directory = certs_dir(certificate.app.name if certificate.app else None)
    return directory / f"{certificate.stem}.crt", directory / f"{certificate.stem}.key"


def app_hostnames(app: App) -> tuple[str, ...]:
    """Every hostname ``app`` is served at: ``<app>.<PAAS_DOMAIN>``, then its domains."""
    return (f"{app.name}.{settings.PAAS_DOMAIN}",
            *app.domains.order_by("hostname").values_list("hostname", flat=True))


def _site(certificate: Certificate | None, hostnames: tuple[str, ...]) -> TlsSite | None:
    from paas.core.pem import covered_hostnames

    if certificate is None:
        return None
    covered = covered_hostnames(tuple(certificate.names), hostnames)
    if not covered:
        return None  # a domain it covered was removed: plain HTTP, the record kept
    chain, key = pem_paths(certificate)
    return TlsSite(certificate=chain, key=key, hostnames=covered, hsts=certificate.hsts)


def tls_site(app: App) -> TlsSite | None:
    """What the router serves ``app`` over HTTPS with (None: plain HTTP only)."""
    return _site(Certificate.objects.filter(app=app).first(), app_hostnames(app))


def platform_certificate() -> Certificate | None:
    return Certificate.objects.filter(app__isnull=True).order_by("-updated_at").first()


def control_site() -> ControlSite | None:
    """The control plane as the router serves it at PAAS_CONTROL_DOMAIN (None: unset)."""
    domain = settings.PAAS_CONTROL_DOMAIN
    if domain is None:
        return None
    return ControlSite(hostname=domain, upstream_port=settings.PAAS_CONTROL_PORT,
                       tls=_site(platform_certificate(), (domain,)))
