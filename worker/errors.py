"""The exception tree: what is retried, what is final, and what is our own misconfiguration."""

from __future__ import annotations


class NoticeError(Exception):
    """Base of every error the worker raises on purpose."""


class TransientError(NoticeError):
    """Worth trying again later: the relay or the network may recover."""

    def __init__(self, message: str, *, code: int | None = None, unknown_outcome: bool = False):
        super().__init__(message)
        self.code = code
        #: True when the failure came after the final "." of DATA: the relay may have
        #: accepted the mail, so a retry can produce a duplicate (same Message-ID).
        self.unknown_outcome = unknown_outcome


class PermanentError(NoticeError):
    """Trying again will not help: the notice fails (or bounces) without a retry."""

    def __init__(self, message: str, *, code: int | None = None, status: str | None = None):
        super().__init__(message)
        self.code = code
        self.status = status


class RecipientRefused(PermanentError):
    """The relay refused the recipient with a 5xx reply at RCPT: the notice bounced."""


class Throttled(TransientError):
    """The receiving side asked us to slow down (a rate or volume limit, not a failure):
    tried again soon, without using up an attempt, at a lower rate for that domain."""


class SMTPTimeout(TransientError, TimeoutError):
    """The relay did not answer in time."""


class SMTPUnavailable(TransientError, ConnectionError):
    """The relay could not be reached, or it dropped the connection."""


class InvalidEvent(NoticeError, ValueError):
    """A failed-charge event that breaks the contract; it is dead-lettered, never retried."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        #: The event field at fault ("" when the payload as a whole is wrong).
        self.field = field
        self.reason = f"{field}: {message}" if field else message
        #: Every problem of the event, each "field: message" (one unless built by ``of``).
        self.reasons = [self.reason]

    @classmethod
    def of(cls, problems: list[InvalidEvent]) -> InvalidEvent:
        """One error for every problem of an event: the first names the field, the
        reason lists them all ("amount: …; currency: …")."""
        if len(problems) == 1:
            return problems[0]
        combined = cls(problems[0].field, problems[0].reason)
        combined.reasons = [p.reason for p in problems]
        combined.reason = "; ".join(combined.reasons)
        combined.args = (combined.reason,)
        return combined


class TemplateProblem(NoticeError):
    """A notice template failed to render (a bug in the templates, not in the event)."""


class StoreUnavailable(NoticeError, ConnectionError):
    """The tracking store cannot be reached (or its URL cannot even be used)."""


class ConfigurationError(Exception):
    """Our own settings are wrong (bad SMTP_URL, refused credentials, missing secret).

    Deliberately outside NoticeError: no notice is at fault, retrying each notice would
    only burn the queue, and an operator has to act.
    """
