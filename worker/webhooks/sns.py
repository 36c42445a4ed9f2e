"""Amazon SNS message verification: the signing certificate, the signature, the topic."""

from __future__ import annotations

import base64
import binascii
import re
import threading
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from worker.webhooks.vocab import Refusal, Refused

#: SNS's own hosts: sns.<region>.amazonaws.com (and .com.cn in the China regions). A
#: certificate or a SubscribeURL anywhere else (an S3 bucket, say) is not SNS's.
SNS_HOST: Final = re.compile(r"^sns\.[a-z]{2}(?:-[a-z]+)+-\d\.amazonaws\.com(?:\.cn)?$")
_CERT_NAME: Final = re.compile(r"^[A-Za-z0-9._-]{1,200}\.pem$")
#: A signing certificate is a few KiB; nothing larger is read.
CERT_MAX_BYTES: Final = 64 * 1024
FETCH_TIMEOUT: Final = 10.0

#: The fields signed, in the order they are signed, per message type (AWS's documented
#: string to sign: "name\nvalue\n" for each field present).
SIGNED_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
    "UnsubscribeConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
_HASHES: Final[Mapping[str, Callable[[], hashes.HashAlgorithm]]] = {
    "1": hashes.SHA1,  # SNS's original signature version; still the default for topics
    "2": hashes.SHA256,
}

#: Fetches a URL's body (the certificate, the SubscribeURL); injectable for tests.
Fetch = Callable[[str], bytes]


def fetch_https(url: str) -> bytes:
    """GET an https URL (certificates verified), at most CERT_MAX_BYTES of its body."""
    if urlsplit(url).scheme != "https":
        raise ValueError("only https is fetched")
    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as reply:  # noqa: S310 (https only)
        return bytes(reply.read(CERT_MAX_BYTES + 1))


def sns_url(url: str) -> bool:
    """An https URL on an SNS host (no user info, default port)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    return (
        parts.scheme == "https"
        and port in (None, 443)
        and parts.username is None
        and bool(SNS_HOST.match(parts.hostname or ""))
    )


class Certificates:
    """Signing certificates by URL: each fetched once and kept, or read from a folder."""

    def __init__(self, cert_dir: str | None = None, fetch: Fetch = fetch_https) -> None:
        self.cert_dir = Path(cert_dir) if cert_dir else None
        self.fetch = fetch
        self._cache: dict[str, rsa.RSAPublicKey] = {}
        self._lock = threading.Lock()

    def key_for(self, url: str) -> rsa.RSAPublicKey:
        if not sns_url(url):
            raise Refused(Refusal.CERT_URL, "the signing certificate URL is not an https SNS host")
        with self._lock:
            cached = self._cache.get(url)
        if cached is not None:
            return cached
        key = self._load(url)
        with self._lock:
            self._cache[url] = key
        return key

    def _load(self, url: str) -> rsa.RSAPublicKey:
        name = urlsplit(url).path.rsplit("/", 1)[-1]
        if not _CERT_NAME.match(name):
            raise Refused(Refusal.CERT_URL, "the signing certificate URL names no .pem file")
        try:
            if self.cert_dir is not None:
                data = (self.cert_dir / name).read_bytes()[: CERT_MAX_BYTES + 1]
            else:
                data = self.fetch(url)
        except OSError as exc:
            raise Refused(
                Refusal.CERT, f"the signing certificate could not be read ({exc})"
            ) from None
        if len(data) > CERT_MAX_BYTES:
            raise Refused(Refusal.CERT, "the signing certificate is too large")
        try:
            key = x509.load_pem_x509_certificate(data).public_key()
        except ValueError:
            raise Refused(
                Refusal.CERT, "the signing certificate is not a PEM certificate"
            ) from None
        if not isinstance(key, rsa.RSAPublicKey):
            raise Refused(Refusal.CERT, "the signing certificate does not hold an RSA key")
        return key


def string_to_sign(message: Mapping[str, Any]) -> bytes:
    fields = SIGNED_FIELDS[str(message.get("Type"))]
    out = []
    for name in fields:
        value = message.get(name)
        if value is None:
            if name == "Subject":
                continue
            raise Refused(Refusal.MALFORMED, f"the SNS message has no {name}")
        out.append(f"{name}\n{value}\n")
    return "".join(out).encode("utf-8")


def verify_message(
    message: Mapping[str, Any], certificates: Certificates, topics: tuple[str, ...]
) -> None:
    """Refuse (raise Refused) an SNS message that is not signed by SNS for an allowed topic.

    The topic is checked first and the certificate last: a message for a topic we do not
    take makes us fetch nothing.
    """
    kind = message.get("Type")
    if kind not in SIGNED_FIELDS or "Signature" not in message:
        raise Refused(
            Refusal.RAW_DELIVERY,
            "not a signed SNS message: raw message delivery carries no signature; "
            "turn it off on the SNS subscription",
        )
    if message.get("TopicArn") not in topics:
        raise Refused(Refusal.TOPIC, "the SNS topic is not in SES_TOPIC_ARNS")
    make_hash = _HASHES.get(str(message.get("SignatureVersion")))
    if make_hash is None:
        raise Refused(Refusal.SIGNATURE, "unknown SNS SignatureVersion")
    try:
        signature = base64.b64decode(str(message["Signature"]), validate=True)
    except (binascii.Error, ValueError):
        raise Refused(Refusal.SIGNATURE, "the SNS signature is not base64") from None
    data = string_to_sign(message)
    key = certificates.key_for(str(message.get("SigningCertURL") or ""))
    try:
        key.verify(signature, data, padding.PKCS1v15(), make_hash())
    except InvalidSignature:
        raise Refused(Refusal.SIGNATURE, "the SNS signature does not verify") from None
