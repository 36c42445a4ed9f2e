"""Email address checks and masking: what may go into an SMTP envelope, a header or a log."""

from __future__ import annotations

import re

from worker.errors import InvalidEvent

# RFC 5321 limits: 64 octets of local part, 255 of domain, 254 for the whole path.
_LOCAL_MAX = 64
_ADDRESS_MAX = 254
# Dot-atom local parts only: quoted local parts ("a b"@x) are legal but many relays and
# mailbox providers refuse them, and they make header injection easier to hide.
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def normalize_address(value: object, field: str = "admin_email") -> str:
    """Return the address in the form we send to, or raise InvalidEvent naming ``field``.

    Internationalized domains are converted to their ASCII (IDNA) form, which every relay
    accepts; a non-ASCII local part needs SMTPUTF8 end to end, which we cannot promise, so
    it is refused with a clear reason instead of bouncing later.
    """
    if not isinstance(value, str):
        raise InvalidEvent(field, "must be a string holding one email address")
    address = value.strip()
    if not address:
        raise InvalidEvent(field, "is empty")
    if any(ord(c) < 32 or ord(c) == 127 for c in address):
        raise InvalidEvent(field, "contains control characters (CR, LF, NUL...)")
    if len(address) > _ADDRESS_MAX * 4:
        raise InvalidEvent(field, f"is longer than {_ADDRESS_MAX} characters")
    if address.count("@") != 1:
        raise InvalidEvent(field, "is not a single address of the form name@domain")
    local, domain = address.split("@")
    if not local.isascii():
        raise InvalidEvent(field, "has a non-ASCII local part (needs SMTPUTF8); not supported")
    if not _LOCAL.match(local) or len(local) > _LOCAL_MAX:
        raise InvalidEvent(field, "has an invalid local part")
    domain = domain.rstrip(".").lower()
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise InvalidEvent(field, "has a domain that is not a valid IDN") from None
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise InvalidEvent(field, "has an invalid domain")
    if labels[-1].isdigit():
        raise InvalidEvent(field, "has a numeric top-level domain")
    normalized = f"{local}@{domain}"
    if len(normalized) > _ADDRESS_MAX:
        raise InvalidEvent(field, f"is longer than {_ADDRESS_MAX} characters")
    return normalized


def mask(address: str | None) -> str:
    """``alice@contoso.com`` → ``a***@contoso.com``: enough for ops to recognise, not to harvest."""
    if not address:
        return ""
    local, at, domain = address.rpartition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def key(address: str) -> str:
    """The lookup key of an address: lower-cased. Local parts are case-sensitive in theory,
    but no mailbox provider in practice treats Alice@ and alice@ as different people."""
    return address.strip().lower()
