"""The app page's HTTPS card: add a certificate by pasting it, see it, turn HSTS on, remove."""

import pytest

from paas.core.models import Certificate
from tests.certs import CertificateAuthority
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
