"""The notice's status vocabulary, the allowed transitions, and the outcomes of store calls."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final


class Status(StrEnum):
    QUEUED = "queued"  #: accepted; its first send is on its way
    SENT = "sent"  #: the relay answered 250 after DATA (accepted, not yet known delivered)
    DEFERRED = "deferred"  #: a transient failure, another attempt is scheduled; or a delay DSN
    DELIVERED = "delivered"  #: a success DSN (delivered or relayed) came back
    BOUNCED = "bounced"  #: the recipient was refused at RCPT, or a failure DSN came back
    FAILED = "failed"  #: a permanent refusal other than the recipient, or retries ran out
    SUPPRESSED = "suppressed"  #: the address is on the suppression list; nothing was sent
    SCHEDULED = "scheduled"  #: a sequence step that is not due yet (see next_attempt_at)
    CANCELLED = "cancelled"  #: not sent: paid, voided or cancelled (the history says which)


class Step(StrEnum):
    """Which step of its sequence a notice is."""

    FIRST = "first"  #: the notice a charge failure opens the sequence with
    REMINDER = "reminder"  #: one of REMINDER_SCHEDULE's reminders (step_no 1, 2, …)
    FINAL = "final"  #: FINAL_NOTICE_BEFORE the service stops (disable_at)
    DISABLED = "disabled"  #: the billing platform stopped the service


#: For each target status, the statuses a notice may move to it from. Kept as data so that
#: every rule is visible in one place and tested row by row.
TRANSITIONS: Final[Mapping[Status, frozenset[Status]]] = {
    Status.SENT: frozenset({Status.QUEUED, Status.DEFERRED}),
    # A step not sent: the sequence closed (paid, voided, cancelled) before it went out.
    Status.CANCELLED: frozenset({Status.QUEUED, Status.DEFERRED, Status.SCHEDULED}),
    # A step whose time came goes to the queue (the claim does it, atomically).
    Status.SCHEDULED: frozenset(),  # only ever set when the step is created
    Status.DEFERRED: frozenset({Status.QUEUED, Status.DEFERRED, Status.SENT}),
    Status.FAILED: frozenset({Status.QUEUED, Status.DEFERRED}),
    Status.BOUNCED: frozenset({Status.QUEUED, Status.DEFERRED, Status.SENT, Status.DELIVERED}),
    # From queued/deferred too: a success DSN for a mail whose "sent" was never recorded
    # (the worker died after the relay's 250) stops the resend that would duplicate it.
    Status.DELIVERED: frozenset({Status.QUEUED, Status.SENT, Status.DEFERRED}),
    # Replay: a failed, bounced, suppressed or stuck deferred notice goes back to the queue;
    # a cancelled one only while its sequence is open again (checked by the replay). A
    # scheduled step whose time came is claimed from the queue.
    Status.QUEUED: frozenset(
        {
            Status.FAILED,
            Status.BOUNCED,
            Status.SUPPRESSED,
            Status.DEFERRED,
            Status.CANCELLED,
            Status.SCHEDULED,
        }
    ),
    # At creation; and a later step whose address was suppressed meanwhile (it would bounce).
    Status.SUPPRESSED: frozenset({Status.SCHEDULED}),
}
#: Statuses in which a notice needs nothing more from the worker.
SETTLED: Final = frozenset(
    {
        Status.SENT,
        Status.DELIVERED,
        Status.BOUNCED,
        Status.FAILED,
        Status.SUPPRESSED,
        Status.CANCELLED,
    }
)
#: Statuses that still wait for a send (in the schedule).
PENDING: Final = frozenset({Status.QUEUED, Status.DEFERRED, Status.SCHEDULED})
#: Statuses a replay may start from: those TRANSITIONS allow back to queued, except a step
#: that is not due yet (it needs no replay: it goes when its time comes).
REPLAYABLE: Final = TRANSITIONS[Status.QUEUED] - {Status.SCHEDULED}
#: These bounced off the address itself: a replay needs a corrected address.
NEED_NEW_ADDRESS: Final = frozenset({Status.BOUNCED, Status.SUPPRESSED})


class ClaimOutcome(StrEnum):
    """What asking for the right to make one send attempt gave."""

    OK = "ok"  #: claimed: this caller makes the attempt
    BUSY = "busy"  #: another worker holds an unexpired lease
    NOT_DUE = "notdue"  #: its next attempt is scheduled later
    SETTLED = "settled"  #: it needs no send (sent, bounced... or no longer scheduled)
    MISSING = "missing"  #: no such notice (expired, or never created)
    CANCELLED = "cancelled"  #: its sequence closed (paid, voided, cancelled): not sent
    STOPPED = "stopped"  #: a later step to an address suppressed since: not sent


class TransitionOutcome(StrEnum):
    """What asking the store to move a notice to a status gave."""

    OK = "ok"  #: moved
    REFUSED = "refused"  #: TRANSITIONS do not allow it from the current status
    MISSING = "missing"  #: no such notice
    STALE = "stale"  #: the caller's lease was taken over by another worker
