"""Checking certificates (paas.core.pem) and the certificate services: what the router gets,
where the PEM files go, who may change them."""

import stat

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from paas.core import certificates
from paas.core.applications import add_domain, create_app, destroy_app
from paas.core.models import Certificate
from paas.core.pem import check_certificate, name_matches
from paas.core.tlssites import pem_paths
from paas.errors import Forbidden, NotFound, UserError
from tests.certs import CertificateAuthority, now

HOSTS = ("shop.localhost", "www.shop.test")


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority()


def error_code(cert_pem: str, key_pem: str, hostnames=HOSTS) -> str:
    with pytest.raises(UserError) as error:
        check_certificate(cert_pem, key_pem, hostnames, now())
    return error.value.code


def test_it_accepts_a_leaf_and_its_chain_and_lists_the_hosts_it_does_not_cover(ca):
    leaf = ca.issue("www.shop.test")
    checked = check_certificate(leaf.cert_pem + ca.cert_pem, leaf.key_pem, HOSTS, now())
    assert checked.covered == ("www.shop.test",)
    assert checked.uncovered == ("shop.localhost",)
    assert checked.fingerprint == leaf.fingerprint
    assert checked.issuer == "paas test CA"
    assert checked.chain_pem.decode() == leaf.cert_pem + ca.cert_pem


@pytest.mark.parametrize("pattern, hostname, matches", [
    ("*.shop.test", "www.shop.test", True),
    ("*.shop.test", "a.b.shop.test", False),  # one label only
    ("*.shop.test", "shop.test", False),
    ("w*.shop.test", "www.shop.test", False),  # no partial wildcards
    ("www.*.test", "www.shop.test", False),
    ("WWW.Shop.Test", "www.shop.test", True),
])
def test_a_wildcard_stands_for_one_whole_leftmost_label(pattern, hostname, matches):
    assert name_matches(pattern, hostname) is matches


def test_a_wildcard_certificate_covers_the_apps_subdomain(ca):
    leaf = ca.issue("*.shop.test")
    assert check_certificate(leaf.cert_pem, leaf.key_pem, HOSTS, now()).covered == (
        "www.shop.test",)


def test_it_refuses_an_expired_certificate(ca):
    leaf = ca.issue("www.shop.test", starts_in_days=-10, days=5)
    assert error_code(leaf.cert_pem, leaf.key_pem) == "certificate_expired"


def test_it_refuses_a_certificate_not_valid_yet(ca):
    leaf = ca.issue("www.shop.test", starts_in_days=2)
    assert error_code(leaf.cert_pem, leaf.key_pem) == "certificate_not_yet_valid"


def test_it_refuses_a_key_that_is_not_the_certificates(ca):
    leaf = ca.issue("www.shop.test")
    other = ca.issue("www.shop.test")
    assert error_code(leaf.cert_pem, other.key_pem) == "key_mismatch"


def test_it_refuses_names_that_cover_none_of_the_apps_hosts(ca):
    leaf = ca.issue("elsewhere.test")
    assert error_code(leaf.cert_pem, leaf.key_pem) == "certificate_names_mismatch"


def test_it_refuses_a_certificate_without_dns_names(ca):
    leaf = ca.issue()
    assert error_code(leaf.cert_pem, leaf.key_pem) == "certificate_no_names"


def test_it_refuses_a_chain_out_of_order(ca):
    leaf = ca.issue("www.shop.test")
    assert error_code(ca.cert_pem + leaf.cert_pem, leaf.key_pem) in ("key_mismatch",
                                                                      "chain_out_of_order")
    unrelated = CertificateAuthority("another CA")
    assert error_code(leaf.cert_pem + unrelated.cert_pem, leaf.key_pem) == "chain_out_of_order"


def test_it_refuses_what_is_no_pem(ca):
    leaf = ca.issue("www.shop.test")
    assert error_code("hello", leaf.key_pem) == "certificate_invalid"
    assert error_code(leaf.cert_pem, "hello") == "key_invalid"
    assert error_code(leaf.cert_pem, "") == "key_invalid"


def test_it_refuses_a_weak_curve(ca):
    leaf = ca.issue("www.shop.test", key=ec.generate_private_key(ec.SECP192R1()))
    assert error_code(leaf.cert_pem, leaf.key_pem) == "key_unsupported"


# --- the services --------------------------------------------------------------------------


def test_adding_a_certificate_routes_the_app_over_https_with_private_key_files(
        ca, app, users, platform):
    add_domain(app, "www.shop.test")
    leaf = ca.issue("www.shop.test")

    info = certificates.add_certificate(app, leaf.cert_pem, leaf.key_pem, users.collaborator)

    assert info.covered == ("www.shop.test",) and info.uncovered == ("shop.localhost",)
    record = Certificate.objects.get(app=app)
    assert (record.source, record.fingerprint) == ("manual", leaf.fingerprint)
    tls = platform.scheduler.converged[-1].tls
    chain, key = pem_paths(record)
    assert (tls.certificate, tls.key, tls.hostnames) == (chain, key, ("www.shop.test",))
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    assert chain.read_text() == leaf.cert_pem


def test_a_new_certificate_replaces_the_old_one_keeping_hsts(ca, app, users, platform):
    first = ca.issue("shop.localhost")
    certificates.add_certificate(app, first.cert_pem, first.key_pem, users.owner)
    certificates.set_hsts(app, True)
    old_files = pem_paths(Certificate.objects.get(app=app))
    second = ca.issue("shop.localhost")

    certificates.install_certificate(app, second.cert_pem, second.key_pem)

    record = Certificate.objects.get(app=app)
    assert (record.source, record.hsts, record.fingerprint) == ("acme", True,
                                                                second.fingerprint)
    assert platform.scheduler.converged[-1].tls.hsts is True
    assert not any(path.exists() for path in old_files)


def test_removing_the_certificate_goes_back_to_plain_http(ca, app, users, platform):
    leaf = ca.issue("shop.localhost")
    certificates.add_certificate(app, leaf.cert_pem, leaf.key_pem, users.owner)
    chain, _ = pem_paths(Certificate.objects.get(app=app))

    certificates.remove_certificate(app)

    assert platform.scheduler.converged[-1].tls is None
    assert not Certificate.objects.filter(app=app).exists()
    assert not chain.exists()
    with pytest.raises(NotFound):
        certificates.remove_certificate(app)


def test_hsts_needs_a_certificate(app):
    with pytest.raises(NotFound) as error:
        certificates.set_hsts(app, True)
    assert error.value.code == "certificate_not_found"


def test_destroying_the_app_removes_its_certificate_files(ca, app, users):
    leaf = ca.issue("shop.localhost")
    certificates.add_certificate(app, leaf.cert_pem, leaf.key_pem, users.owner)
    chain, _ = pem_paths(Certificate.objects.get(app=app))
    destroy_app(app, users.owner)
    assert not chain.parent.exists()


def test_only_superusers_manage_the_control_planes_certificate(users):
    with pytest.raises(Forbidden):
        certificates.require_platform_admin(users.owner)


def test_the_control_planes_certificate_needs_its_domain(ca, settings, db):
    settings.PAAS_CONTROL_DOMAIN = None
    leaf = ca.issue("paas.example.com")
    with pytest.raises(UserError) as error:
        certificates.install_certificate(None, leaf.cert_pem, leaf.key_pem, source="manual")
    assert error.value.code == "control_domain_unset"


def test_the_control_plane_is_served_with_its_certificate(ca, settings, platform, db):
    settings.PAAS_CONTROL_DOMAIN = "paas.example.com"
    leaf = ca.issue("paas.example.com")
    certificates.install_certificate(None, leaf.cert_pem, leaf.key_pem, source="manual")
    site = platform.router.control
    assert site.hostname == "paas.example.com"
    assert site.tls.hostnames == ("paas.example.com",)


def test_no_app_or_domain_takes_the_control_planes_hostname(settings, users, app):
    settings.PAAS_CONTROL_DOMAIN = "paas.localhost"
    with pytest.raises(UserError) as error:
        create_app("paas", users.owner)
    assert error.value.code == "domain_taken"
    settings.PAAS_CONTROL_DOMAIN = "console.example.com"
    with pytest.raises(UserError) as error:
        add_domain(app, "console.example.com")
    assert error.value.code == "domain_taken"
