"""qmail and its descendants (netqmail, vpopmail sites, old Yahoo! Mail): "<rcpt>:" paragraphs."""

from __future__ import annotations

import re
from typing import Final

from worker.bounces.mta.base import Family, Format, compile_phrases, format_detector, header_claim

# qmail-send opens with "Hi. This is the qmail-send program at host." and lists "<rcpt>:"
# followed by its own words, then the remote reply after "Remote host said:"; it never sends
# a DSN part.  Its own verdicts: "Sorry, no mailbox here by that name. (#5.1.1)" and
# chkuser's "(#5.1.1 - chkusr)" (unknown user, at RCPT), "Sorry, I couldn't find any host
# named" / "Sorry, I couldn't find any host by that name" (no such domain), "This address no
# longer accepts mail" (gone), "Sorry. Although I'm listed as a best-preference MX ..." (a
# misconfigured MX), "I'm not going to try again; this message has been in the queue too
# long" (expired), "Connected to X but sender was rejected" (our sender, at MAIL), "does not
# like recipient" (at RCPT), "failed after I sent the message" (at DATA).  vpopmail says
# "Sorry, user over quota" or "mailbox is full" with (#5.1.1): a full mailbox, not a bad one.
_FORMAT: Final = Format(
    start=re.compile(
        r"this is the qmail-send program|wasn'?t able to deliver your message to"
        r" the following address|unable to deliver your message to the following"
        r" address",
        re.I,
    ),
    end=re.compile(r"^\s*-+\s*below this line is a copy|^\s*-+\s*original message", re.I | re.M),
)
# qmail-remote names the stage in its own sentences ("Connected to host but greeting
# failed." / "but my name was rejected." / "but sender was rejected.", "host does not like
# recipient.", "failed on DATA command", "failed after I sent the message"), and qmail-send
# appends "I'm not going to try again; this message has been in the queue too long." to the
# last temporary error: that error is the cause, the expiry only when nothing else is said.
# qmail-local: "Sorry, no mailbox here by that name. (#5.1.1)", "disk quota exceeded";
# qmail-smtpd: "message size exceeds my databytes limit"; qmail-ldap: "Mailaddress is
# administratively disabled" (5.2.1), "exeeded the maximum size the user accepts" (5.2.3),
# and LDAP lookups or homedir creation that failed (their system).
PHRASES: Final = compile_phrases(
    (
        (
            "mailboxfull",
            (r"user over quota", r"mailbox is full", r"over quota", r"disk quota exceeded"),
        ),
        ("systemfull", (r"mailbox unavailable \(not enough free space\)",)),
        ("mesgtoobig", (r"exceeds my databytes limit",)),
        ("exceedlimit", (r"exee?ded the maximum size the user accepts",)),
        ("suspend", (r"mailaddress is administrativ\w* disabled",)),
        ("hostunknown", (r"couldn'?t find any host (?:named|by that name)",)),
        ("notaccept", (r"couldn'?t find a mail exchanger or ip address",)),
        (
            "userunknown",
            (
                r"no mailbox here by that name",
                r"#5\.1\.1 - chkuse?r",
                r"this address no longer accepts mail",
            ),
        ),
        (
            "systemerror",
            (
                r"unable to chdir to maildir",
                r"temporary_error",
                r"\bldap (?:server|attribute|lookup)|on ldap server|homedir creat",
                r"error while executing qmail-forward",
                r"bad interpreter",
            ),
        ),
        (
            "networkerror",
            (
                r"couldn'?t connect to host|connection refused",
                r"wasn'?t able to establish an smtp connection",
                r"although i'?m listed as a best-preference mx",
            ),
        ),
        ("expired", (r"this message has been in the queue too long",)),
    )
)
FAMILY: Final = Family(
    "qmail",
    header_claim(
        body=r"this is the qmail-send program|^\s*-+\s*below this line is a copy",
        received=r"\(qmail \d+ invoked",
    ),
    format_detector(_FORMAT),
    PHRASES,
)
