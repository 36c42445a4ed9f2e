"""aiosmtpd, lenient where real mail servers need it: ESMTP parameters accepted, DSN offered."""

from __future__ import annotations

import collections
from collections.abc import Sequence
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from worker.net import free_port

#: RFC 5321's 512-octet command line plus the 500 octets RFC 3461 adds for DSN parameters.
DSN_COMMAND_LIMIT = 1012
#: Parameters aiosmtpd itself understands; it checks them as usual.
_NATIVE = frozenset({"BODY", "SMTPUTF8", "SIZE"})


class LenientSMTP(SMTP):
    """Accepts the ESMTP parameters that relays send with bounces and DSNs.

    Stock aiosmtpd answers 555 to any MAIL or RCPT parameter it does not implement, but a
    relay forwarding a bounce sends ENVID, RET, NOTIFY and ORCPT (RFC 3461), AUTH= and
    more: refusing them would refuse the bounce. They stay in envelope.mail_options /
    rcpt_options for the handler to read.
    """

    def __init__(self, handler: Any, *, advertise_dsn: bool = False, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.advertise_dsn = advertise_dsn
        # RFC 3461 §4: a server offering DSN must take command lines 500 octets longer than
        # RFC 5321's 512 (ORCPT repeats the address). aiosmtpd answers "500 Command line too
        # long" at 512, refusing a DSN-carrying RCPT for a long, valid address.
        self.command_size_limits = collections.defaultdict(lambda: DSN_COMMAND_LIMIT)

    def _getparams(self, params: Sequence[str]) -> dict[str, str | bool] | None:
        parsed = super()._getparams(params)
        if parsed is None:
            return None
        return {k: v for k, v in parsed.items() if k in _NATIVE}

    async def push(self, status: Any) -> None:
        # Offer DSN (RFC 3461) in the EHLO reply, just before its last line.
        if self.advertise_dsn and status == "250 HELP":
            await super().push("250-DSN")
        await super().push(status)


class ServerThread(Controller):
    """An aiosmtpd server in a thread, built on LenientSMTP."""

    def __init__(self, handler: Any, hostname: str = "127.0.0.1", port: int = 0,
                 advertise_dsn: bool = False, **smtp_kwargs: Any) -> None:
        super().__init__(handler, hostname=hostname, port=port or free_port(hostname),
                         **smtp_kwargs)
        self.advertise_dsn = advertise_dsn

    def factory(self) -> SMTP:
        return LenientSMTP(self.handler, advertise_dsn=self.advertise_dsn, **self.SMTP_kwargs)

    @property
    def url(self) -> str:
        return f"smtp://{self.hostname}:{self.port}"
