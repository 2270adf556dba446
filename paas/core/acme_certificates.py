"""Certificates by ACME: `paas certs:auto` and their renewal.

``issue_certificate`` asks the CA at PAAS_ACME_DIRECTORY for a certificate covering every
hostname of an app (or the control plane's PAAS_CONTROL_DOMAIN), proving each name by
HTTP-01 through the router (``Router.publish_challenge``: nginx answers the challenge on plain
HTTP for every host), then installs it as ``certs:add`` would, with source ``acme``: checked,
written under PAAS_HOME/certs, routed. ``renew_certificates`` (the periodic task, and
``manage.py renew_certificates``) issues again each ACME certificate with less than
PAAS_ACME_RENEW_DAYS left; a certificate added by hand is never touched.

The ACME account's key is kept at PAAS_HOME/acme/account-key.pem, so renewals belong to the
account that issued. The ACME library is imported only when a certificate is asked for: the
web and worker processes that never issue one do not carry it.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from paas.core.certificates import (
    CertificateInfo,
    certificate_hostnames,
    certificate_owner_name,
    install_certificate,
)
from paas.core.models import App, Certificate
from paas.core.platform import platform
from paas.errors import PaasError
from paas.runtime.scheduler import Log, ignore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Renewal:
    """One certificate the renewal pass looked at: who it serves and what happened."""

    whose: str
    renewed: bool
    error: str = ""


def account_key_path():
    return settings.PAAS_HOME / "acme" / "account-key.pem"


def issue_certificate(app: App | None, log: Log = ignore) -> CertificateInfo:
    """Get a certificate for ``app``'s hostnames (``None``: the control plane's) from the ACME
    CA and serve it. Raises UserError(control_domain_unset), the engine's acme_* errors (a
    name the CA could not reach here, a refusal, a rate limit, the CA unreachable) and what
    ``install_certificate`` raises."""
    from paas.router.acme import AcmeClient

    hostnames = certificate_hostnames(app)
    key_path = account_key_path()
    key_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    client = AcmeClient(directory_url=settings.PAAS_ACME_DIRECTORY, account_key_path=key_path,
                        email=settings.PAAS_ACME_EMAIL, ca_bundle=settings.PAAS_ACME_CA_BUNDLE)
    router = platform().router
    issued = client.issue(hostnames, publish=router.publish_challenge,
                          withdraw=router.withdraw_challenge, log=log)
    log("serving the new certificate")
    return install_certificate(app, issued.fullchain_pem, issued.private_key_pem,
                               source=Certificate.Source.ACME)


def renew_certificates(before: timedelta | None = None, now: datetime | None = None,
                       log: Log = ignore) -> list[Renewal]:
    """Issue again every ACME certificate valid for less than ``before`` (default
    PAAS_ACME_RENEW_DAYS) from ``now``. One that fails is logged, kept while it is still
    valid, and tried again on the next pass; the others go on."""
    from paas.router.acme import needs_renewal

    before = before if before is not None else timedelta(days=settings.PAAS_ACME_RENEW_DAYS)
    now = now or timezone.now()
    done = []
    for certificate in Certificate.objects.filter(source=Certificate.Source.ACME):
        if not needs_renewal(certificate.not_after, now, before):
            continue
        whose = certificate_owner_name(certificate.app)
        try:
            issue_certificate(certificate.app, log)
        except PaasError as error:
            logger.warning("renewing the certificate of %s failed: %s", whose, error)
            log(f"{whose}: renewal failed: {error}")
            done.append(Renewal(whose, renewed=False, error=str(error)))
        else:
            log(f"{whose}: renewed")
            done.append(Renewal(whose, renewed=True))
    return done
