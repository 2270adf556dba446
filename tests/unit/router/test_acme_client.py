"""The ACME engine against a fake ACME server at the HTTP edge (tests/unit/router/fake_acme.py):
the flow, the account key, bounded polling, and every failure as a paas error with a code.
The same engine runs against a real ACME server (pebble) in tests/e2e/test_acme_client.py."""

import stat
from datetime import UTC, datetime, timedelta

import pytest
import requests
from cryptography import x509

from paas.errors import PlatformError, UserError
from paas.router.acme import AcmeClient, needs_renewal
from tests.unit.router.fake_acme import DIRECTORY_URL, FakeAcmeServer, Problem, token_for

NAMES = ["shop.example.com", "www.shop.example.com"]


class Challenges:
    """What the router would serve: the published tokens, and every call in order."""

    def __init__(self) -> None:
        self.served: dict[str, str] = {}
        self.calls: list[tuple[str, str]] = []

    def publish(self, token: str, key_authorization: str) -> None:
        self.calls.append(("publish", token))
        self.served[token] = key_authorization

    def withdraw(self, token: str) -> None:
        self.calls.append(("withdraw", token))
        self.served.pop(token)


@pytest.fixture
def server() -> FakeAcmeServer:
    return FakeAcmeServer()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def acme_client(server, sleeps, tmp_path) -> AcmeClient:
    return AcmeClient(DIRECTORY_URL, tmp_path / "acme" / "account-key.pem",
                      email="ops@example.com", poll_attempts=5, session=server.session(),
                      sleep=sleeps.append)


def issue(client: AcmeClient, challenges: Challenges, names=NAMES):
    return client.issue(names, challenges.publish, challenges.withdraw)


def test_it_issues_a_certificate_for_every_hostname_and_withdraws_the_challenges(
        acme_client, server):
    challenges = Challenges()

    issued = issue(acme_client, challenges)

    leaf = x509.load_pem_x509_certificate(issued.fullchain_pem.encode())
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == NAMES
    assert issued.not_after == leaf.not_valid_after_utc and issued.not_after.tzinfo is not None
    assert "BEGIN PRIVATE KEY" in issued.private_key_pem
    assert server.answered == NAMES
    published = [token for call, token in challenges.calls if call == "publish"]
    assert published == [token_for("shop.example.com"), token_for("www.shop.example.com")]
    assert [token for call, token in challenges.calls if call == "withdraw"] == published
    assert challenges.served == {}


def test_it_publishes_the_key_authorization_before_answering(acme_client, server):
    seen_when_answered: list[dict[str, str]] = []
    challenges = Challenges()
    original_send = server.send

    def send(request, **kwargs):
        if "/chall/" in request.url:
            seen_when_answered.append(dict(challenges.served))
        return original_send(request, **kwargs)

    server.send = send

    issue(acme_client, challenges, ["shop.example.com"])

    [served] = seen_when_answered
    key_authorization = served[token_for("shop.example.com")]
    token, _, thumbprint = key_authorization.partition(".")
    assert token == token_for("shop.example.com") and thumbprint


def test_it_makes_the_account_key_once_with_mode_0600_and_reuses_it(acme_client, server,
                                                                     tmp_path):
    issue(acme_client, Challenges())
    key_path = tmp_path / "acme" / "account-key.pem"
    first_key = key_path.read_bytes()

    issue(acme_client, Challenges())

    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert key_path.read_bytes() == first_key
    assert len(server.account_keys) == 1
    assert [path for _, path in server.requests_seen].count("/account") == 2


def test_each_certificate_gets_a_new_key_pair(acme_client):
    first = issue(acme_client, Challenges())
    second = issue(acme_client, Challenges())

    assert first.private_key_pem != second.private_key_pem


def test_it_answers_no_challenge_for_an_authorization_already_valid(acme_client, server):
    server.already_valid = {"shop.example.com"}
    challenges = Challenges()

    issue(acme_client, challenges)

    assert server.answered == ["www.shop.example.com"]
    assert challenges.calls == [("publish", token_for("www.shop.example.com")),
                                ("withdraw", token_for("www.shop.example.com"))]


def test_it_names_the_hostname_and_the_servers_detail_when_a_challenge_fails(acme_client,
                                                                             server):
    server.authz_statuses = {"www.shop.example.com": ["pending", "invalid"]}
    challenges = Challenges()

    with pytest.raises(UserError) as failure:
        issue(acme_client, challenges)

    assert failure.value.code == "acme_challenge_failed"
    assert "www.shop.example.com" in failure.value.message
    assert "the fake could not fetch the token for www.shop.example.com" in failure.value.message
    assert challenges.served == {}


def test_it_polls_a_bounded_number_of_times_backing_off(acme_client, server, sleeps):
    server.authz_statuses = {"shop.example.com": ["pending"]}
    challenges = Challenges()

    with pytest.raises(PlatformError) as failure:
        issue(acme_client, challenges)

    assert failure.value.code == "acme_timeout"
    assert "shop.example.com" in failure.value.message and "5 polls" in failure.value.message
    assert sleeps == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert challenges.served == {}


def test_it_withdraws_what_it_published_when_publishing_fails(acme_client):
    challenges = Challenges()

    def publish(token: str, key_authorization: str) -> None:
        if challenges.served:
            raise PlatformError("nginx -t failed", code="router_invalid")
        challenges.publish(token, key_authorization)

    with pytest.raises(PlatformError) as failure:
        acme_client.issue(NAMES, publish, challenges.withdraw)

    assert failure.value.code == "router_invalid"
    assert challenges.calls == [("publish", token_for("shop.example.com")),
                                ("withdraw", token_for("shop.example.com"))]


def test_it_retries_a_request_whose_nonce_the_server_rejected(acme_client, server):
    server.problems["/order"] = Problem("badNonce", "JWS has an invalid anti-replay nonce",
                                        times=1)

    issued = issue(acme_client, Challenges())

    assert issued.fullchain_pem
    assert [path for _, path in server.requests_seen].count("/order") == 2


def test_it_reports_a_rate_limit_as_a_user_error_with_the_servers_words(acme_client, server):
    server.problems["/order"] = Problem(
        "rateLimited", "too many certificates already issued for shop.example.com", status=429)

    with pytest.raises(UserError) as failure:
        issue(acme_client, Challenges())

    assert failure.value.code == "acme_rate_limited"
    assert "too many certificates already issued" in failure.value.message


def test_it_reports_a_name_the_ca_refuses(acme_client, server):
    server.problems["/order"] = Problem("rejectedIdentifier", "shop.example.com is blocked")

    with pytest.raises(UserError) as failure:
        issue(acme_client, Challenges())

    assert failure.value.code == "acme_rejected"
    assert "shop.example.com is blocked" in failure.value.message


def test_it_reports_an_error_of_the_server_as_a_platform_error(acme_client, server):
    server.problems["/finalize/1"] = Problem("serverInternal", "the database is on fire",
                                             status=500)
    challenges = Challenges()

    with pytest.raises(PlatformError) as failure:
        issue(acme_client, challenges)

    assert failure.value.code == "acme_error"
    assert "the database is on fire" in failure.value.message
    assert challenges.served == {}


@pytest.mark.parametrize(("transport_error", "code"), [
    (requests.exceptions.ConnectionError("connection refused"), "acme_unreachable"),
    (requests.exceptions.SSLError("certificate verify failed"), "acme_tls_error"),
    (requests.exceptions.ReadTimeout("read timed out"), "acme_timeout"),
])
def test_it_reports_a_server_it_cannot_talk_to(acme_client, server, transport_error, code):
    server.transport_error = transport_error
    challenges = Challenges()

    with pytest.raises(PlatformError) as failure:
        issue(acme_client, challenges)

    assert failure.value.code == code
    assert DIRECTORY_URL in failure.value.message
    assert challenges.calls == []


def test_it_reports_a_directory_url_that_is_not_acme(acme_client, server):
    server.directory_body = b"<html>Not Found</html>"

    with pytest.raises(PlatformError) as failure:
        issue(acme_client, Challenges())

    assert failure.value.code == "acme_bad_response"
    assert "is not an ACME directory" in failure.value.message and "404" in failure.value.message


@pytest.mark.parametrize("names", [[], ["*.example.com"], ["Shop.example.com"], ["localhost"]])
def test_it_refuses_hostnames_it_cannot_validate_before_asking_the_ca(acme_client, server,
                                                                       names):
    with pytest.raises(UserError) as failure:
        issue(acme_client, Challenges(), names)

    assert failure.value.code == "invalid_domain"
    assert server.requests_seen == []


def test_it_refuses_an_account_key_it_cannot_read(server, tmp_path):
    key_path = tmp_path / "account-key.pem"
    key_path.write_text("not a key")
    client = AcmeClient(DIRECTORY_URL, key_path, session=server.session())

    with pytest.raises(PlatformError) as failure:
        issue(client, Challenges())

    assert failure.value.code == "acme_account_key_invalid"
    assert str(key_path) in failure.value.message


NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("not_after", "due"), [
    (NOW + timedelta(days=60), False),
    (NOW + timedelta(days=30), False),
    (NOW + timedelta(days=30) - timedelta(seconds=1), True),
    (NOW + timedelta(days=1), True),
    (NOW - timedelta(days=1), True),
])
def test_a_certificate_is_renewed_once_less_than_the_margin_is_left(not_after, due):
    assert needs_renewal(not_after, NOW, timedelta(days=30)) is due
