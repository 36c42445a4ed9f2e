"""Bounce sniffing: does a message look like a mail system's report, or like a person's reply?"""

from __future__ import annotations

import re
from email.message import Message
from functools import cached_property
from typing import Final

from worker.bounces.mime_headers import header, header_all, sender_addresses

# What a bounce looks like from the outside.  Local parts of daemon senders:
_DAEMON: Final = re.compile(
    r"^(mailer[-_.]?daemon|mail[-_.]?daemon|postmaster|mdaemon|mail[-_.]?delivery"
    r"|microsoftexchange[0-9a-f]{0,40})@",
    re.IGNORECASE,
)
_DAEMON_NAME: Final = re.compile(
    r"mail delivery (system|subsystem|service)|mailer.?daemon", re.IGNORECASE
)
# Subjects MTAs put on failure notices, in the languages our customers' servers speak.
_BOUNCE_SUBJECTS: Final = re.compile(
    "|".join(
        (
            r"undeliver(able|ed)",
            r"delivery status notification",
            r"mail delivery fail",
            r"delivery fail",
            r"failure notice",
            r"returned mail",
            r"returned to sender",
            r"could not be delivered",
            r"non[- ]?delivery",
            r"delivery has failed",
            r"message status - undeliverable",
            r"delivery problem",
            r"delivery report",
            r"delivery (?:status )?warning",
            r"delayed mail",
            r"warning: could not send",
            r"delivery (?:has been |is )?delayed",
            r"unzustellbar",
            r"non remis",
            r"non recapitabile",
            r"no se pudo entregar",
            r"onbestelbaar",
            r"無法傳遞",
            r"无法投递",
            r"未送達",
            r"退信",
            r"退回",
            r"投递失败",
            r"傳遞失敗",
            r"配信不能",
            r"配信エラー",
            r"전송 실패",
        )
    ),
    re.IGNORECASE,
)
# Replies a human (or their vacation robot) sent: never bounces, however they are worded.
_AUTO_REPLY_SUBJECTS: Final = re.compile(
    "|".join(
        (
            r"out of (the )?office",
            r"automatic reply",
            r"auto(matic)?[- ]?(reply|response)",
            r"^auto:",
            r"vacation",
            r"abwesenheit",
            r"r[ée]ponse automatique",
            r"absence",
            r"respuesta autom[áa]tica",
            r"自動回覆",
            r"自动回复",
            r"自動応答",
            r"不在",
            r"please confirm",
            r"confirm your (message|email)",
            r"verification required",
        )
    ),
    re.IGNORECASE,
)
_AUTO_REPLY_HEADERS: Final = (
    "x-autoreply",
    "x-autorespond",
    "x-autoresponder",
    "x-boxbe-challenge",
    "x-tmda-confirm",
)
_REPLY_PREFIX: Final = re.compile(
    r"^\s*(re|fwd?|aw|wg|tr|sv|回覆|转发|轉寄)\s*[:：]", re.IGNORECASE
)
# Read receipts are reports too, but about a person reading: never bounces.  Complaints
# (feedback-report) are parsed by parse.py before this gate is asked.
_OTHER_REPORTS: Final = frozenset({"feedback-report", "disposition-notification"})


def is_auto_reply(msg: Message) -> bool:
    """A vacation or challenge robot's reply, by its headers or subject."""
    if header(msg, "auto-submitted").lower().startswith("auto-replied"):
        return True
    if any(msg.get(name) is not None for name in _AUTO_REPLY_HEADERS):
        return True
    if header(msg, "precedence").lower() in ("auto_reply", "auto-reply"):
        return True
    return bool(_AUTO_REPLY_SUBJECTS.search(header(msg, "subject")))


def is_daemon(msg: Message) -> bool:
    """Sent by a mail system rather than a person: the strongest outside sign of a bounce."""
    return _daemon(msg, sender_addresses(msg))


def _daemon(msg: Message, senders: tuple[str, ...]) -> bool:
    if msg.get("x-failed-recipients") is not None:
        return True
    if any(_DAEMON.match(a) for a in senders):
        return True
    return any(_DAEMON_NAME.search(s) for s in header_all(msg, "from"))


def report_type(msg: Message) -> str:
    """The report-type of a multipart/report ("delivery-status", "feedback-report"), or ""."""
    if msg.get_content_type() != "multipart/report":
        return ""
    try:
        return str(msg.get_param("report-type", "", header="content-type") or "").lower()
    except Exception:
        return ""


def looks_like_bounce(msg: Message) -> bool:
    """Gate for the heuristic detectors, which otherwise fire on ordinary prose.

    Exim and Postfix mark real bounces Auto-Submitted: auto-replied too, so an auto-reply
    marker only disqualifies a message that a mail system did not send.  A null Return-Path
    alone is weaker: RFC 3834 asks vacation responders to use one as well."""
    return Sniff(msg).bounce


class Sniff:
    """What the outside of one message says; each answer is worked out once, when asked."""

    def __init__(self, msg: Message) -> None:
        self.msg = msg

    @cached_property
    def senders(self) -> tuple[str, ...]:
        """The From: and Sender: addresses."""
        return sender_addresses(self.msg)

    @cached_property
    def report_type(self) -> str:
        return report_type(self.msg)

    @cached_property
    def daemon(self) -> bool:
        return _daemon(self.msg, self.senders)

    @cached_property
    def auto_reply(self) -> bool:
        return is_auto_reply(self.msg)

    @cached_property
    def bounce(self) -> bool:
        """looks_like_bounce()."""
        msg = self.msg
        kind = self.report_type
        if kind in _OTHER_REPORTS:
            return False  # an ARF spam complaint or a read receipt: other handlers' business
        daemon = self.daemon
        if not daemon and self.auto_reply:
            return False
        subject = header(msg, "subject")
        null_sender = header(msg, "return-path").replace(" ", "") == "<>"
        return daemon or bounce_subject(subject) or null_sender or (kind == "delivery-status")


def bounce_subject(subject: str) -> bool:
    """A failure notice's subject.  Behind a reply prefix, only when the failure words
    follow the original subject ("RE: <subject> : non remis (delivery failed)", as some
    gateways write it): a person answering a bounce leaves them first ("RE: Undeliverable:")."""
    found = _BOUNCE_SUBJECTS.search(subject)
    if found is None:
        return False
    rest = subject
    while (prefix := _REPLY_PREFIX.match(rest)) is not None:
        rest = rest[prefix.end() :]
    if rest is subject:
        return True
    first = _BOUNCE_SUBJECTS.search(rest)
    return first is not None and len(rest[: first.start()].strip(" :-([")) >= 8
