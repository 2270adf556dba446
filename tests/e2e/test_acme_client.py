"""The ACME engine against a real ACME server: Debian's pebble on loopback (tests/e2e/pebble.py),
validating HTTP-01 for real against a small HTTP server here that stands in for the router and
serves what ``publish`` was given. Needs no dockerd, so it runs in seconds."""

import http.server
import threading
from datetime import UTC, datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.verification import DNSName, PolicyBuilder, Store

from paas.errors import PlatformError, UserError
from paas.router.acme import AcmeClient
from tests.e2e.pebble import free_port, running_pebble

CHALLENGE_PATH = "/.well-known/acme-challenge/"
NAMES = ["shop.acme.test", "www.shop.acme.test"]


class ChallengeServer(http.server.ThreadingHTTPServer):
    """``GET /.well-known/acme-challenge/<token>`` answers what was published for the token."""

    daemon_threads = True

    def __init__(self) -> None:
        self.served: dict[str, str] = {}
        self.withdrawn: list[str] = []
        self.fetched: list[str] = []
        super().__init__(("127.0.0.1", 0), ChallengeHandler)

    def publish(self, token: str, key_authorization: str) -> None:
        self.served[token] = key_authorization

    def withdraw(self, token: str) -> None:
        self.withdrawn.append(token)
        self.served.pop(token, None)


class ChallengeHandler(http.server.BaseHTTPRequestHandler):
    server: ChallengeServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        token = self.path.removeprefix(CHALLENGE_PATH)
        self.server.fetched.append(token)
        answer = self.server.served.get(token) if self.path.startswith(CHALLENGE_PATH) else None
        body = (answer or "not found").encode()
        self.send_response(200 if answer else 404)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def challenge_server():
    server = ChallengeServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def pebble(challenge_server, tmp_path_factory):
    with running_pebble(tmp_path_factory.mktemp("pebble"),
                        challenge_server.server_address[1]) as running:
        yield running


@pytest.fixture(scope="module")
def account_key_path(tmp_path_factory):
    return tmp_path_factory.mktemp("acme") / "account-key.pem"


@pytest.fixture
def acme_client(pebble, account_key_path) -> AcmeClient:
    return AcmeClient(pebble.directory_url, account_key_path, email="ops@example.com",
                      ca_bundle=pebble.ca_bundle)


def verified_names(issued, pebble, hostname: str) -> list[str]:
    """Check the chain up to pebble's root for ``hostname``; return the leaf's DNS names."""
    chain = x509.load_pem_x509_certificates(issued.fullchain_pem.encode())
    root = x509.load_pem_x509_certificate(pebble.root_pem().encode())
    verifier = (PolicyBuilder().store(Store([root])).time(datetime.now(UTC))
                .build_server_verifier(DNSName(hostname)))
    verifier.verify(chain[0], chain[1:])  # raises VerificationError otherwise
    san = chain[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return san.get_values_for_type(x509.DNSName)


def test_it_gets_a_certificate_for_two_hostnames_that_chains_to_pebbles_root(
        acme_client, pebble, challenge_server):
    lines: list[str] = []
    withdrawn_before = len(challenge_server.withdrawn)

    issued = acme_client.issue(NAMES, challenge_server.publish, challenge_server.withdraw,
                               lines.append)

    for hostname in NAMES:
        assert sorted(verified_names(issued, pebble, hostname)) == sorted(NAMES)
    leaf = x509.load_pem_x509_certificate(issued.fullchain_pem.encode())
    key = serialization.load_pem_private_key(issued.private_key_pem.encode(), password=None)
    assert leaf.public_key() == key.public_key()
    assert issued.not_after == leaf.not_valid_after_utc > datetime.now(UTC)
    # pebble really fetched the tokens, and nothing is left published.
    withdrawn = challenge_server.withdrawn[withdrawn_before:]
    assert len(withdrawn) == 2 and set(withdrawn) <= set(challenge_server.fetched)
    assert challenge_server.served == {}
    assert any("shop.acme.test: validated" in line for line in lines)


def test_a_renewal_with_the_same_account_key_gives_a_new_certificate(
        acme_client, pebble, challenge_server, account_key_path):
    first = acme_client.issue(NAMES, challenge_server.publish, challenge_server.withdraw)
    account_key = account_key_path.read_bytes()

    renewed = acme_client.issue(NAMES, challenge_server.publish, challenge_server.withdraw)

    assert account_key_path.read_bytes() == account_key
    first_leaf = x509.load_pem_x509_certificate(first.fullchain_pem.encode())
    renewed_leaf = x509.load_pem_x509_certificate(renewed.fullchain_pem.encode())
    assert renewed_leaf.serial_number != first_leaf.serial_number
    assert renewed.private_key_pem != first.private_key_pem
    assert sorted(verified_names(renewed, pebble, NAMES[0])) == sorted(NAMES)


def test_a_challenge_never_published_fails_naming_the_hostname_and_pebbles_reason(
        acme_client, challenge_server):
    withdrawn: list[str] = []

    with pytest.raises(UserError) as failure:
        acme_client.issue(["never.acme.test"], lambda token, key_authorization: None,
                          withdrawn.append)

    assert failure.value.code == "acme_challenge_failed"
    message = failure.value.message
    assert message.startswith("never.acme.test: ")
    # pebble's own detail: it fetched the token from the stand-in and got its 404.
    assert "/.well-known/acme-challenge/" in message and "404" in message
    assert len(withdrawn) == 1


def test_an_untrusted_acme_server_fails_with_a_tls_error(pebble, tmp_path, challenge_server):
    client = AcmeClient(pebble.directory_url, tmp_path / "account-key.pem")

    with pytest.raises(PlatformError) as failure:
        client.issue(NAMES, challenge_server.publish, challenge_server.withdraw)

    assert failure.value.code == "acme_tls_error"
    assert pebble.directory_url in failure.value.message


def test_an_unreachable_directory_fails_clearly(tmp_path, challenge_server):
    directory_url = f"https://127.0.0.1:{free_port()}/dir"
    client = AcmeClient(directory_url, tmp_path / "account-key.pem")

    with pytest.raises(PlatformError) as failure:
        client.issue(NAMES, challenge_server.publish, challenge_server.withdraw)

    assert failure.value.code == "acme_unreachable"
    assert f"cannot reach the ACME server at {directory_url}" in failure.value.message
