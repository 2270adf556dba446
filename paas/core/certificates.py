"""Certificates the router serves: an app's own (``certs:add``, or issued by ACME) and the
control plane's at PAAS_CONTROL_DOMAIN (``certs:add --platform``).

A certificate is checked (``paas.core.pem``), its PEM files are written under
``PAAS_HOME/certs/<app>/`` (the key mode 0600: nginx's master reads it as root when it loads
its configuration), the record is saved, and the app is reconciled, which gives the router
its new server block (``nginx -t``, then a reload). Apps' owners and collaborators manage
their apps' certificates, as they do domains; only superusers the control plane's.
"""

import os
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from paas.core.models import App, Certificate
from paas.core.pem import CheckedCertificate, check_certificate
from paas.core.platform import platform
from paas.core.reconcile import reconcile_app
from paas.core.tlssites import app_hostnames, certs_dir, control_site, pem_paths
from paas.errors import Forbidden, NotFound, UserError

# How long a certificate change waits for the app's deploy lock (see _apply).
CHANGE_LOCK_WAIT = 20.0


@dataclass(frozen=True)
class CertificateInfo:
    """What ``certs:info`` shows: the record, and which of the hostnames it is for it
    covers (served over HTTPS) and which not (plain HTTP)."""

    certificate: Certificate
    covered: tuple[str, ...]
    uncovered: tuple[str, ...]


def add_certificate(app: App, cert_pem: str, key_pem: str, user) -> CertificateInfo:
    """Serve ``app`` over HTTPS with ``cert_pem`` (leaf first, then intermediates) and
    ``key_pem``, replacing its certificate if it has one (its HSTS choice is kept).

    The certificate must cover at least one of the app's hostnames; the others stay on
    plain HTTP (listed in the result). Raises the UserErrors of
    ``paas.core.pem.check_certificate``.
    """
    return install_certificate(app, cert_pem, key_pem, source=Certificate.Source.MANUAL,
                               user=user)


def install_certificate(app: App | None, cert_pem: str | bytes, key_pem: str | bytes,
                        source: str = Certificate.Source.ACME, user=None) -> CertificateInfo:
    """``add_certificate`` for any source: what the ACME integration calls with an issued
    certificate. ``app`` None is the control plane's (PAAS_CONTROL_DOMAIN; the caller
    checked the user is a superuser).

    Raises UserError(control_domain_unset) for the control plane without
    PAAS_CONTROL_DOMAIN, and what ``add_certificate`` raises.
    """
    hostnames = certificate_hostnames(app)
    checked = check_certificate(cert_pem, key_pem, hostnames, timezone.now())
    previous = _current(app)
    with transaction.atomic():
        if previous is not None:
            previous.delete()
        certificate = Certificate.objects.create(
            app=app, source=source, names=list(checked.names), issuer=checked.issuer,
            not_before=checked.not_before, not_after=checked.not_after,
            fingerprint=checked.fingerprint, hsts=previous.hsts if previous else False,
            created_by=user)
    _write_pems(certificate, checked)
    _apply(app)
    _remove_other_pems(app, keep=certificate)
    return CertificateInfo(certificate, checked.covered, checked.uncovered)


def remove_certificate(app: App | None) -> None:
    """Serve ``app`` (None: the control plane) over plain HTTP again. Raises
    NotFound(certificate_not_found) if it has no certificate."""
    certificate = _current(app)
    if certificate is None:
        raise NotFound(f"{certificate_owner_name(app)} has no certificate",
                       code="certificate_not_found")
    certificate.delete()
    _apply(app)
    _remove_other_pems(app, keep=None)


def certificate_info(app: App | None) -> CertificateInfo:
    """``app``'s certificate (None: the control plane's) and the hostnames it covers.
    Raises NotFound(certificate_not_found)."""
    from paas.core.pem import covered_hostnames

    certificate = _current(app)
    if certificate is None:
        raise NotFound(f"{certificate_owner_name(app)} has no certificate",
                       code="certificate_not_found")
    hostnames = certificate_hostnames(app)
    covered = covered_hostnames(tuple(certificate.names), hostnames)
    return CertificateInfo(certificate, covered,
                           tuple(host for host in hostnames if host not in covered))


def set_hsts(app: App, enabled: bool) -> Certificate:
    """Send Strict-Transport-Security (one year) on ``app``'s HTTPS answers, or stop. Raises
    NotFound(certificate_not_found): HSTS without a certificate would lock browsers out."""
    certificate = _current(app)
    if certificate is None:
        raise NotFound(f"{app.name} has no certificate: add one before HSTS",
                       code="certificate_not_found")
    if certificate.hsts != enabled:
        certificate.hsts = enabled
        certificate.save(update_fields=["hsts", "updated_at"])
        _apply(app)
    return certificate


def require_platform_admin(user) -> None:
    """Raise Forbidden unless ``user`` may manage the control plane's certificate."""
    if not user.is_superuser:
        raise Forbidden("only superusers may manage the control plane's certificate")


def apply_control_site() -> None:
    """Give the router the control plane's server block as settings and the record say
    (none without PAAS_CONTROL_DOMAIN). Raises what ``Router.apply`` raises."""
    platform().router.set_control(control_site())


def certificate_hostnames(app: App | None) -> tuple[str, ...]:
    """The hostnames a certificate of ``app`` (None: the control plane) is for. Raises
    UserError(control_domain_unset) for the control plane without PAAS_CONTROL_DOMAIN."""
    if app is not None:
        return app_hostnames(app)
    if settings.PAAS_CONTROL_DOMAIN is None:
        raise UserError("the control plane has no hostname of its own: set "
                        "PAAS_CONTROL_DOMAIN", code="control_domain_unset")
    return (settings.PAAS_CONTROL_DOMAIN,)


def _current(app: App | None) -> Certificate | None:
    if app is None:
        return Certificate.objects.filter(app__isnull=True).first()
    return Certificate.objects.filter(app=app).first()


def certificate_owner_name(app: App | None) -> str:
    """Whose certificate it is, in words: the app's name, or "the control plane"."""
    return app.name if app is not None else "the control plane"


def _apply(app: App | None) -> None:
    if app is None:
        apply_control_site()
    else:
        # A no-op before the first release: its first route has TLS. Waits out a periodic
        # reconcile pass (a second or so) rather than leave the change to the next one; a
        # deploy holding the lock for longer is left to apply it, or the next pass.
        reconcile_app(app, lock_wait=CHANGE_LOCK_WAIT)


def _write_pems(certificate: Certificate, checked: CheckedCertificate) -> None:
    chain_path, key_path = pem_paths(certificate)
    chain_path.parent.parent.mkdir(mode=0o700, exist_ok=True)
    chain_path.parent.mkdir(mode=0o700, exist_ok=True)
    _write(chain_path, checked.chain_pem, 0o644)
    _write(key_path, checked.key_pem, 0o600)


def _write(path: Path, content: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    # Created with its mode: the key is never readable by others, not even for a moment.
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "wb") as out:
        out.write(content)
    tmp.replace(path)


def _remove_other_pems(app: App | None, keep: Certificate | None) -> None:
    """Remove the PEM files nginx's configuration no longer names. One it still names (the
    change was not applied: a deploy held the app's lock, and the next reconcile applies
    it) stays, or nginx could load its configuration no more."""
    directory = certs_dir(app.name if app is not None else None)
    wanted = {path.name for path in pem_paths(keep)} if keep is not None else set()
    named = platform().router.certificate_files()
    for path in directory.glob("*"):
        if path.name not in wanted and path not in named:
            path.unlink(missing_ok=True)
