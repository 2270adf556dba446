"""HTTPS through the real router: an app with its own certificate (checked by fingerprint,
SNI = the app's host), the redirect from plain HTTP, HSTS, ACME's challenge path on plain
HTTP, the certificate surviving a router restart, certs:remove; the control plane on its
own hostname over HTTPS: the login page, and a git push with GIT_SSL_CAINFO; and
`certs:auto` against Debian's pebble, a real ACME server that validates HTTP-01 through the
router: issuance for an app and for the control plane, and a renewal.

One stack for the module, with PAAS_CONTROL_DOMAIN and pebble as its ACME CA; one app pushed
once, a second one for ACME.
"""

import hashlib
import http.client
import json
import socket
import ssl
import subprocess
import sys
import time

import pytest

from paas import ttyframes
from tests.certs import CertificateAuthority
from tests.e2e.pebble import Pebble, running_pebble
from tests.e2e.stack import PROJECT_DIR, Stack, commit_all, unique_app_name

CONTROL_DOMAIN = "paas-console.localhost"


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    authority = CertificateAuthority()
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    path.write_text(authority.cert_pem)
    authority.path = path
    return authority


@pytest.fixture(scope="module")
def acme_world(tmp_path_factory):
    """The stack, and pebble validating on the stack's router port (so made in between)."""
    # PAAS_TLS: the production settings of a control plane served over HTTPS.
    stack = Stack.create(PAAS_CONTROL_DOMAIN=CONTROL_DOMAIN, PAAS_TLS="true")
    with running_pebble(tmp_path_factory.mktemp("pebble"), stack.router_port) as pebble:
        stack.extra_env.update(PAAS_ACME_DIRECTORY=pebble.directory_url,
                               PAAS_ACME_CA_BUNDLE=pebble.ca_bundle)
        try:
            yield stack.start(), pebble
        finally:
            stack.stop()


@pytest.fixture(scope="module")
def tls_stack(acme_world) -> Stack:
    return acme_world[0]


@pytest.fixture(scope="module")
def pebble(acme_world) -> Pebble:
    return acme_world[1]


@pytest.fixture(scope="module")
def pebble_root(pebble, tmp_path_factory):
    """The root pebble's certificates chain to, as a CA file."""
    path = tmp_path_factory.mktemp("pebble-root") / "root.pem"
    path.write_text(pebble.root_pem())
    return path


@pytest.fixture(scope="module")
def hello(tls_stack, tmp_path_factory):
    app = unique_app_name("tls")
    repo = tls_stack.checkout("dockerfile-hello", tmp_path_factory.mktemp("tls"))
    result = tls_stack.push(repo, app)
    assert result.returncode == 0, result.stderr + tls_stack.logs()
    assert tls_stack.wait_for_answer(app, "Hello from dockerfile-hello").status == 200
    return app, repo


@pytest.fixture(scope="module")
def leaf(tls_stack, hello, ca, tmp_path_factory):
    """A certificate for the app's default host, added with `paas certs:add`."""
    app, _ = hello
    issued = ca.issue(f"{app}.localhost")
    files = tmp_path_factory.mktemp("leaf")
    (files / "cert.pem").write_text(issued.cert_pem)
    (files / "key.pem").write_text(issued.key_pem)
    added = tls_stack.paas("certs:add", str(files / "cert.pem"), str(files / "key.pem"),
                           "-a", app)
    assert added.returncode == 0, added.stderr
    assert f"SHA-256 {issued.fingerprint}" in added.stdout
    return issued


def https(stack: Stack, host: str, path: str = "/", cafile=None, method: str = "GET"):
    """(status, headers, body, peer certificate's SHA-256) over TLS to the router, SNI and
    Host ``host``; the certificate verified against ``cafile``."""
    context = ssl.create_default_context(cafile=str(cafile))
    # Connected to loopback, SNI and verification for the name.
    tls = context.wrap_socket(socket.create_connection(("127.0.0.1", stack.router_tls_port),
                                                       timeout=30), server_hostname=host)
    der = tls.getpeercert(binary_form=True)
    connection = http.client.HTTPConnection(host, stack.router_tls_port, timeout=30)
    connection.sock = tls
    connection.request(method, path, headers={"Host": host})
    answer = connection.getresponse()
    body = answer.read().decode()
    connection.close()
    return answer.status, dict(answer.getheaders()), body, hashlib.sha256(der).hexdigest()


def plain(stack: Stack, host: str, path: str = "/"):
    connection = http.client.HTTPConnection("127.0.0.1", stack.router_port, timeout=30)
    connection.request("GET", path, headers={"Host": host})
    answer = connection.getresponse()
    body = answer.read().decode()
    connection.close()
    return answer.status, dict(answer.getheaders()), body


def assert_handshake_refused(stack: Stack, host: str) -> None:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    address = ("127.0.0.1", stack.router_tls_port)
    with socket.create_connection(address, timeout=30) as raw, pytest.raises(ssl.SSLError):
        context.wrap_socket(raw, server_hostname=host)


def fingerprint_hex(issued) -> str:
    return issued.fingerprint.replace(":", "").lower()


def test_the_app_answers_https_with_its_own_certificate(tls_stack, hello, leaf, ca):
    app, _ = hello
    status, headers, body, peer = https(tls_stack, f"{app}.localhost", cafile=ca.path)
    assert (status, body) == (200, "Hello from dockerfile-hello\n")
    assert peer == fingerprint_hex(leaf)
    assert "Strict-Transport-Security" not in headers


def test_plain_http_redirects_to_https_keeping_host_path_and_query(tls_stack, hello, leaf):
    app, _ = hello
    status, headers, _ = plain(tls_stack, f"{app}.localhost", "/a/b?q=1&r=2")
    assert status == 308
    assert headers["Location"] == (f"https://{app}.localhost:{tls_stack.router_tls_port}"
                                   "/a/b?q=1&r=2")


def test_a_host_no_certificate_covers_gets_no_certificate(tls_stack, leaf):
    assert_handshake_refused(tls_stack, "nobody.localhost")


def test_hsts_is_sent_over_https_once_turned_on(tls_stack, hello, leaf, ca):
    app, _ = hello
    on = tls_stack.paas("certs:hsts", "on", "-a", app)
    assert on.returncode == 0, on.stderr
    _, headers, _, _ = https(tls_stack, f"{app}.localhost", cafile=ca.path)
    assert headers["Strict-Transport-Security"] == "max-age=31536000"
    _, plain_headers, _ = plain(tls_stack, f"{app}.localhost")
    assert "Strict-Transport-Security" not in plain_headers


def test_the_acme_challenge_is_served_over_plain_http_for_any_host(tls_stack, hello, leaf):
    from paas.router.nginx import Router

    app, _ = hello
    router = Router(nginx_dir=tls_stack.home / "nginx", log_dir=tls_stack.home / "logs",
                    run_dir=tls_stack.home / "run", port=tls_stack.router_port,
                    tls_port=tls_stack.router_tls_port)
    token = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"
    authorization = f"{token}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
    router.publish_challenge(token, authorization)
    path = f"/.well-known/acme-challenge/{token}"
    for host in (f"{app}.localhost", "brand-new.localhost", CONTROL_DOMAIN):
        status, _, body = plain(tls_stack, host, path)
        assert (status, body) == (200, authorization), host
    router.withdraw_challenge(token)
    assert plain(tls_stack, f"{app}.localhost", path)[0] == 404


def test_the_certificate_survives_a_router_restart(tls_stack, hello, leaf, ca):
    app, _ = hello
    restarted = tls_stack.supervisorctl("restart", "router")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    for _ in range(100):
        try:
            answer = https(tls_stack, f"{app}.localhost", cafile=ca.path)
            break
        except OSError:
            time.sleep(0.1)
    assert answer[0] == 200 and answer[3] == fingerprint_hex(leaf)


def test_the_control_plane_answers_https_on_its_own_hostname(tls_stack, ca, tmp_path):
    issued = ca.issue(CONTROL_DOMAIN)
    (tmp_path / "cert.pem").write_text(issued.cert_pem + ca.cert_pem)
    (tmp_path / "key.pem").write_text(issued.key_pem)
    added = tls_stack.paas("certs:add", "--platform", str(tmp_path / "cert.pem"),
                           str(tmp_path / "key.pem"))
    assert added.returncode == 0, added.stderr

    status, _, body, peer = https(tls_stack, CONTROL_DOMAIN, "/login/", cafile=ca.path)
    assert status == 200 and 'name="password"' in body
    assert peer == fingerprint_hex(issued)
    status, headers, _ = plain(tls_stack, CONTROL_DOMAIN, "/login/")
    assert status == 308
    assert headers["Location"] == (f"https://{CONTROL_DOMAIN}:{tls_stack.router_tls_port}"
                                   "/login/")


def test_a_git_push_over_https_through_the_router_deploys(tls_stack, hello, ca):
    app, repo = hello
    (repo / "server.py").write_text((repo / "server.py").read_text().replace(
        "from dockerfile-hello", "from dockerfile-hello over https"))
    commit_all(repo, "over https")
    port = tls_stack.router_tls_port
    remote = (f"https://{tls_stack.username}:{tls_stack.token}@{CONTROL_DOMAIN}:{port}"
              f"/git/{app}.git")
    pushed = subprocess.run(
        ["git", "-c", f"http.curloptResolve={CONTROL_DOMAIN}:{port}:127.0.0.1", "push",
         remote, "main"], cwd=repo, capture_output=True, text=True, timeout=1200,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tls_stack.home), "GIT_TERMINAL_PROMPT": "0",
             "GIT_SSL_CAINFO": str(ca.path)})
    assert pushed.returncode == 0, pushed.stderr
    assert "remote: -----> Released v2" in pushed.stderr
    assert https(tls_stack, f"{app}.localhost", cafile=ca.path)[2] == (
        "Hello from dockerfile-hello over https\n")


def test_removing_the_certificate_goes_back_to_plain_http(tls_stack, hello, leaf):
    app, _ = hello
    removed = tls_stack.paas("certs:remove", "-a", app)
    assert removed.returncode == 0, removed.stderr
    status, _, body = plain(tls_stack, f"{app}.localhost")
    assert status == 200 and body.startswith("Hello from dockerfile-hello")
    assert_handshake_refused(tls_stack, f"{app}.localhost")


def info_fingerprint(output: str) -> str:
    (line,) = [line for line in output.splitlines() if line.startswith("Fingerprint:")]
    return line.split("SHA-256", 1)[1].strip().replace(":", "").lower()


@pytest.fixture(scope="module")
def auto_app(tls_stack, tmp_path_factory):
    """A second app, whose certificate comes from `paas certs:auto` (pebble)."""
    app = unique_app_name("acme")
    repo = tls_stack.checkout("dockerfile-hello", tmp_path_factory.mktemp("acme"))
    result = tls_stack.push(repo, app)
    assert result.returncode == 0, result.stderr + tls_stack.logs()
    issued = tls_stack.paas("certs:auto", "-a", app)
    assert issued.returncode == 0, issued.stderr + tls_stack.logs()
    return app, issued.stdout


def test_certs_auto_gets_a_certificate_by_acme_and_the_router_serves_it(
        tls_stack, auto_app, pebble_root):
    app, output = auto_app
    assert "Source:      acme" in output and f"Names:       {app}.localhost" in output
    status, _, body, peer = https(tls_stack, f"{app}.localhost", cafile=pebble_root)
    assert (status, body) == (200, "Hello from dockerfile-hello\n")
    assert peer == info_fingerprint(output)
    status, headers, _ = plain(tls_stack, f"{app}.localhost", "/x?y=1")
    assert status == 308
    assert headers["Location"] == f"https://{app}.localhost:{tls_stack.router_tls_port}/x?y=1"


def test_the_renewal_pass_issues_again_and_the_router_serves_the_new_one(
        tls_stack, auto_app, pebble_root):
    app, output = auto_app
    before = info_fingerprint(output)
    # pebble's certificates are valid for years: a window wider than that makes them due.
    renewed = subprocess.run(
        [sys.executable, "manage.py", "renew_certificates", "--within-days", "36500"],
        cwd=PROJECT_DIR, env=tls_stack.env, capture_output=True, text=True, timeout=600)
    assert renewed.returncode == 0, renewed.stdout + renewed.stderr
    assert f"{app}: renewed" in renewed.stdout
    shown = tls_stack.paas("certs:info", "-a", app)
    assert shown.returncode == 0, shown.stderr
    after = info_fingerprint(shown.stdout)
    assert after != before and "Source:      acme" in shown.stdout
    assert https(tls_stack, f"{app}.localhost", cafile=pebble_root)[3] == after


def test_certs_auto_for_the_control_plane(tls_stack, pebble_root):
    issued = tls_stack.paas("certs:auto", "--platform")
    assert issued.returncode == 0, issued.stderr + tls_stack.logs()
    status, _, body, peer = https(tls_stack, CONTROL_DOMAIN, "/login/", cafile=pebble_root)
    assert status == 200 and 'name="password"' in body
    assert peer == info_fingerprint(issued.stdout)


def test_an_interactive_run_upgrades_through_the_router_over_https(tls_stack, hello,
                                                                   pebble_root):
    """`paas run` on a terminal switches its connection to paas-tty; through the router's
    control-plane block (Upgrade passed on) over HTTPS, as a CLI logged in at the control
    domain does (after the test above, the control plane's certificate is pebble's)."""
    app, _ = hello
    context = ssl.create_default_context(cafile=str(pebble_root))
    raw = socket.create_connection(("127.0.0.1", tls_stack.router_tls_port), timeout=60)
    with context.wrap_socket(raw, server_hostname=CONTROL_DOMAIN) as tls:
        body = json.dumps({"command": "echo through-the-router; exit 7", "rows": 24,
                           "cols": 80}).encode()
        tls.sendall(b"\r\n".join([
            f"POST /api/apps/{app}/run HTTP/1.1".encode(), f"Host: {CONTROL_DOMAIN}".encode(),
            b"Connection: Upgrade", f"Upgrade: {ttyframes.UPGRADE_PROTOCOL}".encode(),
            f"Authorization: Bearer {tls_stack.token}".encode(),
            b"Content-Type: application/json", f"Content-Length: {len(body)}".encode(),
            b"", body]))
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = tls.recv(65536)
            assert chunk, received
            received += chunk
        head, rest = received.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head
        reader, output, code = ttyframes.FrameReader(), b"", None
        frames = reader.feed(rest)
        while code is None:
            for kind, payload in frames:
                if kind == ttyframes.OUTPUT:
                    output += payload
                elif kind == ttyframes.EXIT:
                    code = ttyframes.parse_code(payload)
            if code is None:
                chunk = tls.recv(65536)
                assert chunk, output
                frames = reader.feed(chunk)
    assert code == 7 and b"through-the-router" in output
