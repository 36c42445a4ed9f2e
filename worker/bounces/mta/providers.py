"""Receiving providers' documented reply wordings: Apple, Cox, Orange, GoDaddy, Tencent, others."""

from __future__ import annotations

import re
from typing import Final

from worker.bounces.mta.base import Host, compile_phrases

# iCloud: "5.1.6 recipient no longer on server" (moved away), "user is over quota" (full),
# "[CS01] Message rejected due to local policy" and "[HM08]" (policy), "5.7.1 <x>: user does
# not exist" after a spam check is still an unknown user.
APPLE: Final = Host(
    "apple",
    re.compile(r"(?:^|\.)(?:icloud\.com|me\.com|mac\.com|apple\.com)$", re.I),
    compile_phrases(
        (
            ("hasmoved", (r"recipient no longer on server",)),
            ("mailboxfull", (r"user is over quota|mailbox is full",)),
            ("policyviolation", (r"\[cs0\d\]|\[hm0\d\]|message rejected due to local policy",)),
            ("userunknown", (r"user does not exist|no such user",)),
        )
    ),
)
# Cox publishes AUP# codes: CXBL and CDRBL (our IP on a blocklist), CXDNS (no reverse DNS),
# CXSNDR/CXSMTP (our sender), CXCNCT / CXMXRT (too many connections or messages).
COX: Final = Host(
    "cox",
    re.compile(r"(?:^|\.)(?:cox\.net|cloudfilter\.net)$", re.I),
    compile_phrases(
        (
            ("requireptr", (r"aup#cxdns",)),
            ("toomanyconn", (r"aup#(?:cxcnct|cxmxrt|cxrcpt)",)),
            ("blocked", (r"aup#(?:cxbl|cdrbl|ipbl|rbl)", r"aup#\w*bl\b")),
            ("rejected", (r"aup#(?:cxsndr|cxsmtp)",)),
        )
    ),
)
# Charter/Spectrum: the same AUP# scheme; In-1310 limits connections, In-1000 blocks an IP.
SPECTRUM: Final = Host(
    "spectrum",
    re.compile(
        r"(?:^|\.)(?:charter\.net|spectrum\.net|rr\.com|"
        r"twc\.com)$",
        re.I,
    ),
    compile_phrases(
        (
            ("toomanyconn", (r"aup#in-1310", r"aup#(?:out|in)-13\d\d")),
            ("blocked", (r"aup#(?:in|out)-1000", r"aup#(?:in|out)-10[0-9]0")),
            ("requireptr", (r"aup#(?:in|out)-1010",)),
        )
    ),
)
# Orange / Wanadoo and La Poste (French ISPs): OFR_nnn and LPNnnn_nnn codes.  416-418 "at
# least one invalid recipient", 425/426 "the recipient account is blocked", 506 "mail
# rejected" (spam filter), 630 "client host rejected" (local policy), 104 "too many
# connections", 102/103 "IP not allowed".
ORANGE: Final = Host(
    "orange",
    re.compile(
        r"(?:^|\.)(?:orange\.fr|wanadoo\.fr|laposte\.net|"
        r"francetelecom\.fr)$",
        re.I,
    ),
    compile_phrases(
        (
            ("userunknown", (r"(?:ofr|lpn\d*)_41[678]", r"destinataire invalide")),
            (
                "suspend",
                (
                    r"(?:ofr|lpn\d*)_42[56]",
                    r"recipient account is blocked|compte du "
                    r"destinataire est bloque",
                ),
            ),
            ("spamdetected", (r"(?:ofr|lpn\d*)_506", r"mail rejete")),
            ("policyviolation", (r"(?:ofr|lpn\d*)_630",)),
            ("toomanyconn", (r"(?:ofr|lpn\d*)_104\b",)),
            ("blocked", (r"(?:ofr|lpn\d*)_10[23]\b",)),
            ("undefined", (r"(?:ofr|lpn\d*)_108\b", r"service refuse")),
        )
    ),
)
# GoDaddy (secureserver.net) answers with a Spamhaus lookup URL when our IP is listed, and
# with IB4xx/IB5xx codes: IB401/IB501/IB510 blocklisted, IB705 dynamic or PTR-less IPs.
GODADDY: Final = Host(
    "godaddy",
    re.compile(r"(?:^|\.)secureserver\.net$", re.I),
    compile_phrases(
        (
            ("requireptr", (r"\bib705\b",)),
            ("blocked", (r"spamhaus\.org", r"\bib(?:401|501|510|212)\b")),
            ("toomanyconn", (r"\bib(?:103|104|605)\b",)),
            ("userunknown", (r"\bib(?:106|507)\b",)),
        )
    ),
)
# i.ua (Ukraine): "Mailbox is frozen" for a dormant account.
IUA: Final = Host(
    "iua",
    re.compile(r"(?:^|\.)(?:email\.ua|i\.ua)$", re.I),
    compile_phrases(
        (
            ("suspend", (r"mailbox is frozen",)),
            ("userunknown", (r"mailbox (?:is )?not found",)),
        )
    ),
)
# Mimecast: "Host network not allowed" and anti-spoofing refusals are its policies;
# "Invalid Recipient" and "Unknown user" mean the address; "Message is too large".
MIMECAST: Final = Host(
    "mimecast",
    re.compile(r"(?:^|\.)mimecast\.com$", re.I),
    compile_phrases(
        (
            (
                "policyviolation",
                (
                    r"host network not allowed",
                    r"anti-spoofing policy",
                    r"policy",
                    r"envelope rejected",
                ),
            ),
            ("userunknown", (r"invalid recipient|unknown user",)),
            ("mesgtoobig", (r"message is too large",)),
        )
    ),
)
# Tencent (QQ Mail, Exmail): "frequency limited" for IPs, domains and connections (rate),
# "DMARC check failed" (authentication), "Mailbox not found" / "mailbox unavailable" (no
# such user), "Mailbox is full", "Message is too large", "spam"/"content rejected".
TENCENT: Final = Host(
    "tencent",
    re.compile(r"(?:^|\.)(?:qq\.com|exmail\.qq\.com|foxmail\.com)$", re.I),
    compile_phrases(
        (
            (
                "toomanyconn",
                (r"(?:ip|domain|connection|sender) frequency limited", r"frequency limited"),
            ),
            ("authfailure", (r"dmarc check failed|spf check failed|dkim check failed",)),
            ("userunknown", (r"mailbox not found|mailbox unavailable",)),
            ("mailboxfull", (r"mailbox is full",)),
            ("mesgtoobig", (r"message is too large",)),
            ("spamdetected", (r"(?:content|message) (?:is )?(?:rejected|suspected) as spam|spam",)),
        )
    ),
)
HOSTS: Final = (APPLE, COX, SPECTRUM, ORANGE, GODADDY, IUA, MIMECAST, TENCENT)
