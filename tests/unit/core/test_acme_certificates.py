"""`certs:auto` and the renewal pass (paas.core.acme_certificates), with the ACME engine
replaced by a fake CA at its edge: what is asked for, that challenges go through the router,
what is installed, and which certificates a renewal pass issues again."""

from datetime import timedelta

import pytest

from paas.core import acme_certificates, certificates
from paas.core.applications import add_domain
from paas.core.models import Certificate
from paas.errors import PlatformError, UserError
from paas.router import acme
from tests.certs import CertificateAuthority, FakeAcmeCa


@pytest.fixture
def ca(monkeypatch):
    fake = FakeAcmeCa()
    monkeypatch.setattr(acme, "AcmeClient", fake.client)
    return fake


def test_certs_auto_asks_for_every_hostname_and_serves_what_was_issued(ca, app, platform,
                                                                       settings):
    add_domain(app, "www.shop.test")
    lines: list[str] = []

    info = acme_certificates.issue_certificate(app, lines.append)

    assert ca.asked == [("shop.localhost", "www.shop.test")]
    assert ca.clients[0]["directory_url"] == settings.PAAS_ACME_DIRECTORY
    assert ca.clients[0]["account_key_path"] == settings.PAAS_HOME / "acme" / "account-key.pem"
    assert [event for event in platform.router.events if event[0] == "challenge"] == [
        ("challenge", "token00" + "A" * 16), ("challenge", "token01" + "A" * 16)]
    assert platform.router.challenges == {}
    record = Certificate.objects.get(app=app)
    assert record.source == "acme" and info.uncovered == ()
    assert platform.scheduler.converged[-1].tls.hostnames == ("shop.localhost", "www.shop.test")
    assert lines == ["serving the new certificate"]


def test_a_failed_issue_keeps_the_certificate_there_was(ca, app, platform):
    acme_certificates.issue_certificate(app)
    before = Certificate.objects.get(app=app).fingerprint
    ca.failure = UserError("shop.localhost: the CA could not fetch the challenge",
                           code="acme_challenge_failed")

    with pytest.raises(UserError) as error:
        acme_certificates.issue_certificate(app)

    assert error.value.code == "acme_challenge_failed"
    assert Certificate.objects.get(app=app).fingerprint == before


def test_the_control_plane_needs_its_own_hostname(ca, settings):
    settings.PAAS_CONTROL_DOMAIN = None
    with pytest.raises(UserError) as error:
        acme_certificates.issue_certificate(None)
    assert error.value.code == "control_domain_unset" and ca.asked == []


def test_renewal_issues_again_only_acme_certificates_that_are_due(ca, app, users, platform):
    acme_certificates.issue_certificate(app)
    issued = Certificate.objects.get(app=app).fingerprint

    assert acme_certificates.renew_certificates(before=timedelta(days=1)) == []
    renewed = acme_certificates.renew_certificates(before=timedelta(days=36500))

    assert renewed == [acme_certificates.Renewal("shop", renewed=True)]
    assert Certificate.objects.get(app=app).fingerprint != issued
    # One added by hand is the user's to replace: never renewed.
    leaf = CertificateAuthority().issue("shop.localhost")
    certificates.add_certificate(app, leaf.cert_pem, leaf.key_pem, users.owner)
    assert acme_certificates.renew_certificates(before=timedelta(days=36500)) == []


def test_a_renewal_that_fails_is_reported_and_the_certificate_kept(ca, app):
    acme_certificates.issue_certificate(app)
    kept = Certificate.objects.get(app=app).fingerprint
    ca.failure = PlatformError("cannot reach the ACME server", code="acme_unreachable")

    renewed = acme_certificates.renew_certificates(before=timedelta(days=36500))

    assert renewed == [acme_certificates.Renewal("shop", renewed=False,
                                                 error="cannot reach the ACME server")]
    assert Certificate.objects.get(app=app).fingerprint == kept
