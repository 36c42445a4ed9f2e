"""Every Redis key this project writes: one home, so no module spells a key by hand."""

from __future__ import annotations

from typing import Final

from worker.intake.addresses import key as address_key

#: Every key starts with this, so the broker's keys never collide with ours.
PREFIX: Final = "pdn:"

#: Sorted set: every queued/deferred notice by the time it is next due.
SCHED: Final = PREFIX + "sched"
#: Sorted set: every notice by creation time.
IDX_ALL: Final = PREFIX + "idx:all"
#: Sorted set: dead letters by the time they were added.
DEAD: Final = PREFIX + "dead"
#: Sorted set: suppressed addresses by the time they were added.
SUPPRESSED: Final = PREFIX + "sup"
#: List: bounces that could not be tied to a notice (newest first).
UNMATCHED: Final = PREFIX + "unmatched"
#: String: the Unix time of the last sweeper round that finished, by any worker.
SWEEPER_BEAT: Final = PREFIX + "sweeper:beat"


def idx_status(status: str) -> str:
    """Sorted set: the notices in ``status`` by the time of their last change."""
    return f"{PREFIX}idx:st:{status}"


def notice(notice_id: str) -> str:
    """Hash: the notice record."""
    return f"{PREFIX}n:{notice_id}"


def history(notice_id: str) -> str:
    """List: the notice's history entries (JSON)."""
    return f"{PREFIX}n:{notice_id}:h"


def event(notice_id: str) -> str:
    """String: the notice's event (a JSON array, see record.STORED_ORDER)."""
    return f"{PREFIX}n:{notice_id}:e"


def address(addr: str) -> str:
    """String: the latest notice to an address (bounce tie-back)."""
    return f"{PREFIX}addr:{address_key(addr)}"


def dead_letter(dead_id: str) -> str:
    """Hash: one dead letter."""
    return f"{PREFIX}dead:{dead_id}"


def suppression(addr: str) -> str:
    """Hash: why an address is suppressed."""
    return f"{PREFIX}sup:{address_key(addr)}"


def suppression_log(addr: str) -> str:
    """List: every change of an address's suppression (JSON: at, action, by, reason)."""
    return f"{PREFIX}sup:{address_key(addr)}:log"


def soft_bounces(addr: str) -> str:
    """Sorted set: an address's recent mailbox-level soft bounces."""
    return f"{PREFIX}soft:{address_key(addr)}"


def relay_bucket() -> str:
    """Hash: the token bucket of RELAY_RATE, shared by every worker."""
    return f"{PREFIX}rate:relay"


def domain_bucket(domain: str) -> str:
    """Hash: the token bucket of one recipient domain (DOMAIN_RATES, or its throttle)."""
    return f"{PREFIX}rate:dom:{domain}"


def domain_throttle(domain: str) -> str:
    """Hash: a domain's slow-down after a throttling reply (factor, hold, next step)."""
    return f"{PREFIX}throttle:{domain}"


def relay_connections() -> str:
    """Sorted set: connection slots to the relay held by every worker (RELAY_MAX_CONNECTIONS),
    scored by when each lapses unless refreshed."""
    return f"{PREFIX}relay:conns"


def webhook_event(provider: str, digest: str) -> str:
    """String: a provider's event already applied (its id, or a digest of what names it)."""
    return f"{PREFIX}wh:ev:{provider}:{digest}"


def webhook_token(provider: str, digest: str) -> str:
    """String: a signing token a provider's webhook already used (replays are refused)."""
    return f"{PREFIX}wh:tok:{provider}:{digest}"


#: Stream: every state change, for consumers that keep up (trimmed to EVENTS_STREAM_MAXLEN).
EVENTS: Final = PREFIX + "events"
#: Sorted set: outbound webhook deliveries by the time each is next due.
OUTBOX: Final = PREFIX + "outbox"


def outbox_item(delivery_id: str) -> str:
    """Hash: one outbound webhook delivery (its JSON body, notice, attempts)."""
    return f"{PREFIX}ob:{delivery_id}"


def unreachable(addr: str) -> str:
    """String: an address is in an "admin unreachable" episode (the event went out once)."""
    return f"{PREFIX}unreach:{address_key(addr)}"


def sequence(sequence_id: str) -> str:
    """Hash: one reminder sequence (its subscription, invoice, state, round, closing event)."""
    return f"{PREFIX}q:{sequence_id}"


def sequence_history(sequence_id: str) -> str:
    """List: the sequence's history (events that opened, joined or closed it; JSON)."""
    return f"{PREFIX}q:{sequence_id}:h"


def sequence_steps(sequence_id: str) -> str:
    """Sorted set: the sequence's step notices by the time each is due."""
    return f"{PREFIX}q:{sequence_id}:n"


def sequence_event(event_id: str) -> str:
    """String: what an event did to a sequence (recorded once per event_id: dedupe)."""
    return f"{PREFIX}qe:{event_id}"


def subscription(subscription_id: str) -> str:
    """Set: the sequences of one subscription."""
    return f"{PREFIX}sub:{subscription_id}"


def subscription_settled(subscription_id: str) -> str:
    """String: when (epoch) the latest payment without an invoice settled the subscription:
    a charge failure older than that is stale."""
    return f"{PREFIX}sub:{subscription_id}:paid"


def stats_hour(hour: int) -> str:
    """Hash: the counters of one UTC hour (``hour`` = epoch seconds // 3600): status
    changes (``status:<status>``), bounces (``bounce:<kind>:<reason>``), send latency
    (``latency:sent|delivered:<bucket bound>``) and outcomes by recipient domain
    (``domain:<domain>:<status>``, with ``domain:<domain>`` and ``domains`` for the cap)."""
    return f"{PREFIX}stats:{hour}"
