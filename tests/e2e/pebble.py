"""Debian's pebble, a real ACME (RFC 8555) test server, run on loopback for a test.

``running_pebble(workdir, http_port)`` starts two processes from the ``pebble`` package and
always stops both (by the pid it started) when the block ends, also when it fails:

- ``pebble-challtestsrv`` as the DNS server pebble resolves names with (``-dnsserver``): it
  answers every A query with 127.0.0.1 (``-defaultIPv4``) and no AAAA, so any test hostname,
  ``shop.acme.test`` say, leads pebble's HTTP-01 validation to loopback. Its own challenge
  servers are switched off: the challenge is answered by what the test runs on ``http_port``
  (a stand-in for the router, or the router itself).
- ``pebble`` with a config made here: the ACME directory and the management interface on free
  loopback ports, an HTTPS certificate for localhost and 127.0.0.1 from a throwaway CA made
  here with ``cryptography`` (the Debian package ships no test certificates), and ``httpPort``,
  the port its validation connects to, set to ``http_port``.

Validation is real (no PEBBLE_VA_ALWAYS_VALID). PEBBLE_VA_NOSLEEP skips pebble's random waits
before it validates; PEBBLE_WFE_NONCEREJECT=0 and PEBBLE_AUTHZREUSE=0 switch off its random
badNonce answers and reuse of valid authorizations, so that every run takes the same path
(each order answers its challenges); the client's handling of both is unit tested with fakes.

Free ports are found by binding port 0 and closing it again; pebble then binds them. Readiness
is polled a bounded number of times, with no wall-clock limit in the test itself.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PEBBLE = "/usr/bin/pebble"
CHALLTESTSRV = "/usr/bin/pebble-challtestsrv"
READY_ATTEMPTS = 100


def _open(url: str, context: ssl.SSLContext | None = None):
    """GET on loopback, never through a proxy from the environment."""
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
    if context is not None:
        handlers.append(urllib.request.HTTPSHandler(context=context))
    return urllib.request.build_opener(*handlers).open(url, timeout=30)


@dataclass(frozen=True)
class Pebble:
    directory_url: str
    management_url: str
    # The CA that signed pebble's own HTTPS certificate: what the ACME client trusts.
    ca_bundle: str

    def root_pem(self) -> str:
        """The root that pebble's issued certificates chain to (made anew at each start)."""
        return self._management_get("/roots/0")

    def intermediate_pem(self) -> str:
        return self._management_get("/intermediates/0")

    def _management_get(self, path: str) -> str:
        context = ssl.create_default_context(cafile=self.ca_bundle)
        with _open(self.management_url + path, context) as response:
            return response.read().decode()


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A loopback port nothing listens on now (TCP, or UDP with SOCK_DGRAM)."""
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_dns_port() -> int:
    """A loopback port free for both UDP and TCP: challtestsrv serves DNS on both."""
    for _ in range(20):
        port = free_port(socket.SOCK_DGRAM)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no loopback port free for both UDP and TCP")


def write_test_ca(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a certificate it signed for localhost and 127.0.0.1.

    Returns the paths of the CA certificate, the server certificate and the server key.
    """
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "paas test pebble CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path = directory / "pebble-ca.pem"
    cert_path = directory / "pebble-cert.pem"
    key_path = directory / "pebble-key.pem"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    key_path.chmod(0o600)
    return ca_path, cert_path, key_path


@contextmanager
def running_pebble(workdir: Path, http_port: int) -> Iterator[Pebble]:
    """pebble on loopback, validating HTTP-01 on 127.0.0.1:``http_port``; see the module."""
    workdir.mkdir(parents=True, exist_ok=True)
    ca_path, cert_path, key_path = write_test_ca(workdir)
    dns_port = free_dns_port()
    acme_port, management_port, dns_management_port, tls_port = (
        free_port(), free_port(), free_port(), free_port())
    config = workdir / "pebble-config.json"
    config.write_text(json.dumps({"pebble": {
        "listenAddress": f"127.0.0.1:{acme_port}",
        "managementListenAddress": f"127.0.0.1:{management_port}",
        "certificate": str(cert_path),
        "privateKey": str(key_path),
        "httpPort": http_port,
        # TLS-ALPN-01 only; paas offers HTTP-01 alone, so nothing listens here.
        "tlsPort": tls_port,
        "ocspResponderURL": "",
        "externalAccountBindingRequired": False,
    }}))
    pebble = Pebble(directory_url=f"https://127.0.0.1:{acme_port}/dir",
                    management_url=f"https://127.0.0.1:{management_port}",
                    ca_bundle=str(ca_path))
    with ExitStack() as started:
        dns = started.enter_context(_process(
            [CHALLTESTSRV, "-dns01", f"127.0.0.1:{dns_port}", "-http01", "", "-https01", "",
             "-tlsalpn01", "", "-management", f"127.0.0.1:{dns_management_port}",
             "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""],
            workdir / "challtestsrv.log", env={}))
        _wait_until_ready(dns, workdir / "challtestsrv.log",
                          lambda: _answers_http(f"http://127.0.0.1:{dns_management_port}/"))
        server = started.enter_context(_process(
            [PEBBLE, "-config", str(config), "-dnsserver", f"127.0.0.1:{dns_port}",
             "-strict=false"],
            workdir / "pebble.log",
            env={"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0",
                 "PEBBLE_AUTHZREUSE": "0"}))
        _wait_until_ready(server, workdir / "pebble.log",
                          lambda: _answers_https(pebble.directory_url, pebble.ca_bundle))
        yield pebble


@contextmanager
def _process(argv: list[str], log_path: Path, env: dict[str, str]) -> Iterator[subprocess.Popen]:
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                                   stdin=subprocess.DEVNULL)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_ready(process: subprocess.Popen, log_path: Path, ready) -> None:
    delay = 0.02
    for _ in range(READY_ATTEMPTS):
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}:\n"
                               f"{log_path.read_text(errors='replace')}")
        if ready():
            return
        time.sleep(delay)
        delay = min(delay * 2, 0.5)
    raise RuntimeError(f"{process.args[0]} did not answer after {READY_ATTEMPTS} tries:\n"
                       f"{log_path.read_text(errors='replace')}")


def _answers_http(url: str) -> bool:
    try:
        _open(url).close()
    except urllib.error.HTTPError:
        return True  # it answered, if not with 200
    except OSError:
        return False
    return True


def _answers_https(url: str, ca_bundle: str) -> bool:
    context = ssl.create_default_context(cafile=ca_bundle)
    try:
        _open(url, context).close()
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True
