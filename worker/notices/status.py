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


#: For each target status, the statuses a notice may move to it from. Kept as data so that
#: every rule is visible in one place and tested row by row.
TRANSITIONS: Final[Mapping[Status, frozenset[Status]]] = {
    Status.SENT: frozenset({Status.QUEUED, Status.DEFERRED}),
    Status.DEFERRED: frozenset({Status.QUEUED, Status.DEFERRED, Status.SENT}),
    Status.FAILED: frozenset({Status.QUEUED, Status.DEFERRED}),
    Status.BOUNCED: frozenset({Status.QUEUED, Status.DEFERRED, Status.SENT, Status.DELIVERED}),
    # From queued/deferred too: a success DSN for a mail whose "sent" was never recorded
    # (the worker died after the relay's 250) stops the resend that would duplicate it.
    Status.DELIVERED: frozenset({Status.QUEUED, Status.SENT, Status.DEFERRED}),
    # Replay: a failed, bounced, suppressed or stuck deferred notice goes back to the queue.
    Status.QUEUED: frozenset({Status.FAILED, Status.BOUNCED, Status.SUPPRESSED, Status.DEFERRED}),
    Status.SUPPRESSED: frozenset(),  # only ever set when the notice is created
}
#: Statuses in which a notice needs nothing more from the worker.
SETTLED: Final = frozenset(
    {Status.SENT, Status.DELIVERED, Status.BOUNCED, Status.FAILED, Status.SUPPRESSED}
)
#: Statuses a replay may start from: exactly those TRANSITIONS allow back to queued.
REPLAYABLE: Final = TRANSITIONS[Status.QUEUED]
#: These bounced off the address itself: a replay needs a corrected address.
NEED_NEW_ADDRESS: Final = frozenset({Status.BOUNCED, Status.SUPPRESSED})


class ClaimOutcome(StrEnum):
    """What asking for the right to make one send attempt gave."""

    OK = "ok"  #: claimed: this caller makes the attempt
    BUSY = "busy"  #: another worker holds an unexpired lease
    NOT_DUE = "notdue"  #: its next attempt is scheduled later
    SETTLED = "settled"  #: it needs no send (sent, bounced... or no longer scheduled)
    MISSING = "missing"  #: no such notice (expired, or never created)


class TransitionOutcome(StrEnum):
    """What asking the store to move a notice to a status gave."""

    OK = "ok"  #: moved
    REFUSED = "refused"  #: TRANSITIONS do not allow it from the current status
    MISSING = "missing"  #: no such notice
    STALE = "stale"  #: the caller's lease was taken over by another worker
