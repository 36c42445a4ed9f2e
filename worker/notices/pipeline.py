"""The notice life cycle: accept an event, claim its send, render it and send it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from worker.errors import InvalidEvent, TemplateProblem
from worker.intake.events import Event, parse_event
from worker.intake.kinds import EventType
from worker.intake.lifecycle import as_date
from worker.logs import bind
from worker.notices.accept import Intake, accept_event
from worker.notices.connection import (
    RedisClient,
    get_redis,
    restart_patience,
    until_reachable,
)
from worker.notices.deadletters import DeadLetters
from worker.notices.lifecycle import accept_lifecycle
from worker.notices.limits import RelayLimits
from worker.notices.outbound import Outbound
from worker.notices.outcome import Attempt, Outcomes
from worker.notices.record import merge_event
from worker.notices.sequences import Sequences
from worker.notices.status import ClaimOutcome, Status, TransitionOutcome
from worker.notices.store import Claim, Tracker
from worker.notices.suppressions import Suppressions
from worker.render.context import StepInfo
from worker.render.message import message_bytes
from worker.render.renderer import Renderer
from worker.settings import Settings
from worker.smtp.client import Transport, get_transport
from worker.smtp.engine import Engine, EngineClosed, Job
from worker.smtp.proof import envelope_id, envelope_sender, provider_headers
from worker.smtp.replies import Accepted

log = logging.getLogger(__name__)

#: What ``deliver`` did: the claim's outcome, or the recorded result of a send made here.
Delivered = ClaimOutcome | TransitionOutcome


class Pipeline:
    """Every step of a notice; sends go through ``engine`` when given (the worker), and are
    made in the caller's thread otherwise (the CLI, tests, the dev mode's first send)."""

    def __init__(
        self,
        settings: Settings,
        client: RedisClient | None = None,
        transport: Transport | None = None,
        renderer: Renderer | None = None,
        engine: Engine | None = None,
        limits: RelayLimits | None = None,
    ) -> None:
        self.settings = settings
        self.r = client if client is not None else get_redis(settings)
        self.outbound = Outbound(self.r, settings)
        self.tracker = Tracker(
            self.r, settings.notice_retention_days, settings.bounce_max_history, self.outbound
        )
        self.dead = DeadLetters(self.r, settings.dead_letter_retention_days)
        self.suppressions = Suppressions(self.r)
        self.sequences = Sequences(
            self.r, settings.notice_retention_days, settings.bounce_max_history
        )
        self.outcomes = Outcomes(self.tracker, self.suppressions, settings, limits)
        self._transport = transport
        self.engine = engine
        self.renderer = renderer or Renderer(settings)

    @property
    def transport(self) -> Transport:
        return self._transport or get_transport(self.settings)

    # -- intake ----------------------------------------------------------------------
    def accept(self, payload: Any, source: str = "queue") -> Intake:
        """Validate and record the event: one notice per sequence step, however often it comes."""
        return accept_event(
            payload,
            source,
            tracker=self.tracker,
            dead=self.dead,
            suppressions=self.suppressions,
            settings=self.settings,
            sequences=self.sequences,
        )

    def handle(self, payload: Any, kind: EventType = EventType.CHARGE_FAILED) -> Intake:
        """One event of type ``kind`` (the task it arrived on decides the type expected)."""
        if kind is EventType.CHARGE_FAILED:
            return self.handle_event(payload)
        intake = accept_lifecycle(
            payload,
            kind,
            "queue",
            tracker=self.tracker,
            dead=self.dead,
            sequences=self.sequences,
            suppressions=self.suppressions,
            settings=self.settings,
        )
        return self._send_now(intake)

    def handle_event(self, payload: Any) -> Intake:
        """accept(), then send at once when the notice is new or still waiting."""
        return self._send_now(self.accept(payload))

    def _send_now(self, intake: Intake) -> Intake:
        if intake.recorded:
            return intake  # joined an open sequence or closed one: no notice of its own
        if intake.notice_id and intake.status in (Status.QUEUED, Status.DEFERRED):
            # A redelivered event is sent as first recorded, whatever this copy says.
            outcome, status = self._deliver(
                intake.notice_id, False, intake.event if intake.created else None
            )
            if outcome is ClaimOutcome.OK and status is None:
                # The engine took the send: it is queued until its outcome is recorded
                # (no read back, one round trip fewer per notice).
                return Intake(intake.notice_id, Status.QUEUED, intake.created)
            if outcome is not ClaimOutcome.OK or status is None:
                # Someone else has it, it settled, or the engine took it: look.
                current = (self.tracker.get(intake.notice_id) or {}).get("status")
                status = Status(current) if current else None
            return Intake(
                intake.notice_id,
                status or intake.status,
                intake.created,
                sequence_id=intake.sequence_id,
            )
        return intake

    # -- sending ---------------------------------------------------------------------
    def deliver(self, notice_id: str, force: bool = False, event: Event | None = None) -> Delivered:
        """Make one send attempt if the notice is due and nobody else is sending it.

        The claim records the attempt (its lease and ``handed_at``) before the mail goes to
        SMTP: a worker that finds an expired lease knows the previous attempt may have
        been accepted by the relay (the one window for a duplicate) and says so.
        """
        return self._deliver(notice_id, force, event)[0]

    def _deliver(
        self, notice_id: str, force: bool, event: Event | None
    ) -> tuple[Delivered, Status | None]:
        """(outcome, status reached): ok with no status when the engine took the send."""
        claim = self.tracker.claim(notice_id, self.settings.lease_seconds, force=force)
        if claim.outcome is not ClaimOutcome.OK:
            return claim.outcome, None
        record = dict(claim.record or {})
        with bind(notice_id=notice_id, event_id=record.get("event_id")):
            if event is None or event.admin_email != record.get("to"):
                event = None  # parsed from the stored event, with the current address
            return self._attempt(claim, record, event)

    def _attempt(
        self, claim: Claim, record: dict[str, str], event: Event | None
    ) -> tuple[Delivered, Status | None]:
        notice_id = record["id"]
        attempt = Attempt(
            notice_id,
            record.get("event_id"),
            record["to"],
            claim.attempts,
            claim.lease_until,
            time.perf_counter(),
        )
        if claim.interrupted:
            self.tracker.note(
                notice_id,
                record["status"],
                "previous attempt was interrupted (worker lost); its outcome is "
                "unknown, sending again with the same Message-ID",
            )
        try:
            job = self._prepare(notice_id, record, event or merge_event(claim.event, record))
        except (InvalidEvent, TemplateProblem) as exc:
            return self.outcomes.record(attempt, exc)
        except Exception as exc:  # a bug in rendering: retried on the schedule, visible
            log.exception("unexpected error preparing the notice")
            return self.outcomes.record(attempt, exc)
        if self.engine is not None:
            return self._hand_over(attempt, job)
        result: Accepted | Exception
        try:
            result = self.transport.send(
                job.message, job.sender, job.recipient, envelope_id=job.envelope_id
            )
        except Exception as exc:
            result = exc
        return self.outcomes.record(attempt, result)

    def _prepare(
        self, notice_id: str, record: dict[str, str], stored: Event | dict[str, Any]
    ) -> Job:
        event = stored if isinstance(stored, Event) else parse_event(stored)
        to = record["to"]
        rendered = self.renderer.render(event, step=step_info(record, event))
        raw = message_bytes(
            rendered,
            to=to,
            notice_id=notice_id,
            generation=int(record.get("generation") or 0),
            settings=self.settings,
            message_id=record.get("message_id") or None,
            extra_headers=provider_headers(notice_id, self.settings),
        )
        return Job(
            raw,
            envelope_sender(notice_id, self.settings),
            to,
            envelope_id(notice_id, self.settings),
            on_done=_no_callback,
        )

    def _hand_over(self, attempt: Attempt, job: Job) -> tuple[Delivered, Status | None]:
        """Give the leased, rendered mail to the engine; its result is recorded later."""
        assert self.engine is not None
        handed = Job(
            job.message,
            job.sender,
            job.recipient,
            job.envelope_id,
            on_done=lambda result: self._record_later(attempt, result),
            confirm=lambda: self._still_wanted(attempt),
        )
        # The lease covers the wait for a slot and the send; wait at most a third of it.
        try:
            self.engine.submit(handed, wait=self.settings.lease_seconds / 3)
        except (TimeoutError, EngineClosed) as exc:
            # Not sent, not lost: the notice is still scheduled; give the claim back so
            # that the sweeper hands it out again soon, without counting the attempt.
            self.tracker.release(attempt.notice_id, attempt.lease)
            log.warning("notice not handed to the sending engine (%s); it stays queued", exc)
            return ClaimOutcome.BUSY, None
        return ClaimOutcome.OK, None

    def _still_wanted(self, attempt: Attempt) -> bool:
        """The engine's last check before SMTP: the lease still ours, the sequence open."""
        # While Redis restarts, asked again for a while: a send given up here waits for
        # its whole lease before anything sends it.
        bound = time.time() + restart_patience(self.settings.lease_seconds)
        verdict = until_reachable(
            lambda: self.tracker.confirm(attempt.notice_id, attempt.lease),
            bound,
            "checking a send before SMTP",
        )
        if verdict != "ok":
            log.info("send withdrawn before SMTP: %s", verdict)
        return verdict == "ok"

    def _record_later(self, attempt: Attempt, result: Accepted | Exception) -> None:
        self.outcomes.record(attempt, result)

    # -- housekeeping ----------------------------------------------------------------
    def sweep(self, enqueue: Callable[[str], Any], limit: int = 500) -> int:
        """Hand every due notice (retry time reached, or a lost worker's lease expired) to
        ``enqueue``; returns how many."""
        due = self.tracker.due(limit=limit, grace=max(60.0, self.settings.lease_seconds))
        for notice_id in due:
            enqueue(notice_id)
        return len(due)


def step_info(record: dict[str, str], event: Event) -> StepInfo:
    """The step as the copy needs it; a reminder counts the days since the charge failed
    (or, without failed_at, since its sequence began)."""
    step = record.get("step") or "first"
    since = as_date(event.failed_at).timestamp() if event.failed_at else None
    if since is None and record.get("created_at"):
        since = datetime.fromisoformat(record["created_at"].replace("Z", "+00:00")).timestamp()
    days = int((time.time() - since) // 86400) if since is not None else None
    return StepInfo(step, int(record.get("step_no") or 1), days if days and days > 0 else None)


def _no_callback(result: Accepted | Exception) -> None:
    """A Job's callback before it is handed to an engine (the caller records the result)."""
