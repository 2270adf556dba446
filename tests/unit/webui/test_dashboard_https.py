"""The app page's HTTPS card: add a certificate by pasting it or get one by ACME, see it,
turn HSTS on, remove."""

import pytest
from django.test import Client

from paas.core.models import Certificate
from paas.errors import PlatformError, UserError
from paas.router import acme
from tests.certs import CertificateAuthority, FakeAcmeCa
from tests.unit.webui.conftest import client_for

pytestmark = pytest.mark.django_db


def test_a_collaborator_adds_a_certificate_turns_hsts_on_and_removes_it(users, app):
    leaf = CertificateAuthority().issue("shop.localhost")
    client = client_for(users.collaborator)
    assert "Plain HTTP only." in client.get("/apps/shop/").content.decode()

    added = client.post("/apps/shop/certs/add", {"certificate": leaf.cert_pem,
                                                 "key": leaf.key_pem})
    assert added.status_code == 302 and added["Location"].endswith("#https")
    html = client.get("/apps/shop/").content.decode()
    assert f"SHA-256 {leaf.fingerprint}" in html and "Turn HSTS on" in html

    client.post("/apps/shop/certs/hsts", {"enabled": "1"})
    assert Certificate.objects.get(app=app).hsts is True
    client.post("/apps/shop/certs/remove")
    assert not Certificate.objects.filter(app=app).exists()


def test_a_bad_certificate_is_shown_as_an_error(users, app):
    leaf = CertificateAuthority().issue("elsewhere.test")
    client = client_for(users.owner)
    response = client.post("/apps/shop/certs/add", {"certificate": leaf.cert_pem,
                                                    "key": leaf.key_pem}, follow=True)
    assert "cover none of shop.localhost" in response.content.decode()


def test_an_outsider_cannot_add_a_certificate(users, app):
    leaf = CertificateAuthority().issue("shop.localhost")
    response = client_for(users.outsider).post("/apps/shop/certs/add", {
        "certificate": leaf.cert_pem, "key": leaf.key_pem})
    assert response.status_code == 404
    assert not Certificate.objects.exists()


@pytest.fixture
def acme_ca(monkeypatch) -> FakeAcmeCa:
    fake = FakeAcmeCa()
    monkeypatch.setattr(acme, "AcmeClient", fake.client)
    return fake


def test_a_collaborator_gets_a_certificate_by_acme_renewed_automatically(users, app,
                                                                          acme_ca):
    client = client_for(users.collaborator)
    assert "Get a certificate by ACME" in client.get("/apps/shop/").content.decode()

    issued = client.post("/apps/shop/certs/auto")
    assert issued.status_code == 302 and issued["Location"].endswith("#https")
    html = client.get("/apps/shop/").content.decode()
    assert "Certificate issued by ACME and renewed automatically: HTTPS for shop.localhost." \
        in html
    assert "acme: renewed automatically once fewer than 30 days are left" in html

    assert acme_ca.asked == [("shop.localhost",)]
    record = Certificate.objects.get(app=app)
    assert record.source == "acme" and record.names == ["shop.localhost"]
    assert f"SHA-256 {record.fingerprint}" in html


def test_a_pasted_certificate_is_not_said_to_be_renewed(users, app):
    leaf = CertificateAuthority().issue("shop.localhost")
    client = client_for(users.owner)
    client.post("/apps/shop/certs/add", {"certificate": leaf.cert_pem, "key": leaf.key_pem})
    html = client.get("/apps/shop/").content.decode()
    assert f"SHA-256 {leaf.fingerprint}" in html and "renewed automatically" not in html


@pytest.mark.parametrize(("failure", "shown"), [
    (UserError("shop.localhost: the CA could not fetch the challenge",
               code="acme_challenge_failed"),
     "No certificate by ACME (acme_challenge_failed): shop.localhost: the CA could not fetch "
     "the challenge"),
    (PlatformError("the ACME server cannot be reached", code="acme_unreachable"),
     "paas could not do that right now (acme_unreachable): the ACME server cannot be reached"),
])
def test_a_failed_acme_issue_is_shown_with_its_code_and_stores_nothing(users, app, acme_ca,
                                                                      settings, failure,
                                                                      shown, tmp_path):
    settings.PAAS_HOME = tmp_path / "home"  # its own, so no other test's PEM files are there
    acme_ca.failure = failure
    response = client_for(users.owner).post("/apps/shop/certs/auto", follow=True)

    html = response.content.decode()
    assert response.status_code == 200 and shown in html
    assert "Traceback" not in html
    assert acme_ca.asked == [("shop.localhost",)]
    assert not Certificate.objects.exists()
    assert not (settings.PAAS_HOME / "certs").exists()


def test_an_outsider_cannot_get_a_certificate_by_acme(users, app, acme_ca):
    response = client_for(users.outsider).post("/apps/shop/certs/auto")
    assert response.status_code == 404
    assert acme_ca.asked == []
    assert not Certificate.objects.exists()


def test_getting_a_certificate_by_acme_needs_the_csrf_token(users, app, acme_ca):
    client = Client(enforce_csrf_checks=True)
    client.force_login(users.owner)
    assert client.post("/apps/shop/certs/auto").status_code == 403
    assert client.get("/apps/shop/certs/auto").status_code == 405
    assert acme_ca.asked == []
