"""The router's HTTPS: server blocks with a certificate (checked by a real ``nginx -t``), the
redirect, HSTS, the ACME challenge directory, and the control plane's hostname."""

import stat

import pytest

from paas.errors import UserError
from paas.router.nginx import AppRoute, ControlSite, TlsSite
from tests.certs import CertificateAuthority

HOSTS = ("shop.localhost", "www.shop.test")


@pytest.fixture
def tls(tmp_path) -> TlsSite:
    leaf = CertificateAuthority().issue("www.shop.test")
    chain, key = tmp_path / "shop.crt", tmp_path / "shop.key"
    chain.write_text(leaf.cert_pem)
    key.write_text(leaf.key_pem)
    return TlsSite(certificate=chain, key=key, hostnames=("www.shop.test",))


def nginx_accepts(router) -> None:
    result = router._nginx("-t", "-c", str(router.main_config))
    assert result.returncode == 0, result.stderr


def test_a_certificate_serves_its_names_over_tls_and_redirects_their_plain_http(router, tls):
    router.set_route(AppRoute("shop", HOSTS, ("10.1.0.2:5000",), tls))
    text = (router.apps_dir / "shop.conf").read_text()

    plain, redirect, secure = text.split("server {")[1:]
    assert "server_name shop.localhost;" in plain and "proxy_pass" in plain
    assert "server_name www.shop.test;" in redirect
    assert "return 308 https://$host:18998$request_uri;" in redirect
    assert "listen 18998 ssl http2;" in secure and "server_name www.shop.test;" in secure
    assert f"ssl_certificate {tls.certificate};" in secure
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in secure
    assert "Strict-Transport-Security" not in text
    nginx_accepts(router)


def test_hsts_is_sent_on_https_answers_only(router, tls):
    router.set_route(AppRoute("shop", HOSTS, (), TlsSite(tls.certificate, tls.key,
                                                         tls.hostnames, hsts=True)))
    text = (router.apps_dir / "shop.conf").read_text()
    _, plain, redirect, secure = text.split("server {")
    assert "Strict-Transport-Security" in secure
    assert "Strict-Transport-Security" not in plain + redirect
    nginx_accepts(router)


def test_on_port_443_the_redirect_names_no_port(tmp_path, tls):
    from paas.router.nginx import Router

    router = Router(nginx_dir=tmp_path / "n", log_dir=tmp_path / "l", run_dir=tmp_path / "r",
                    port=80, tls_port=443)
    text = router.render_app(AppRoute("shop", HOSTS, (), tls))
    assert "return 308 https://$host$request_uri;" in text


def test_every_plain_http_server_serves_the_acme_challenge_directory(router, tls):
    router.set_route(AppRoute("shop", HOSTS, (), tls))
    location = ("location ^~ /.well-known/acme-challenge/ {\n"
                f"        alias {router.challenge_dir}/;")
    text = (router.apps_dir / "shop.conf").read_text()
    assert text.count(location) == 2  # the plain server and the redirecting one, not TLS's
    assert location.replace("\n", "\n    ") in router.main_config.read_text()  # default server


def test_the_default_tls_server_rejects_handshakes(router):
    text = router.main_config.read_text()
    default = text[text.index("listen 18998 ssl default_server;"):]
    assert default.index("ssl_reject_handshake on;") < default.index("}")
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in text


def test_a_published_challenge_is_a_world_readable_file_named_by_its_token(router):
    token = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
    authorization = f"{token}.{'9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI'}"
    router.publish_challenge(token, authorization)
    answer = router.challenge_dir / token
    assert answer.read_text() == authorization
    assert stat.S_IMODE(answer.stat().st_mode) == 0o644
    router.withdraw_challenge(token)
    assert not answer.exists()


@pytest.mark.parametrize("token", ["../../etc/passwd", "short", "a" * 20 + "/x", "tok en" * 4])
def test_a_token_that_is_not_base64url_is_refused(router, token):
    with pytest.raises(UserError) as error:
        router.publish_challenge(token, f"{token}.{'x' * 43}")
    assert error.value.code == "invalid_challenge"


def test_a_key_authorization_must_be_for_its_token(router):
    with pytest.raises(UserError):
        router.publish_challenge("a" * 20, "b" * 20 + "." + "x" * 43)


def test_the_control_plane_is_proxied_with_long_timeouts_and_unbounded_pushes(router, tls):
    router.set_control(ControlSite("paas.example.com", 8000))
    text = (router.apps_dir / "_control.conf").read_text()
    assert "proxy_pass http://127.0.0.1:8000;" in text
    git = text[text.index("location /git/"):]
    assert "client_max_body_size 0;" in git and "proxy_request_buffering off;" in git
    assert "proxy_read_timeout 3600s;" in git
    assert "ssl" not in text
    assert router.routed_apps() == set()  # not an app: no reconcile removes it
    nginx_accepts(router)


def test_the_control_plane_with_a_certificate_redirects_to_https(router, tls):
    site_tls = TlsSite(tls.certificate, tls.key, ("paas.example.com",))
    router.set_control(ControlSite("paas.example.com", 8000, site_tls))
    text = (router.apps_dir / "_control.conf").read_text()
    plain, secure = text.split("server {")[1:]
    assert "return 308 https://$host:18998$request_uri;" in plain
    assert "proxy_pass" not in plain
    assert "listen 18998 ssl http2;" in secure and "proxy_pass" in secure
    nginx_accepts(router)
    router.set_control(None)
    assert not (router.apps_dir / "_control.conf").exists()


def test_certificate_files_named_by_server_blocks_are_known(router, tls):
    router.set_route(AppRoute("shop", HOSTS, (), tls))
    assert router.certificate_files() == {tls.certificate, tls.key}
