"""The notice life cycle: accept an event, send its notice, record what happened."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
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
    TransientError,
)
from worker.intake.events import Event, parse_event
from worker.logs import bind
from worker.notices.accept import Intake, accept_event
from worker.notices.connection import RedisClient, get_redis, until_reachable
from worker.notices.deadletters import DeadLetters
from worker.notices.record import iso, merge_event
from worker.notices.status import ClaimOutcome, Status, TransitionOutcome
from worker.notices.store import Tracker
from worker.notices.suppressions import Suppressions, apply_bounce
from worker.render.message import message_bytes
from worker.render.renderer import Renderer
from worker.settings import Settings
from worker.smtp.client import Transport, get_transport
from worker.smtp.proof import envelope_id, envelope_sender
from worker.smtp.replies import ReplyClass

log = logging.getLogger(__name__)


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        client: RedisClient | None = None,
        transport: Transport | None = None,
        renderer: Renderer | None = None,
    ) -> None:
        self.settings = settings
        self.r = client if client is not None else get_redis(settings)
        self.tracker = Tracker(self.r, settings.notice_retention_days, settings.bounce_max_history)
        self.dead = DeadLetters(self.r, settings.dead_letter_retention_days)
        self.suppressions = Suppressions(self.r)
        self._transport = transport
        self.renderer = renderer or Renderer(settings)

    @property
    def transport(self) -> Transport:
        return self._transport or get_transport(self.settings)

    # -- intake ----------------------------------------------------------------------
    def accept(self, payload: Any, source: str = "queue") -> Intake:
        """Validate and record the event: one notice per event_id, however often it comes."""
        return accept_event(
            payload,
            source,
            tracker=self.tracker,
            dead=self.dead,
            suppressions=self.suppressions,
            settings=self.settings,
        )

    def handle_event(self, payload: Any) -> Intake:
        """accept(), then send at once when the notice is new or still waiting."""
        intake = self.accept(payload)
        if intake.notice_id and intake.status in (Status.QUEUED, Status.DEFERRED):
            # A redelivered event is sent as first recorded, whatever this copy says.
            outcome, status = self._deliver(
                intake.notice_id, False, intake.event if intake.created else None
            )
            if outcome is not ClaimOutcome.OK:  # someone else has it, or it settled: look
                current = (self.tracker.get(intake.notice_id) or {}).get("status")
                status = Status(current) if current else None
            return Intake(intake.notice_id, status or intake.status, intake.created)
        return intake

    # -- sending ---------------------------------------------------------------------
    def deliver(
        self, notice_id: str, force: bool = False, event: Event | None = None
    ) -> ClaimOutcome | TransitionOutcome:
        """Make one send attempt if the notice is due and nobody else is sending it.

        The claim records the attempt (its lease and ``handed_at``) before the mail goes to
        SMTP: a worker that finds an expired lease knows the previous attempt may have
        been accepted by the relay (the one window for a duplicate) and says so.
        """
        return self._deliver(notice_id, force, event)[0]

    def _deliver(
        self, notice_id: str, force: bool, event: Event | None
    ) -> tuple[ClaimOutcome | TransitionOutcome, Status | None]:
        """(outcome, status reached): outcome ok when this call made the attempt."""
        claim = self.tracker.claim(notice_id, self.settings.lease_seconds, force=force)
        if claim.outcome is not ClaimOutcome.OK:
            return claim.outcome, None
        record = dict(claim.record or {})
        with bind(notice_id=notice_id, event_id=record.get("event_id")):
            if event is None or event.admin_email != record.get("to"):
                event = None  # parsed from the stored event, with the current address
            return self._attempt(
                notice_id,
                record,
                event or merge_event(claim.event, record),
                claim.attempts,
                claim.lease_until,
                claim.interrupted,
            )

    def _attempt(
        self,
        notice_id: str,
        record: dict[str, str],
        stored: Event | dict[str, Any],
        attempt: int,
        lease: str,
        interrupted: bool,
    ) -> tuple[TransitionOutcome, Status]:
        to = record["to"]
        generation = int(record.get("generation") or 0)
        if interrupted:
            self.tracker.note(
                notice_id,
                record["status"],
                "previous attempt was interrupted (worker lost); its outcome is "
                "unknown, sending again with the same Message-ID",
            )
        started = time.perf_counter()
        try:
            event = stored if isinstance(stored, Event) else parse_event(stored)
            rendered = self.renderer.render(event)
            raw = message_bytes(
                rendered,
                to=to,
                notice_id=notice_id,
                generation=generation,
                settings=self.settings,
                message_id=record.get("message_id") or None,
            )
            sender = envelope_sender(notice_id, self.settings)
            envid = envelope_id(notice_id, self.settings)
            accepted = self.transport.send(raw, sender, to, envelope_id=envid)
        except RecipientRefused as exc:
            return self._refused(notice_id, exc, lease, attempt)
        except PermanentError as exc:
            return self._settle(notice_id, Status.FAILED, str(exc), lease, exc.code)
        except InvalidEvent as exc:
            # The stored event no longer passes (rules tightened since it was accepted):
            # retrying cannot change that; the notice fails with the reason, for a replay
            # after a fix.
            return self._settle(
                notice_id, Status.FAILED, f"invalid event: {exc.reason}", lease, None
            )
        except (TransientError, TemplateProblem, ConfigurationError) as exc:
            if isinstance(exc, ConfigurationError):
                log.critical("sending is misconfigured, notices are being deferred: %s", exc)
            return self._retry_or_fail(notice_id, exc, attempt, lease)
        except RedisError:
            raise  # the task hands its message back; the lease brings the notice back too
        except Exception as exc:
            # A bug must neither lose the notice nor spin on it: it is retried on the
            # normal schedule, and fails visibly when the schedule runs out.
            log.exception("unexpected error sending the notice")
            return self._retry_or_fail(notice_id, exc, attempt, lease)
        finally:
            metrics.SEND_SECONDS.observe(time.perf_counter() - started)
        metrics.SMTP_REPLIES.labels(
            klass=str(ReplyClass.of(accepted.code)), code=str(accepted.code)
        ).inc()
        # The reply is kept short in the record (the history has it whole), so the record
        # stays in Redis's compact encoding.
        outcome, _ = self._outcome(
            notice_id,
            Status.SENT,
            f"accepted by the relay: {accepted.code}",
            lease=lease,
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
        log.info("notice sent (attempt %d)", attempt)
        return outcome, Status.SENT

    def _outcome(
        self, notice_id: str, target: Status, detail: str, *, lease: str, **kwargs: Any
    ) -> tuple[TransitionOutcome, str]:
        """Record what the relay said. The relay's answer exists only in this process: while
        Redis restarts it is kept and written once Redis is back, as long as the lease holds
        (past it, another worker may already have taken the notice over)."""
        deadline = float(lease) - 5 if lease else time.time()
        return until_reachable(
            lambda: self.tracker.transition(notice_id, target, detail, lease=lease, **kwargs),
            deadline,
            "recording a send's outcome",
        )

    def _settle(
        self,
        notice_id: str,
        status: Status,
        detail: str,
        lease: str,
        code: int | None,
        **fields: str,
    ) -> tuple[TransitionOutcome, Status]:
        metrics.SMTP_REPLIES.labels(klass=str(ReplyClass.of(code)), code=str(code or "")).inc()
        outcome, _ = self._outcome(
            notice_id,
            status,
            detail,
            lease=lease,
            unschedule=True,
            fields={"last_error": detail, **fields},
        )
        metrics.NOTICES.labels(status=str(status)).inc()
        log.warning("notice %s: %s", status, detail)
        return outcome, status

    def _refused(
        self, notice_id: str, exc: RecipientRefused, lease: str, attempt: int
    ) -> tuple[TransitionOutcome, Status]:
        bounce = Bounce.from_refusal(exc.code, str(exc), iso())
        result = self._settle(
            notice_id, Status.BOUNCED, str(exc), lease, exc.code, bounce=bounce.dumps()
        )
        record = self.tracker.get(notice_id) or {}
        apply_bounce(
            bounce,
            notice_id=notice_id,
            address=record.get("to", ""),
            tracker=self.tracker,
            suppressions=self.suppressions,
            settings=self.settings,
        )
        return result

    def _retry_or_fail(
        self, notice_id: str, exc: Exception, attempt: int, lease: str
    ) -> tuple[TransitionOutcome, Status]:
        delays = self.settings.retry_delays
        code = getattr(exc, "code", None)
        metrics.SMTP_REPLIES.labels(klass=str(ReplyClass.of(code)), code=str(code or "")).inc()
        if attempt > len(delays):
            return self._settle(
                notice_id, Status.FAILED, f"gave up after {attempt} attempts: {exc}", lease, None
            )
        jitter = self.settings.retry_jitter
        delay = delays[attempt - 1] * (1 + random.uniform(-jitter, jitter))
        when = time.time() + delay
        detail = f"attempt {attempt} failed: {exc}; next attempt in {delay:.0f} s"
        if getattr(exc, "unknown_outcome", False):
            detail += " (the relay may have accepted it: same Message-ID on retry)"
        outcome, _ = self._outcome(
            notice_id,
            Status.DEFERRED,
            detail,
            lease=lease,
            schedule_at=when,
            fields={"last_error": str(exc)[:500], "next_attempt_at": repr(when)},
        )
        metrics.RETRIES.inc()
        metrics.NOTICES.labels(status="deferred").inc()
        log.warning("notice deferred: %s", detail)
        return outcome, Status.DEFERRED

    # -- housekeeping ----------------------------------------------------------------
    def sweep(self, enqueue: Callable[[str], Any], limit: int = 500) -> int:
        """Hand every due notice (retry time reached, or a lost worker's lease expired) to
        ``enqueue``; returns how many."""
        due = self.tracker.due(limit=limit, grace=max(60.0, self.settings.lease_seconds))
        for notice_id in due:
            enqueue(notice_id)
        return len(due)
