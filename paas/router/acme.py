"""Certificates by ACME (RFC 8555) with the HTTP-01 challenge: the engine behind `certs:auto`.

The protocol (JWS signing, nonces and their ``badNonce`` retry, the account, order,
authorization and challenge messages) is certbot's ``acme`` library, the client Let's Encrypt
maintains and tests against its own servers; writing that again on ``cryptography`` and
``requests`` would mean owning the parts that are easiest to get subtly wrong. What is ours is
the flow around it, kept small and explicit here: one account key kept on disk, a fresh key
pair per certificate, every challenge published before it is answered and withdrawn whatever
happens, bounded polling that backs off, and every failure turned into a paas error with a
stable code (``acme_*``) instead of a traceback.

The engine does no bookkeeping: it returns an ``IssuedCertificate`` for the caller to store
and route, and serves challenges only through the ``publish`` / ``withdraw`` callables it is
given (the router's, in paas). It imports nothing from ``paas.core``.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import requests
from acme import challenges, client, crypto_util, messages
from acme import errors as acme_errors
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from josepy.errors import DeserializationError
from josepy.jwa import ES256, RS256
from josepy.jwk import JWK, JWKEC, JWKRSA

from paas.errors import PaasError, PlatformError, UserError
from paas.names import validate_hostname

USER_AGENT = "paas-acme"
DEFAULT_TIMEOUT = 30.0
# Polling an authorization or an order: the first wait, its doubling, its ceiling and how many
# polls before giving up (some 90 s in all, Let's Encrypt's usual validation taking seconds).
FIRST_POLL_DELAY = 0.5
MAX_POLL_DELAY = 8.0
DEFAULT_POLL_ATTEMPTS = 16

# ACME problem types (RFC 8555 section 6.7) that the user can do something about: the
# hostname does not lead to this server, the CA refuses it, or too many requests were made.
USER_PROBLEMS = frozenset({
    "caa", "connection", "dns", "incorrectResponse", "rejectedIdentifier", "unauthorized",
    "unsupportedIdentifier", "tls",
})


@dataclass(frozen=True)
class IssuedCertificate:
    fullchain_pem: str  # the leaf first, then the intermediates, as the CA sent them
    private_key_pem: str  # PKCS#8, unencrypted: the caller stores it with mode 0600
    not_after: datetime  # aware, UTC


def needs_renewal(not_after: datetime, now: datetime, before: timedelta) -> bool:
    """Whether a certificate valid until ``not_after`` is due for renewal at ``now``: once
    less than ``before`` of its validity is left (or it has expired). Both times are aware."""
    return not_after - now < before


def _no_log(message: str) -> None:
    pass


@dataclass(frozen=True)
class AcmeClient:
    """An ACME account at one CA (``directory_url``), issuing certificates by HTTP-01.

    ``account_key_path`` holds the account's key: made on first use (ECDSA P-256, mode 0600)
    and reused after, so renewals belong to the same account. ``ca_bundle`` is the CA file that
    the ACME server's HTTPS certificate is checked against (None: the system's). ``timeout``
    bounds each HTTP request, ``poll_attempts`` the polls of an authorization or an order.
    ``session`` replaces the HTTP session (tests put a fake transport in it); ``sleep`` is what
    waits between polls.
    """

    directory_url: str
    account_key_path: Path
    email: str | None = None
    ca_bundle: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    poll_attempts: int = DEFAULT_POLL_ATTEMPTS
    session: requests.Session | None = None
    sleep: Callable[[float], None] = time.sleep

    def issue(self, hostnames: Sequence[str], publish: Callable[[str, str], None],
              withdraw: Callable[[str], None],
              log: Callable[[str], None] = _no_log) -> IssuedCertificate:
        """Get a certificate whose subjectAltName holds ``hostnames``, in the order given.

        ``publish(token, key_authorization)`` must make
        ``http://<hostname>/.well-known/acme-challenge/<token>`` answer ``key_authorization``
        until ``withdraw(token)``; every published token is withdrawn before this returns or
        raises. ``log`` gets a line per step, for the user.

        Raises UserError: invalid hostnames (``invalid_domain``), a challenge the CA could not
        validate (``acme_challenge_failed``, naming the hostname and the CA's reason), a name
        the CA refuses (``acme_rejected``), a rate limit (``acme_rate_limited``). Raises
        PlatformError: the CA unreachable (``acme_unreachable``), its TLS certificate not
        trusted (``acme_tls_error``), no answer in time (``acme_timeout``), an answer that is
        not ACME (``acme_bad_response``), or another error from it (``acme_error``).
        """
        names = _checked_hostnames(hostnames)
        try:
            return self._issue(names, publish, withdraw, log)
        except PaasError:
            raise
        except messages.Error as problem:
            raise _problem_error(problem, names) from problem
        except requests.exceptions.SSLError as error:
            raise PlatformError(
                f"cannot reach the ACME server at {self.directory_url} over TLS: {error} "
                "(is PAAS_ACME_CA_BUNDLE right?)", code="acme_tls_error") from error
        except requests.exceptions.Timeout as error:
            raise PlatformError(f"the ACME server at {self.directory_url} did not answer in "
                                f"{self.timeout:g} s", code="acme_timeout") from error
        except requests.exceptions.RequestException as error:
            raise PlatformError(f"cannot reach the ACME server at {self.directory_url}: "
                                f"{error}", code="acme_unreachable") from error
        except acme_errors.ClientError as error:
            raise PlatformError(f"the ACME server at {self.directory_url} answered with "
                                f"something that is not ACME: {_client_error_text(error)}",
                                code="acme_bad_response") from error
        except (acme_errors.Error, DeserializationError, ValueError) as error:
            raise PlatformError(f"ACME with {self.directory_url} failed: {error}",
                                code="acme_error") from error

    # --- the flow ---------------------------------------------------------------------------

    def _issue(self, names: list[str], publish: Callable[[str, str], None],
               withdraw: Callable[[str], None], log: Callable[[str], None]) -> IssuedCertificate:
        account_key = self._account_key()
        acme = self._registered_client(account_key)
        certificate_key = ec.generate_private_key(ec.SECP256R1())
        key_pem = certificate_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())
        log(f"ordering a certificate for {', '.join(names)} from {self.directory_url}")
        order = acme.new_order(crypto_util.make_csr(key_pem, names))
        published: list[str] = []
        try:
            pending = []
            for authorization in order.authorizations:
                if authorization.body.status == messages.STATUS_VALID:
                    log(f"{authorization.body.identifier.value}: already validated")
                    continue
                challenge = _http01(authorization)
                response, key_authorization = challenge.response_and_validation(account_key)
                publish(challenge.chall.encode("token"), key_authorization)
                published.append(challenge.chall.encode("token"))
                pending.append((authorization, challenge, response))
            for authorization, challenge, response in pending:
                log(f"{authorization.body.identifier.value}: answering the HTTP-01 challenge")
                acme.answer_challenge(challenge, response)
            for authorization, _, _ in pending:
                self._wait_for_authorization(acme, authorization)
                log(f"{authorization.body.identifier.value}: validated")
        finally:
            for token in published:
                withdraw(token)
        log("finalizing the order")
        fullchain_pem = self._finalize(acme, order)
        leaf = x509.load_pem_x509_certificate(fullchain_pem.encode())
        if leaf.public_key() != certificate_key.public_key():
            raise PlatformError("the ACME server sent a certificate for another key",
                                code="acme_bad_response")
        issued = IssuedCertificate(fullchain_pem=fullchain_pem,
                                   private_key_pem=key_pem.decode(),
                                   not_after=leaf.not_valid_after_utc)
        log(f"certificate issued, valid until {issued.not_after:%Y-%m-%d %H:%M} UTC")
        return issued

    def _registered_client(self, account_key: JWK) -> client.ClientV2:
        alg = ES256 if isinstance(account_key, JWKEC) else RS256
        # ClientNetwork hands verify_ssl to requests as ``verify``, which takes a CA bundle's
        # path as well as a bool; its annotation names bool only.
        net = client.ClientNetwork(
            account_key, alg=alg, user_agent=USER_AGENT, timeout=math.ceil(self.timeout),
            verify_ssl=self.ca_bundle or True)  # type: ignore[arg-type]
        if self.session is not None:
            net.session = self.session
        try:
            directory = client.ClientV2.get_directory(self.directory_url, net)
        except (DeserializationError, acme_errors.ClientError, ValueError) as error:
            raise PlatformError(f"{self.directory_url} is not an ACME directory: "
                                f"{_client_error_text(error)}",
                                code="acme_bad_response") from error
        acme = client.ClientV2(directory, net)
        registration = messages.NewRegistration.from_data(
            email=self.email, terms_of_service_agreed=True)
        try:
            acme.new_account(registration)
        except acme_errors.ConflictError as existing:
            # The key has an account already (RFC 8555 7.3.1): use it.
            net.account = messages.RegistrationResource(uri=existing.location,
                                                        body=messages.Registration())
        return acme

    def _wait_for_authorization(self, acme: client.ClientV2,
                                authorization: messages.AuthorizationResource) -> None:
        hostname = authorization.body.identifier.value
        for delay in self._poll_delays():
            self.sleep(delay)
            authorization, _ = acme.poll(authorization)
            status = authorization.body.status
            if status == messages.STATUS_VALID:
                return
            if status not in (messages.STATUS_PENDING, messages.STATUS_PROCESSING):
                raise _validation_error(authorization)
        raise PlatformError(f"{hostname}: the ACME server did not validate the challenge "
                            f"after {self.poll_attempts} polls", code="acme_timeout")

    def _finalize(self, acme: client.ClientV2, order: messages.OrderResource) -> str:
        try:
            order = acme.begin_finalization(order)
        except messages.Error as problem:
            if problem.code != "orderNotReady":
                raise
        for delay in self._poll_delays():
            if order.body.status == messages.STATUS_VALID and order.body.certificate:
                certificate = acme.net.post(order.body.certificate, None,
                                            new_nonce_url=acme.directory["newNonce"])
                return certificate.text
            if order.body.status == messages.STATUS_INVALID:
                detail = f": {order.body.error.detail}" if order.body.error else ""
                raise UserError(f"the ACME server refused to issue the certificate{detail}",
                                code="acme_rejected")
            if order.body.status == messages.STATUS_READY:
                order = acme.begin_finalization(order)
                continue
            self.sleep(delay)
            response = acme.net.post(order.uri, None, new_nonce_url=acme.directory["newNonce"])
            order = order.update(body=messages.Order.from_json(response.json()))
        raise PlatformError(f"the ACME server did not issue the certificate after "
                            f"{self.poll_attempts} polls", code="acme_timeout")

    def _poll_delays(self) -> list[float]:
        delays, delay = [], FIRST_POLL_DELAY
        for _ in range(self.poll_attempts):
            delays.append(delay)
            delay = min(delay * 2, MAX_POLL_DELAY)
        return delays

    # --- the account key --------------------------------------------------------------------

    def _account_key(self) -> JWK:
        """The account's key from ``account_key_path``, made (mode 0600) if there is none."""
        path = self.account_key_path
        if not path.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption())
            try:
                with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600),
                               "wb") as out:
                    out.write(pem)
            except FileExistsError:
                pass  # another process made it a moment ago: use that one
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as error:
            raise PlatformError(f"cannot read the ACME account key {path}: {error}",
                                code="acme_account_key_invalid") from error
        if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
            return JWKEC(key=key)
        if isinstance(key, rsa.RSAPrivateKey):
            return JWKRSA(key=key)
        raise PlatformError(f"the ACME account key {path} must be ECDSA P-256 or RSA",
                            code="acme_account_key_invalid")


# --- helpers ---------------------------------------------------------------------------------


def _checked_hostnames(hostnames: Sequence[str]) -> list[str]:
    """Valid, distinct hostnames in the order given; HTTP-01 cannot validate a wildcard."""
    if not hostnames:
        raise UserError("a certificate needs at least one hostname", code="invalid_domain")
    names: list[str] = []
    for hostname in hostnames:
        validate_hostname(hostname)
        if hostname not in names:
            names.append(hostname)
    return names


def _http01(authorization: messages.AuthorizationResource) -> messages.ChallengeBody:
    for challenge in authorization.body.challenges:
        if isinstance(challenge.chall, challenges.HTTP01):
            return challenge
    raise UserError(f"{authorization.body.identifier.value}: the ACME server offers no HTTP-01 "
                    "challenge, the only kind paas answers", code="acme_rejected")


def _validation_error(authorization: messages.AuthorizationResource) -> UserError:
    hostname = authorization.body.identifier.value
    reasons = [_problem_text(challenge.error) for challenge in authorization.body.challenges
               if challenge.error is not None]
    reason = "; ".join(reasons) or f"the authorization is {authorization.body.status}"
    return UserError(f"{hostname}: the ACME server could not validate the HTTP-01 challenge: "
                     f"{reason}", code="acme_challenge_failed")


def _problem_error(problem: messages.Error, names: list[str]) -> PaasError:
    text = _problem_text(problem)
    if problem.code == "rateLimited":
        return UserError(f"the ACME server's rate limit was hit: {text}",
                         code="acme_rate_limited")
    if problem.code in USER_PROBLEMS:
        return UserError(f"the ACME server refused {', '.join(names)}: {text}",
                         code="acme_rejected")
    return PlatformError(f"the ACME server answered with an error: {text}", code="acme_error")


def _problem_text(problem: messages.Error) -> str:
    """The server's own words: its detail, else its title, else the problem type."""
    text = problem.detail or problem.title or problem.description or str(problem.typ)
    if problem.subproblems:
        text += " (" + "; ".join(_problem_text(sub) for sub in problem.subproblems) + ")"
    return text


def _client_error_text(error: Exception) -> str:
    """acme's ClientError may carry the raw response: say its status, not its repr."""
    for arg in getattr(error, "args", ()):
        if isinstance(arg, requests.Response):
            return f"HTTP {arg.status_code} from {arg.url}"
        if isinstance(arg, tuple) and arg and isinstance(arg[0], requests.Response):
            return f"HTTP {arg[0].status_code} from {arg[0].url}"
    return str(error) or type(error).__name__
