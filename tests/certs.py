"""Test certificates made with ``cryptography``: a CA, leaves it signs (with any names and
validity), and self-signed ones; and a fake ACME CA issuing from one. Shared by unit and
end-to-end tests."""

import datetime
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from paas.router import acme


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@dataclass
class Issued:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def cert_pem(self) -> str:
        return pem(self.certificate)

    @property
    def key_pem(self) -> str:
        return key_pem(self.key)

    @property
    def fingerprint(self) -> str:
        return self.certificate.fingerprint(hashes.SHA256()).hex(":").upper()


class CertificateAuthority:
    """A certificate authority for tests (P-256)."""

    def __init__(self, name: str = "paas test CA") -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.certificate = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now() - datetime.timedelta(days=1))
            .not_valid_after(now() + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256()))

    @property
    def cert_pem(self) -> str:
        return pem(self.certificate)

    def issue(self, *names: str, days: float = 10, starts_in_days: float = -1,
              key: ec.EllipticCurvePrivateKey | None = None) -> Issued:
        """A leaf for ``names`` (subjectAltName DNS names; none: no SAN extension)."""
        key = key or ec.generate_private_key(ec.SECP256R1())
        start = now() + datetime.timedelta(days=starts_in_days)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                        names[0] if names else "x")]))
            .issuer_name(self.certificate.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=days)))
        if names:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        return Issued(builder.sign(self.key, hashes.SHA256()), key)


@dataclass
class FakeAcmeCa:
    """Stands in for ``paas.router.acme.AcmeClient``: issues from a test CA, publishing one
    challenge per hostname through the callables it is given; or fails with ``failure``."""

    authority: CertificateAuthority = field(default_factory=CertificateAuthority)
    asked: list[tuple[str, ...]] = field(default_factory=list)
    clients: list[dict] = field(default_factory=list)
    failure: Exception | None = None

    def client(self, **kwargs):
        self.clients.append(kwargs)
        return self

    def issue(self, hostnames, publish, withdraw, log):
        self.asked.append(tuple(hostnames))
        for number, _ in enumerate(hostnames):
            token = f"token{number:02d}" + "A" * 16
            publish(token, f"{token}.{'B' * 43}")
            withdraw(token)
        if self.failure is not None:
            raise self.failure
        issued = self.authority.issue(*hostnames)
        return acme.IssuedCertificate(fullchain_pem=issued.cert_pem + self.authority.cert_pem,
                                      private_key_pem=issued.key_pem,
                                      not_after=issued.certificate.not_valid_after_utc)
