"""The record's stored shapes: the compact event, history entries and the public view."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

#: The public record fields (JSON output of `notices list`; `show` adds history).
RECORD_FIELDS = (
    "id",
    "event_id",
    "subscription_id",
    "to",
    "locale",
    "status",
    "attempts",
    "created_at",
    "updated_at",
    "last_error",
    "message_id",
    "step",
)


#: Event fields the record already holds; the stored event leaves them out.
_IN_RECORD = {"event_id": "event_id", "subscription_id": "subscription_id", "admin_email": "to"}
#: The stored event is a JSON array in this order (field names are most of an event's
#: size); fields the contract adds later go at the end, and unknown fields ride along
#: as a final object.
STORED_ORDER = (
    "amount",
    "currency",
    "payment_method",
    "locale",
    "reason",
    "card_brand",
    "card_last4",
    "admin_name",
    "account_name",
    "subscription_name",
    "subscription_status",
    "failed_at",
    "due_date",
    "disable_at",
    "invoice_id",
    "attempt",
    "next_retry_at",
    "payment_url",
    "timezone",
)


def event_json(event: Mapping[str, Any]) -> str:
    """The event as stored beside its record: compact, without what the record repeats.

    Kept apart from the record so that the record's values stay short: Redis stores a
    hash whose values are all under 64 bytes in a compact listpack, about half the size.
    """
    values: list[Any] = [event.get(name) for name in STORED_ORDER]
    while values and values[-1] is None:
        values.pop()
    extra = {k: v for k, v in event.items() if k not in _IN_RECORD and k not in STORED_ORDER}
    if extra:
        values += [None] * (len(STORED_ORDER) - len(values)) + [extra]
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def merge_event(stored: str | None, record: Mapping[str, str]) -> dict[str, Any]:
    """The whole event again: the stored part plus the fields the record holds (the
    record's current address, which a replay may have corrected)."""
    data: Any = json.loads(stored) if stored else {}
    event: dict[str, Any]
    if isinstance(data, list):
        # The unknown fields ride as a final object (no contract field is an object): found
        # by its type, so events stored before STORED_ORDER grew still read back.
        extra = data.pop() if data and isinstance(data[-1], dict) else {}
        event = {k: v for k, v in zip(STORED_ORDER, data, strict=False) if v is not None}
        event.update(extra)
    else:  # the object form written before the array form
        event = dict(data)
    for field, name in _IN_RECORD.items():
        if record.get(name):
            event[field] = record[name]
    return event


def notice_id_for(event_id: str) -> str:
    """A first notice's id is derived from its event id: one notice per event, by construction."""
    return hashlib.sha256(event_id.encode()).hexdigest()[:20]


def iso(epoch: float | None = None) -> str:
    moment = datetime.fromtimestamp(time.time() if epoch is None else epoch, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def history_entry(status: str, detail: str, at: float | None = None, **extra: Any) -> str:
    entry = {"at": iso(at), "status": status, "detail": detail}
    entry.update({k: v for k, v in extra.items() if v is not None})
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":"))


def _epoch(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def public(
    record: Mapping[str, str], with_history: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The record as the CLI and web pages show it (public field names and types)."""
    out: dict[str, Any] = {name: record.get(name) or None for name in RECORD_FIELDS}
    out["attempts"] = int(record.get("attempts") or 0)
    out["step_no"] = int(record["step_no"]) if record.get("step_no") else None
    out["sequence_id"] = record.get("sequence") or None
    due = record.get("next_attempt_at")
    out["next_attempt_at"] = iso(float(due)) if due else None
    if record.get("smtp_code"):
        out["smtp_reply"] = {
            "code": int(record["smtp_code"]),
            "message": record.get("smtp_message", ""),
            "dsn": record.get("smtp_dsn") == "1",
        }
    if record.get("bounce"):
        bounce = json.loads(record["bounce"])
        if isinstance(bounce.get("reported_at"), (int, float)):
            # Older records kept an RCPT refusal's time as an epoch: shown as every time is.
            bounce["reported_at"] = iso(bounce["reported_at"])
        out["bounce"] = bounce
    # Where a send stands: when it is due, and who holds it (a lease) since when.
    for name in ("next_attempt_at", "lease_until", "handed_at"):
        when = _epoch(record.get(name))
        if when is not None:
            out[name] = iso(when)
    if record.get("flag"):
        out["flag"] = record["flag"]
    if with_history is not None:
        out["history"] = with_history
    return out
