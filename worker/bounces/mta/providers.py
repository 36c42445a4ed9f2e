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
# Orange / Wanadoo and La Poste (French ISPs) end each reply with a code: "OFR_999",
# "OFR006_102", "LPN105_104", "OUK_513"; the last three digits are the reason.  102/103,
# 401, 510 and 999 refuse our IP ("Service refuse. Veuillez essayer plus tard"); 104 is too
# many connections; 305/402 authentication; 403/405/415/421 an invalid sender (ours);
# 416/418 "at least one invalid recipient"; 417 full; 420 archived and 426 blocked
# accounts; 505 their system; 506 "mail rejete" (spam filter); 514 too big; 630 "client
# host rejected" (local policy).  105, 108, 109, 201, 423, 424 and 513 say only "try later".
_ORANGE_CODE: Final = r"\b(?:ofr|lpn|ouk)\d*[_-]"
ORANGE: Final = Host(
    "orange",
    re.compile(
        r"(?:^|\.)(?:orange\.fr|wanadoo\.fr|laposte\.net|"
        r"francetelecom\.fr)$",
        re.I,
    ),
    compile_phrases(
        (
            ("userunknown", (_ORANGE_CODE + r"41[68]\b", r"destinataire invalide")),
            ("mailboxfull", (_ORANGE_CODE + r"417\b",)),
            (
                "suspend",
                (
                    _ORANGE_CODE + r"(?:420|42[56])\b",
                    r"recipient account is blocked|compte du destinataire est bloque",
                ),
            ),
            ("rejected", (_ORANGE_CODE + r"(?:403|405|415|421)\b",)),
            ("securityerror", (_ORANGE_CODE + r"(?:305|402)\b",)),
            ("spamdetected", (_ORANGE_CODE + r"506\b", r"mail rejete")),
            ("mesgtoobig", (_ORANGE_CODE + r"514\b",)),
            ("systemerror", (_ORANGE_CODE + r"505\b",)),
            ("policyviolation", (_ORANGE_CODE + r"630\b",)),
            ("toomanyconn", (_ORANGE_CODE + r"104\b",)),
            ("blocked", (_ORANGE_CODE + r"(?:102|103|401|510|999)\b",)),
            ("undefined", (_ORANGE_CODE + r"(?:105|108|109|201|423|424|513)\b",)),
        )
    ),
)
# GoDaddy (secureserver.net) documents its bounce codes: IB401 authentication refused on
# its inbound servers; IB501/IB502 a blank or IP-literal From: (our message breaks RFC
# 5322); IB506 our From: domain is invalid; IB508 our SPF; IB108 no reverse DNS for our IP;
# IB212 spam content, IB705 a virus; IB605 too many recipients and IB007 too many sessions;
# IB101, IB504, IB510, IB607 our volume per hour or session; IB110-IB113 our IP blocked
# for spam or invalid recipients, IB104-IB106 Spamhaus lists, "RBL Reject" its own list;
# IB103 a poor Cloudmark reputation.  In words: "Account storage limit" (full), "Account
# disabled", "Recipient not found" / "Account does not exist".
GODADDY: Final = Host(
    "godaddy",
    re.compile(r"(?:^|\.)secureserver\.net$", re.I),
    compile_phrases(
        (
            ("securityerror", (r"\bib401\b",)),
            ("notcompliantrfc", (r"\bib50[12]\b",)),
            ("rejected", (r"\bib506\b",)),
            ("authfailure", (r"\bib508\b",)),
            ("requireptr", (r"\bib108\b",)),
            ("spamdetected", (r"\bib212\b", r"message rejected for spam or virus content")),
            ("virusdetected", (r"\bib705\b",)),
            ("toomanyconn", (r"\bib(?:605|007)\b",)),
            ("speeding", (r"\bib(?:101|504|510|607)\b",)),
            ("badreputation", (r"\bib103\b",)),
            ("blocked", (r"\bib(?:11[0-3]|10[4-6])\b", r"spamhaus\.org", r"rbl reject")),
            ("mailboxfull", (r"account storage limit",)),
            ("suspend", (r"account disabled",)),
            ("userunknown", (r"recipient not found", r"account does not exist")),
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
