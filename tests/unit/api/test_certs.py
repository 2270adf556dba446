"""The certificates API: an app's owners and collaborators manage its certificate, outsiders
get 404; the control plane's is superusers' only."""

import pytest

from paas.core.models import Certificate
from paas.router import acme
from tests.certs import CertificateAuthority, FakeAcmeCa
from tests.unit.api.helpers import api_for


@pytest.fixture(scope="module")
def leaf():
    return CertificateAuthority().issue("shop.localhost")


def test_a_collaborator_adds_shows_and_removes_the_apps_certificate(users, app, leaf):
    api = api_for(users.collaborator)
    added = api.call("POST", "/apps/shop/certs", {"certificate": leaf.cert_pem,
                                                 "key": leaf.key_pem})
    assert added.status_code == 201, added.json()
    assert added.json()["fingerprint"] == leaf.fingerprint
    assert added.json()["covered"] == ["shop.localhost"]
    assert Certificate.objects.get(app=app).source == "manual"

    listed = api.call("GET", "/apps/shop/certs").json()
    assert [c["names"] for c in listed] == [["shop.localhost"]]
    hsts = api.call("POST", "/apps/shop/certs/hsts", {"enabled": True})
    assert hsts.status_code == 201 and hsts.json()["hsts"] is True

    assert api.call("DELETE", "/apps/shop/certs").status_code == 200
    assert api.call("GET", "/apps/shop/certs").json() == []


def test_a_bad_certificate_is_refused_with_its_code(users, app, leaf):
    other = CertificateAuthority().issue("shop.localhost")
    answer = api_for(users.owner).call("POST", "/apps/shop/certs",
                                       {"certificate": leaf.cert_pem, "key": other.key_pem})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "key_mismatch"
    assert not Certificate.objects.exists()


def test_an_outsider_sees_nothing_of_the_apps_certificate(users, app, leaf):
    api = api_for(users.outsider)
    for method, body in (("GET", None), ("POST", {"certificate": leaf.cert_pem,
                                                  "key": leaf.key_pem}), ("DELETE", None)):
        answer = api.call(method, "/apps/shop/certs", body)
        assert answer.status_code == 404, method
        assert answer.json()["error"]["code"] == "app_not_found"


def test_only_a_superuser_manages_the_control_planes_certificate(users, django_user_model):
    assert api_for(users.owner).call("GET", "/platform/certs").status_code == 403
    root = django_user_model.objects.create_superuser("root", password="root-pass")
    assert api_for(root).call("GET", "/platform/certs").json() == []


def test_certs_auto_issues_by_acme_and_answers_the_log(users, app, monkeypatch):
    monkeypatch.setattr(acme, "AcmeClient", FakeAcmeCa().client)
    answer = api_for(users.collaborator).call("POST", "/apps/shop/certs/auto", {})
    assert answer.status_code == 201, answer.json()
    assert answer.json()["source"] == "acme" and answer.json()["covered"] == ["shop.localhost"]
    assert answer.json()["log"] == ["serving the new certificate"]
    outsider = api_for(users.outsider).call("POST", "/apps/shop/certs/auto", {})
    assert outsider.status_code == 404
    assert api_for(users.owner).call("POST", "/platform/certs/auto", {}).status_code == 403
