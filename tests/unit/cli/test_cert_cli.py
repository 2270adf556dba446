"""The certificate verbs of `paas` against a live test server."""


from tests.certs import CertificateAuthority


def test_certs_add_info_hsts_remove(terminal, users, shop, tmp_path):
    leaf = CertificateAuthority().issue("shop.localhost")
    (tmp_path / "shop.crt").write_text(leaf.cert_pem)
    (tmp_path / "shop.key").write_text(leaf.key_pem)
    term = terminal(users.collaborator)

    none = term("certs", "-a", "shop")
    added = term("certs:add", str(tmp_path / "shop.crt"), str(tmp_path / "shop.key"),
                 "-a", "shop")
    hsts = term("certs:hsts", "on", "-a", "shop")
    info = term("certs:info", "-a", "shop")
    removed = term("certs:remove", "-a", "shop")

    assert "shop has no certificate" in none.out
    assert added.code == 0, added.err
    assert f"Fingerprint: SHA-256 {leaf.fingerprint}" in added.out
    assert "Serves:      shop.localhost" in added.out
    assert hsts.code == 0 and "HSTS on for shop" in hsts.out
    assert "Issuer:      paas test CA" in info.out and "HSTS:        on" in info.out
    assert "Source:      manual" in info.out
    assert removed.code == 0 and "done, plain HTTP only" in removed.err
    assert term("certs:info", "-a", "shop").code == 1


def test_a_bad_key_is_reported_with_its_code(terminal, users, shop, tmp_path):
    leaf = CertificateAuthority().issue("shop.localhost")
    other = CertificateAuthority().issue("shop.localhost")
    (tmp_path / "shop.crt").write_text(leaf.cert_pem)
    (tmp_path / "other.key").write_text(other.key_pem)
    result = terminal(users.owner)("certs:add", str(tmp_path / "shop.crt"),
                                   str(tmp_path / "other.key"), "-a", "shop")
    assert result.code == 1 and "(key_mismatch)" in result.err


def test_the_platform_certificate_is_for_superusers(terminal, users, shop):
    result = terminal(users.owner)("certs", "--platform")
    assert result.code == 1 and "(forbidden)" in result.err
