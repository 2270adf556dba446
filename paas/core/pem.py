"""Reading and checking a certificate and its key, as a user hands them to ``certs:add`` (or an
ACME CA issues them), with ``cryptography``.

``check_certificate`` says what is wrong with a stable code, before anything reaches nginx: a
PEM that is not one, a key that is not the certificate's, a certificate out of its validity
period, a chain out of order, or names that cover none of the hosts it is for.
"""

import datetime
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from paas.errors import UserError

MAX_PEM_BYTES = 64 * 1024
MIN_RSA_BITS = 2048
SUPPORTED_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)


@dataclass(frozen=True)
class CheckedCertificate:
    """A certificate chain and key that passed ``check_certificate``, normalised: the chain
    and the (unencrypted PKCS#8) key as nginx will read them."""

    chain_pem: bytes
    key_pem: bytes
    names: tuple[str, ...]
    issuer: str
    not_before: datetime.datetime
    not_after: datetime.datetime
    fingerprint: str
    covered: tuple[str, ...]  # the hostnames given that the names cover
    uncovered: tuple[str, ...]


def fingerprint(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex(":").upper()


def name_matches(pattern: str, hostname: str) -> bool:
    """Whether the certificate name ``pattern`` covers ``hostname`` (RFC 6125, 6.4): equal,
    or a wildcard ``*.`` that stands for exactly one whole leftmost label. Partial wildcards
    (``w*.example.com``) and wildcards elsewhere match nothing, as browsers do."""
    pattern, hostname = pattern.lower().rstrip("."), hostname.lower()
    if "*" not in pattern:
        return pattern == hostname
    if not pattern.startswith("*.") or "*" in pattern[2:] or "." not in hostname:
        return False
    label, _, rest = hostname.partition(".")
    return bool(label) and rest == pattern[2:]


def covered_hostnames(names: tuple[str, ...], hostnames: tuple[str, ...]) -> tuple[str, ...]:
    """The ``hostnames`` that some certificate name in ``names`` covers, in their order."""
    return tuple(host for host in hostnames if any(name_matches(n, host) for n in names))


def check_certificate(cert_pem: str | bytes, key_pem: str | bytes,
                      hostnames: tuple[str, ...], now: datetime.datetime) -> CheckedCertificate:
    """Parse ``cert_pem`` (the leaf, then its intermediates) and ``key_pem`` and check them
    for ``hostnames`` at ``now``.

    The names must cover at least one of ``hostnames`` (the result lists the others): an
    app's default host is under the platform's domain, for which its users cannot get a
    certificate, yet their own domains deserve HTTPS.

    Raises UserError with code certificate_invalid (no PEM certificate, or too large),
    key_invalid (no PEM key, or an encrypted one), key_unsupported (not RSA of 2048 bits or
    more, nor ECDSA on P-256/384/521), key_mismatch, certificate_expired,
    certificate_not_yet_valid, chain_out_of_order, certificate_no_names (no DNS names in
    subjectAltName) or certificate_names_mismatch.
    """
    cert_bytes = _as_bytes(cert_pem, "certificate", "certificate_invalid")
    key_bytes = _as_bytes(key_pem, "key", "key_invalid")
    try:
        chain = x509.load_pem_x509_certificates(cert_bytes)
    except ValueError:
        raise UserError("the certificate is not a PEM certificate (-----BEGIN CERTIFICATE-----)",
                        code="certificate_invalid") from None
    key = _load_key(key_bytes)
    leaf = chain[0]
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if (leaf.public_key().public_bytes(serialization.Encoding.DER, public)
            != key.public_key().public_bytes(serialization.Encoding.DER, public)):
        raise UserError("the key does not belong to the certificate (their public keys "
                        "differ)", code="key_mismatch")
    for position, certificate in enumerate(chain):
        what = "the certificate" if position == 0 else f"intermediate {position}"
        if certificate.not_valid_after_utc <= now:
            raise UserError(f"{what} expired on {_when(certificate.not_valid_after_utc)}",
                            code="certificate_expired")
        if certificate.not_valid_before_utc > now:
            raise UserError(f"{what} is not valid before "
                            f"{_when(certificate.not_valid_before_utc)}",
                            code="certificate_not_yet_valid")
    for position, (child, parent) in enumerate(zip(chain, chain[1:], strict=False)):
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature):
            raise UserError(f"certificate {position + 1} of the chain is not issued by the one "
                            "after it: give the leaf first, then each issuer in order",
                            code="chain_out_of_order") from None
    names = _dns_names(leaf)
    covered = covered_hostnames(names, hostnames)
    if not covered:
        raise UserError(f"the certificate's names ({', '.join(names)}) cover none of "
                        f"{', '.join(hostnames)}", code="certificate_names_mismatch")
    return CheckedCertificate(
        chain_pem=b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain),
        key_pem=key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()),
        names=names, issuer=_issuer(leaf), not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc, fingerprint=fingerprint(leaf), covered=covered,
        uncovered=tuple(host for host in hostnames if host not in covered))


def _when(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _as_bytes(pem: str | bytes, what: str, code: str) -> bytes:
    raw = pem.encode() if isinstance(pem, str) else pem
    if not isinstance(raw, bytes) or not raw.strip():
        raise UserError(f"the {what} is empty", code=code)
    if len(raw) > MAX_PEM_BYTES:
        raise UserError(f"the {what} is larger than {MAX_PEM_BYTES // 1024} KiB", code=code)
    return raw


def _load_key(key_bytes: bytes) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(key_bytes, password=None)
    except TypeError:
        raise UserError("the key is encrypted: give it without a passphrase (openssl pkey "
                        "-in KEY -out PLAIN)", code="key_invalid") from None
    except (ValueError, x509.UnsupportedGeneralNameType):
        raise UserError("the key is not a PEM private key (-----BEGIN PRIVATE KEY-----)",
                        code="key_invalid") from None
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size >= MIN_RSA_BITS:
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, SUPPORTED_CURVES):
        return key
    raise UserError(f"unsupported key: use RSA of {MIN_RSA_BITS} bits or more, or ECDSA on "
                    "P-256, P-384 or P-521", code="key_unsupported")


def _dns_names(leaf: x509.Certificate) -> tuple[str, ...]:
    try:
        extension = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        names: list[str] = []
    else:
        names = extension.value.get_values_for_type(x509.DNSName)
    if not names:
        raise UserError("the certificate names no DNS name in subjectAltName (browsers "
                        "ignore the common name)", code="certificate_no_names")
    return tuple(name.lower() for name in names)


def _issuer(leaf: x509.Certificate) -> str:
    common = leaf.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    if common:
        return str(common[0].value)
    return leaf.issuer.rfc4514_string()
