"""Reports read from a notice's words: mail-system layouts, flufl.bounce, MDN refusals, copies."""

from __future__ import annotations

import dataclasses
import re
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32
from typing import Final

from worker.bounces import mime, mta
from worker.bounces.detectors import context_for
from worker.bounces.mta.base import (
    ORIGINAL_MARKER,
    Family,
    Found,
    clean,
    command_in,
    notice_only,
    verdict,
)
from worker.bounces.parse_dsn import address, best_status, reply_code
from worker.bounces.parse_values import Report, one_line
from worker.bounces.reasons import classify, kind_for

# Layouts too plain to try on a notice their family did not claim ("<rcpt>" lines).
_CLAIMED_ONLY: Final = frozenset({"cjk_notice", "japan", "apachejames", "phquery", "imail"})
NO_FAMILY: Final = Family("", lambda msg, text: False, lambda msg, text, exclude: [])

# RFC 5429: a Sieve "reject" (Dovecot's LDA answers an over-quota mailbox the same way)
# sends an MDN whose disposition is "deleted"; a read receipt says "displayed".
_DELETED: Final = re.compile(r"automatic-action\s*/\s*mdn-sent-automatically\s*;\s*deleted", re.I)


def refusal_reports(msg: Message, text: str) -> list[Report]:
    fields = mime.mdn_fields(msg)
    if not _DELETED.search(fields.get("disposition", "")):
        return []
    recipient = address(fields.get("original-recipient")) or address(fields.get("final-recipient"))
    if recipient is None:
        return []
    why = fields.get("disposition", "")
    found = Found(recipient, "failed", one_line(notice_only(text)) or why)
    return [text_report(found, text, "mdn", NO_FAMILY)]


def claiming_family(msg: Message, text: str) -> Family:
    for family in mta.FAMILIES:
        if family.claims(msg, text):
            return family
    return NO_FAMILY


def family_findings(
    msg: Message, text: str, exclude: set[str], first: Family
) -> tuple[Family, list[Found]]:
    """Recipients from the family that claims the message, else from any family whose
    layout matches (relays rewrite the headers that would have named the MTA)."""
    if first is not NO_FAMILY:
        found = first.detect(msg, text, exclude)
        if found:
            return first, found
    for family in mta.FAMILIES:
        if family is first or family.name in _CLAIMED_ONLY:
            continue
        found = family.detect(msg, text, exclude)
        if found:
            return family, found
    cjk = mta.BY_NAME["cjk_notice"]
    return cjk, cjk.detect(msg, text, exclude)


_SUMMARY_WORDS: Final = 200


def notice_summary(text: str) -> str | None:
    """The notice's own words, without the returned message, for a recipient it never names."""
    words = notice_only(text).split()
    return " ".join(words[:_SUMMARY_WORDS]) or None


# sendmail's "(expanded from: <alias>)" and Postfix's "<rcpt> (expanded from <alias>):":
# the address we wrote to was the alias, and it fails with its target.
_EXPANDED: Final = re.compile(r"\(expanded from:?\s*<?([^\s<>()]+@[^\s<>()]+?)>?\s*\)", re.I)


def with_expansions(
    family: Family, found: list[Found], exclude: set[str]
) -> tuple[Family, list[Found]]:
    out = list(found)
    for item in found:
        for alias in _EXPANDED.findall(item.diagnostic or ""):
            addr = clean(alias, exclude)
            if addr and all(f.address != addr for f in out):
                out.append(dataclasses.replace(item, address=addr))
    return family, out


def text_report(item: Found, text: str, source: str, family: Family) -> Report:
    diagnostic = one_line(item.diagnostic or context_for(item.address, text))
    status = best_status(item.status, diagnostic)
    smtp_code = reply_code(diagnostic)
    told = item.reason or verdict(family.phrases, diagnostic)
    command = item.command or command_in(diagnostic)
    reason = classify(
        status,
        smtp_code,
        diagnostic,
        item.action,
        command=command,
        host=item.remote_host,
        told=told,
        domain=item.address.rpartition("@")[2],
    )
    return Report(
        recipient=item.address,
        action=item.action,
        status=status,
        reason=reason,
        kind=kind_for(reason, item.action),
        diagnostic=diagnostic,
        smtp_code=smtp_code,
        original_recipient=None,
        envelope_id=None,
        remote_mta=item.remote_host,
        source=source,
    )


def returned_recipients(
    msg: Message, returned: list[Message], text: str, exclude: set[str]
) -> list[Found]:
    """The To: of the returned message (returned: the header sets of attached copies, or
    else the headers quoted after the notice) as a failure explained by the whole notice and
    its subject, when the notice itself names nobody.  Only a message to one person: with
    several, the notice does not say which failed."""
    values: list[str] = []
    for headers in returned:
        values.extend(mime.header_all(headers, "to"))
    if not values:
        parser = HeaderParser(policy=compat32)
        marker = ORIGINAL_MARKER.search(text)
        if marker is not None:
            quoted = text[marker.end() :].split("\n", 1)[-1].lstrip("\n")
            values.extend(mime.header_all(parser.parsestr(quoted[:20_000]), "to"))
    found = [a for a in mime.addresses(values) if a not in exclude]
    if len(found) != 1:
        return []
    subject = mime.header(msg, "subject")
    diagnostic = one_line(" ".join(x for x in (notice_only(text), subject and f"({subject})") if x))
    return [Found(found[0], "failed", diagnostic)]
