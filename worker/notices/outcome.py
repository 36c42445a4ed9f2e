"""What a send attempt's result does to its notice: sent, bounced, failed or deferred."""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from worker import metrics
from worker.bounces.bounce import Bounce
from worker.errors import (
    ConfigurationError,
    InvalidEvent,
    PermanentError,
    RecipientRefused,
    TemplateProblem,
    Throttled,
    TransientError,
)
from worker.logs import bind
from worker.notices.connection import until_reachable
from worker.notices.limits import RelayLimits
from worker.notices.record import iso
from worker.notices.status import Status, TransitionOutcome
from worker.notices.store import Tracker
from worker.notices.suppressions import Suppressions, apply_bounce
from worker.settings import Settings
from worker.smtp.replies import Accepted, ReplyClass

log = logging.getLogger(__name__)

#: A throttled notice is due again after about this many seconds (the domain's rate, now
#: lower, decides when it actually goes).
THROTTLE_RETRY = 5.0


@dataclass(frozen=True)
class Attempt:
    """One send attempt of one notice, as its claim granted it."""

    notice_id: str
    event_id: str | None
    to: str
    number: int  #: 1 for the first attempt
    lease: str  #: the lease it holds (epoch seconds as written in the record)
    started: float  #: time.perf_counter() when the attempt began


class Outcomes:
    """Records each attempt's result; every change is one atomic store script."""

    def __init__(
        self,
        tracker: Tracker,
        suppressions: Suppressions,
        settings: Settings,
        limits: RelayLimits | None = None,
    ) -> None:
        self.tracker = tracker
        self.suppressions = suppressions
        self.settings = settings
        #: Where a throttled domain's rate is halved (every worker then slows down for it).
        self.limits = limits

    def record(
        self, attempt: Attempt, result: Accepted | BaseException
    ) -> tuple[TransitionOutcome, Status]:
        """The state the result moves the notice to (and whether the store took it)."""
        metrics.SEND_SECONDS.observe(time.perf_counter() - attempt.started)
        with bind(notice_id=attempt.notice_id, event_id=attempt.event_id):
            if isinstance(result, Accepted):
                return self.sent(attempt, result)
            if isinstance(result, RecipientRefused):
                return self.refused(attempt, result)
            if isinstance(result, PermanentError):
                return self.settle(attempt, Status.FAILED, str(result), result.code)
            if isinstance(result, InvalidEvent):
                # The stored event no longer passes (rules tightened since it was accepted):
                # retrying cannot change that; the notice fails with the reason, for a
                # replay after a fix.
                return self.settle(attempt, Status.FAILED, f"invalid event: {result.reason}", None)
            if isinstance(result, ConfigurationError):
                log.critical("sending is misconfigured, notices are being deferred: %s", result)
            elif isinstance(result, RedisError):
                raise result  # the lease brings the notice back; the caller decides
            elif not isinstance(result, TransientError | TemplateProblem):
                # A bug must neither lose the notice nor spin on it: it is retried on the
                # normal schedule, and fails visibly when the schedule runs out.
                log.error("unexpected error sending the notice", exc_info=result)
            return self.retry_or_fail(attempt, result)

    def _write(
        self, attempt: Attempt, target: Status, detail: str, **kwargs: Any
    ) -> tuple[TransitionOutcome, str]:
        """Record what the relay said. The relay's answer exists only in this process: while
        Redis restarts it is kept and written once Redis is back, as long as the lease holds
        (past it, another worker may already have taken the notice over)."""
        lease = attempt.lease
        deadline = float(lease) - 5 if lease else time.time()
        return until_reachable(
            lambda: self.tracker.transition(
                attempt.notice_id, target, detail, lease=lease, **kwargs
            ),
            deadline,
            "recording a send's outcome",
        )

    def sent(self, attempt: Attempt, accepted: Accepted) -> tuple[TransitionOutcome, Status]:
        metrics.SMTP_REPLIES.labels(
            klass=str(ReplyClass.of(accepted.code)), code=str(accepted.code)
        ).inc()
        # The reply is kept short in the record (the history has it whole), so the record
        # stays in Redis's compact encoding.
        outcome, _ = self._write(
            attempt,
            Status.SENT,
            f"accepted by the relay: {accepted.code}",
            unschedule=True,
            smtp=f"{accepted.code} {accepted.message[:200]}",
            fields={
                "last_error": "",
                "smtp_code": str(accepted.code),
                "smtp_message": accepted.message[:56],
                "smtp_dsn": "1" if accepted.dsn else "0",
            },
        )
        metrics.NOTICES.labels(status="sent").inc()
        log.info("notice sent (attempt %d)", attempt.number)
        return outcome, Status.SENT

    def settle(
        self, attempt: Attempt, status: Status, detail: str, code: int | None, **fields: str
    ) -> tuple[TransitionOutcome, Status]:
        metrics.SMTP_REPLIES.labels(klass=str(ReplyClass.of(code)), code=str(code or "")).inc()
        outcome, _ = self._write(
            attempt, status, detail, unschedule=True, fields={"last_error": detail, **fields}
        )
        metrics.NOTICES.labels(status=str(status)).inc()
        log.warning("notice %s: %s", status, detail)
        return outcome, status

    def refused(self, attempt: Attempt, exc: RecipientRefused) -> tuple[TransitionOutcome, Status]:
        bounce = Bounce.from_refusal(exc.code, str(exc), iso())
        result = self.settle(attempt, Status.BOUNCED, str(exc), exc.code, bounce=bounce.dumps())
        apply_bounce(
            bounce,
            notice_id=attempt.notice_id,
            address=attempt.to,
            tracker=self.tracker,
            suppressions=self.suppressions,
            settings=self.settings,
        )
        return result

    def throttled(self, attempt: Attempt, exc: Throttled) -> tuple[TransitionOutcome, Status]:
        """Slow down, do not give up: the domain's rate halves (for every worker) and the
        notice is due again shortly, without using up an attempt."""
        domain = attempt.to.rpartition("@")[2].lower()
        factor = self.limits.throttled(domain) if self.limits is not None else None
        metrics.THROTTLED.labels(domain=domain).inc()
        delay = THROTTLE_RETRY * (1 + random.uniform(0, 0.5))
        when = time.time() + delay
        slower = f"; {domain} now at {factor:.0%} of its rate" if factor is not None else ""
        detail = f"throttled: {exc}{slower}; next attempt in {delay:.0f} s"
        outcome, _ = self._write(
            attempt,
            Status.DEFERRED,
            detail,
            schedule_at=when,
            fields={
                "last_error": str(exc)[:500],
                "next_attempt_at": repr(when),
                "attempts": str(max(0, attempt.number - 1)),
            },
        )
        metrics.NOTICES.labels(status="deferred").inc()
        log.warning("notice throttled: %s", detail)
        return outcome, Status.DEFERRED

    def retry_or_fail(
        self, attempt: Attempt, exc: BaseException
    ) -> tuple[TransitionOutcome, Status]:
        if isinstance(exc, Throttled):
            return self.throttled(attempt, exc)
        delays = self.settings.retry_delays
        code = getattr(exc, "code", None)
        metrics.SMTP_REPLIES.labels(klass=str(ReplyClass.of(code)), code=str(code or "")).inc()
        if attempt.number > len(delays):
            return self.settle(
                attempt, Status.FAILED, f"gave up after {attempt.number} attempts: {exc}", None
            )
        jitter = self.settings.retry_jitter
        delay = delays[attempt.number - 1] * (1 + random.uniform(-jitter, jitter))
        when = time.time() + delay
        detail = f"attempt {attempt.number} failed: {exc}; next attempt in {delay:.0f} s"
        if getattr(exc, "unknown_outcome", False):
            detail += " (the relay may have accepted it: same Message-ID on retry)"
        outcome, _ = self._write(
            attempt,
            Status.DEFERRED,
            detail,
            schedule_at=when,
            fields={"last_error": str(exc)[:500], "next_attempt_at": repr(when)},
        )
        metrics.RETRIES.inc()
        metrics.NOTICES.labels(status="deferred").inc()
        log.warning("notice deferred: %s", detail)
        return outcome, Status.DEFERRED
