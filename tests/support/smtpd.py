"""A recording SMTP handler for aiosmtpd: every command kept, refusals on request."""

from __future__ import annotations

from typing import Any


class Recorder:
    """An aiosmtpd handler that records every command and can be told to refuse some."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.mail_options: list[list[str]] = []
        self.rcpt_options: list[list[str]] = []
        self.rcpt_attempts: list[str] = []
        #: address → reply for RCPT, e.g. {"nobody@example.com": "550 5.1.1 No such user"}
        self.refuse_rcpt: dict[str, str] = {}
        self.data_reply: str | None = None

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.mail_options.append(list(options))
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.rcpt_attempts.append(address)
        self.rcpt_options.append(list(options))
        if address in self.refuse_rcpt:
            return self.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply:
            return self.data_reply
        self.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        )
        return "250 2.0.0 Ok: queued"
