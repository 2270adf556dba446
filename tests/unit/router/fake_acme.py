"""A fake ACME server at the HTTP edge: a requests transport adapter that answers the RFC 8555
flow from memory, so AcmeClient runs its real code (acme's JWS, nonces, messages) with no
network. It checks no signatures; it signs the CSR it is sent with a CA of its own.

Tests steer it: ``authz_statuses`` (what each poll of a hostname's authorization says),
``already_valid`` (hostnames whose authorization needs no challenge), ``problems`` (a path
answers with an ACME problem, once or always), ``transport_error`` (every request raises).
"""

from __future__ import annotations

import base64
import datetime
import json
from dataclasses import dataclass, field

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

BASE = "https://acme.example.test"
DIRECTORY_URL = f"{BASE}/dir"


def token_for(name: str) -> str:
    """The challenge token the fake hands out for ``name`` (base64url, as ACME's are)."""
    return base64.urlsafe_b64encode(f"token {name}".encode()).decode().rstrip("=")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Problem:
    code: str
    detail: str
    status: int = 400
    times: int = 1_000_000  # how many requests answer with it


@dataclass
class FakeAcmeServer(BaseAdapter):
    authz_statuses: dict[str, list[str]] = field(default_factory=dict)
    already_valid: set[str] = field(default_factory=set)
    problems: dict[str, Problem] = field(default_factory=dict)
    transport_error: Exception | None = None
    directory_body: bytes | None = None  # what /dir answers instead of a directory
    requests_seen: list[tuple[str, str]] = field(default_factory=list)
    account_keys: list[str] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()
        self._nonce = 0
        self._names: list[str] = []
        self._polls: dict[str, int] = {}
        self._certificate_pem = ""
        self._ca_key = ec.generate_private_key(ec.SECP256R1())
        self._ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake ACME CA")])

    def session(self) -> requests.Session:
        session = requests.Session()
        session.mount(BASE, self)
        return session

    # --- requests' transport interface ------------------------------------------------------

    def send(self, request, **kwargs):  # noqa: ARG002 - requests passes stream, verify, ...
        path = request.url.removeprefix(BASE)
        self.requests_seen.append((request.method, path))
        if self.transport_error is not None:
            raise self.transport_error
        problem = self.problems.get(path)
        if problem is not None and problem.times > 0:
            problem.times -= 1
            return self._response(request, problem.status, {
                "type": f"urn:ietf:params:acme:error:{problem.code}", "detail": problem.detail,
            }, content_type="application/problem+json")
        if path == "/dir":
            if self.directory_body is not None:
                return self._response(request, 404, self.directory_body,
                                      content_type="text/html")
            return self._response(request, 200, {
                "newNonce": f"{BASE}/nonce", "newAccount": f"{BASE}/account",
                "newOrder": f"{BASE}/order", "revokeCert": f"{BASE}/revoke",
                "keyChange": f"{BASE}/key-change",
                "meta": {"termsOfService": f"{BASE}/terms"},
            })
        if path == "/nonce":
            return self._response(request, 200, b"")
        payload, jwk = self._payload(request)
        if path == "/account":
            known = jwk in self.account_keys
            if not known:
                self.account_keys.append(jwk)
            return self._response(request, 200 if known else 201, {"status": "valid"},
                                  location=f"{BASE}/account/{self.account_keys.index(jwk)}")
        if path == "/order":
            self._names = [identifier["value"] for identifier in payload["identifiers"]]
            return self._response(request, 201, self._order("pending"),
                                  location=f"{BASE}/order/1")
        if path.startswith("/authz/"):
            return self._response(request, 200, self._authorization(path[len("/authz/"):]))
        if path.startswith("/chall/"):
            name = path[len("/chall/"):]
            self.answered.append(name)
            return self._response(request, 200, self._challenge(name, "processing"),
                                  link=f'<{BASE}/authz/{name}>;rel="up"')
        if path == "/finalize/1":
            self._certificate_pem = self._sign(_b64decode(payload["csr"]))
            return self._response(request, 200, self._order("valid"))
        if path == "/order/1":
            return self._response(request, 200,
                                  self._order("valid" if self._certificate_pem else "pending"))
        if path == "/cert/1":
            return self._response(request, 200, self._certificate_pem.encode(),
                                  content_type="application/pem-certificate-chain")
        return self._response(request, 404, {"type": "about:blank", "detail": "no such path"},
                              content_type="application/problem+json")

    def close(self) -> None:
        pass

    # --- ACME objects -----------------------------------------------------------------------

    def _order(self, status: str) -> dict:
        order = {
            "status": status,
            "identifiers": [{"type": "dns", "value": name} for name in self._names],
            "authorizations": [f"{BASE}/authz/{name}" for name in self._names],
            "finalize": f"{BASE}/finalize/1",
        }
        if status == "valid":
            order["certificate"] = f"{BASE}/cert/1"
        return order

    def _authorization(self, name: str) -> dict:
        if name in self.already_valid:
            status = "valid"
        elif name not in self.answered:
            status = "pending"
        else:
            statuses = self.authz_statuses.get(name, ["valid"])
            polls = self._polls.get(name, 0)
            self._polls[name] = polls + 1
            status = statuses[min(polls, len(statuses) - 1)]
        challenge = self._challenge(name, status)
        if status == "invalid":
            challenge["error"] = {"type": "urn:ietf:params:acme:error:unauthorized",
                                  "detail": f"the fake could not fetch the token for {name}"}
        return {"identifier": {"type": "dns", "value": name}, "status": status,
                "challenges": [challenge]}

    @staticmethod
    def _challenge(name: str, status: str) -> dict:
        return {"type": "http-01", "url": f"{BASE}/chall/{name}", "status": status,
                "token": token_for(name)}

    def _sign(self, csr_der: bytes) -> str:
        csr = x509.load_der_x509_csr(csr_der)
        now = datetime.datetime.now(datetime.UTC)
        leaf = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self._ca_name)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=90))
            .add_extension(csr.extensions.get_extension_for_class(
                x509.SubjectAlternativeName).value, critical=False)
            .sign(self._ca_key, hashes.SHA256())
        )
        return leaf.public_bytes(serialization.Encoding.PEM).decode()

    # --- HTTP -------------------------------------------------------------------------------

    @staticmethod
    def _payload(request) -> tuple[dict, str]:
        jws = json.loads(request.body)
        protected = json.loads(_b64decode(jws["protected"]))
        payload = _b64decode(jws["payload"]) if jws["payload"] else b""
        return (json.loads(payload) if payload else {}), json.dumps(protected.get("jwk"))

    def _response(self, request, status: int, body: dict | bytes,
                  content_type: str = "application/json", location: str | None = None,
                  link: str | None = None) -> requests.Response:
        self._nonce += 1
        response = requests.Response()
        response.status_code = status
        response.url = request.url
        response.request = request
        response.headers = CaseInsensitiveDict({
            "Content-Type": content_type,
            "Replay-Nonce": base64.urlsafe_b64encode(
                f"nonce-{self._nonce}".encode()).decode().rstrip("="),
        })
        if location:
            response.headers["Location"] = location
        if link:
            response.headers["Link"] = link
        response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return response
