"""DKIM: sign outgoing messages (RFC 6376 relaxed/relaxed, RSA and optionally Ed25519 per
RFC 8463), make keys, and say what to publish in DNS.

Signing is split so the costly part can run elsewhere (see signing_pool): `prepare` parses,
canonicalises and hashes in this process (tens of microseconds), `SigningKeys.sign` turns each
32-byte header digest into a signature (the RSA private-key operation, hundreds), and `finish`
prepends the DKIM-Signature headers. dkimpy's verifier checks the result in the tests.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import dkim
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from dkim.canonicalization import CanonicalizationPolicy

from campaign_engine.core.config import DkimSettings
from campaign_engine.core.errors import ConfigError

__all__ = [
    "SIGNED_HEADERS",
    "DkimSigner",
    "KeyPair",
    "Prepared",
    "SigningKeys",
    "dkim_txt_value",
    "dns_record",
    "ed25519_txt_value",
    "generate_ed25519_key",
    "generate_key",
    "public_key_of",
    "valid_domain",
    "valid_selector",
]

# Signed when present (only the ones the message has). List-* are the RFC 8058 one-click
# unsubscribe headers Gmail and Yahoo require the signature to cover.
SIGNED_HEADERS: tuple[bytes, ...] = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"list-id",
    b"mime-version",
    b"content-type",
)
_RELAXED = CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_SELECTOR = re.compile(r"^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$")
_WSP_RUN = re.compile(rb"[ \t]+")
_SPACE_RUN = re.compile(rb"  +")
RSA_SHA256 = b"rsa-sha256"
ED25519_SHA256 = b"ed25519-sha256"


@dataclass(frozen=True)
class SigningKeys:
    """The private keys, loaded; picklable as PEM so a worker process can load them too."""

    rsa_pem: bytes
    ed25519_pem: bytes | None = None

    def loaded(self) -> tuple[rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey | None]:
        return _load_rsa(self.rsa_pem), _load_ed25519(self.ed25519_pem)


def sign_digests(
    keys: tuple[rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey | None], digests: list[bytes]
) -> list[bytes]:
    """One signature per header digest, in order: RSA first, then Ed25519 when configured."""
    rsa_key, ed_key = keys
    signatures = [rsa_key.sign(digests[0], padding.PKCS1v15(), Prehashed(hashes.SHA256()))]
    if ed_key is not None:
        # RFC 8463: the Ed25519 signature is over the SHA-256 digest of the header data.
        signatures.append(ed_key.sign(digests[1]))
    return signatures


@dataclass(frozen=True)
class Prepared:
    """A message canonicalised and hashed: one (header value up to b=, digest) per key."""

    raw: bytes
    values: list[bytes]
    digests: list[bytes]


class DkimSigner:
    """Signs raw RFC 5322 messages: relaxed/relaxed, rsa-sha256, plus ed25519-sha256 when an
    Ed25519 key is given (dual signing, RFC 8463: receivers check the ones they know)."""

    def __init__(
        self,
        selector: str,
        domain: str,
        private_key: bytes,
        ed25519_selector: str = "",
        ed25519_key: bytes | None = None,
    ) -> None:
        self.domain = domain.encode("ascii")
        self.keys = SigningKeys(private_key, ed25519_key)
        self._loaded = self.keys.loaded()
        self._algorithms = [(RSA_SHA256, selector.encode("ascii"))]
        if ed25519_key is not None:
            if not ed25519_selector:
                raise ConfigError("[dkim] ed25519_selector is not set (needed with its key)")
            self._algorithms.append((ED25519_SHA256, ed25519_selector.encode("ascii")))

    @classmethod
    def from_settings(cls, settings: DkimSettings) -> DkimSigner:
        key = _read_key(settings.private_key_path, "private_key_path")
        ed_key = None
        if settings.ed25519_private_key_path is not None:
            ed_key = _read_key(settings.ed25519_private_key_path, "ed25519_private_key_path")
        return cls(settings.selector, settings.domain, key, settings.ed25519_selector, ed_key)

    def sign(self, raw: bytes) -> bytes:
        """The message with its DKIM-Signature header(s) prepended (all in this process)."""
        return self.sign_prepared(self.prepare(raw))

    def sign_prepared(self, prepared: Prepared) -> bytes:
        return self.finish(prepared, sign_digests(self._loaded, prepared.digests))

    def prepare(self, raw: bytes) -> Prepared:
        head, separator, body = raw.partition(b"\r\n\r\n")
        if not separator:
            body = b""
        selected = _select_headers(head)
        names = [name for name in SIGNED_HEADERS if name in selected]
        signed = b"".join(selected[name] for name in names)
        body_hash = base64.b64encode(hashlib.sha256(_relaxed_body(body)).digest())
        values, digests = [], []
        for algorithm, selector in self._algorithms:
            value = (
                b" v=1; a=" + algorithm + b"; c=relaxed/relaxed; d=" + self.domain
                + b"; s=" + selector + b";\r\n\th=" + b":".join(names)
                + b";\r\n\tbh=" + body_hash + b";\r\n\tb="
            )  # fmt: skip
            own = b"dkim-signature:" + _relaxed_value(value)  # no CRLF: RFC 6376 3.7
            values.append(value)
            digests.append(hashlib.sha256(signed + own).digest())
        return Prepared(raw, values, digests)

    def finish(self, prepared: Prepared, signatures: list[bytes]) -> bytes:
        headers = []
        for value, signature in zip(prepared.values, signatures, strict=True):
            b64 = base64.b64encode(signature)
            folded = b"\r\n\t".join(b64[i : i + 76] for i in range(0, len(b64), 76))
            headers.append(b"DKIM-Signature:" + value + folded + b"\r\n")
        return b"".join(headers) + prepared.raw


def _select_headers(head: bytes) -> dict[bytes, bytes]:
    """Relaxed canonical form of the last instance of each header we may sign, by name."""
    if b"\n" in head.replace(b"\r\n", b""):  # bare LF line ends: let dkimpy parse
        parsed, _ = dkim.rfc822_parse(head + b"\r\n\r\n")
        fields = [(name, value) for name, value in parsed]
    else:
        fields = []
        for line in head.split(b"\r\n"):
            if line[:1] in (b" ", b"\t") and fields:
                fields[-1] = (fields[-1][0], fields[-1][1] + line)  # unfold: drop the CRLF
            else:
                name, _, value = line.partition(b":")
                fields.append((name, value))
    selected = {}
    for name, value in fields:
        key = name.rstrip(b" \t").lower()
        if key in SIGNED_HEADERS:
            selected[key] = key + b":" + _relaxed_value(value) + b"\r\n"
    return selected


def _relaxed_value(value: bytes) -> bytes:
    """RFC 6376 3.4.2: unfold, runs of WSP to one space, no WSP at either end."""
    value = value.replace(b"\r\n", b"")
    if b"\t" in value or b"  " in value:
        value = _WSP_RUN.sub(b" ", value)
    return value.strip(b" ")


def _relaxed_body(body: bytes) -> bytes:
    """RFC 6376 relaxed body canonicalisation. build_mime's quoted-printable bodies have no
    tabs and no trailing whitespace (quoted-printable encodes it), so they only need runs of
    spaces made one (data such as an empty name leaves "and  looks") and their trailing empty
    lines trimmed: C-speed scans and one regular expression that matches only the runs, instead
    of dkimpy's, which match every space. Anything else goes through dkimpy."""
    bare = body.replace(b"\r\n", b"")
    if b"\t" in body or b" \r\n" in body or b"\r" in bare or b"\n" in bare:
        canonical: bytes = _RELAXED.canonicalize_body(body)
        return canonical
    if b"  " in body:
        body = _SPACE_RUN.sub(b" ", body)
    trimmed = body.rstrip(b"\r\n")
    return trimmed + b"\r\n" if trimmed else b""


def _read_key(path: Path | None, setting: str) -> bytes:
    if path is None:
        raise ConfigError(f"[dkim] {setting} is not set")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"[dkim] {setting} {path}: {exc.strerror}; create one with "
            "`campaign dkim keygen --out FILE`"
        ) from exc


def _load_rsa(pem: bytes) -> rsa.RSAPrivateKey:
    key = _load_pem(pem, "DKIM private key")
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError("DKIM private key is not an RSA key (k=rsa)")
    return key


def _load_ed25519(pem: bytes | None) -> ed25519.Ed25519PrivateKey | None:
    if pem is None:
        return None
    key = _load_pem(pem, "DKIM Ed25519 private key")
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ConfigError("[dkim] ed25519_private_key_path is not an Ed25519 key (k=ed25519)")
    return key


def _load_pem(pem: bytes, what: str) -> object:
    try:
        return serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{what} is not a readable PEM key: {exc}") from exc


@dataclass(frozen=True)
class KeyPair:
    private_pem: bytes
    public_b64: str  # the p= value of the DNS record


def generate_key(bits: int = 2048) -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return KeyPair(pem, public_key_of(pem))


def generate_ed25519_key() -> KeyPair:
    """An Ed25519 key (PKCS#8 PEM) and its p= value: the raw 32-byte public key (RFC 8463)."""
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return KeyPair(pem, base64.b64encode(raw).decode("ascii"))


def public_key_of(private_pem: bytes) -> str:
    """Base64 DER SubjectPublicKeyInfo of a PEM private key (ValueError when not RSA PEM)."""
    key = serialization.load_pem_private_key(private_pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode("ascii")


def dns_record(selector: str, domain: str, public_b64: str, key_type: str = "rsa") -> str:
    """The TXT record to publish. Long values are split into 255-byte strings, as DNS needs."""
    value = f"v=DKIM1; k={key_type}; p={public_b64}"
    chunks = " ".join(f'"{value[i : i + 255]}"' for i in range(0, len(value), 255))
    return f"{selector}._domainkey.{domain}. IN TXT ( {chunks} )"


def valid_domain(domain: str) -> bool:
    return bool(_DOMAIN.match(domain.lower()))


def valid_selector(selector: str) -> bool:
    return bool(_SELECTOR.match(selector.lower()))


def dkim_txt_value(public_b64: str) -> bytes:
    """The DNS TXT value as a verifier sees it (for dkim.verify's dnsfunc)."""
    return f"v=DKIM1; k=rsa; p={public_b64}".encode("ascii")


def ed25519_txt_value(public_b64: str) -> bytes:
    """The Ed25519 DNS TXT value as a verifier sees it."""
    return f"v=DKIM1; k=ed25519; p={public_b64}".encode("ascii")
