"""What a bounce does beyond the notice: suppression, soft-bounce counting, sender alerts."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from worker import metrics
from worker.bounces.reasons import MAILBOX_SOFT, SENDER_SIDE, Reason
from worker.intake.addresses import mask

if TYPE_CHECKING:
    from worker.notices.pipeline import Pipeline

log = logging.getLogger(__name__)


def after_bounce(pipeline: Pipeline, notice_id: str, address: str, details: dict[str, Any]
                 ) -> str:
    """Apply a bounce's consequences; returns what was done: suppressed, flagged or none.

    Only a bad address is suppressed. Refusals that point at us (policy, spam, reputation,
    authentication) leave the address alone: the customer's mailbox is fine, our mail is
    not, and an operator has to act.
    """
    reason = Reason(details.get("reason") or "undefined")
    kind = details.get("kind") or "soft"
    metrics.BOUNCES.labels(kind=kind, reason=str(reason)).inc()
    if not address:
        return "none"
    settings = pipeline.settings
    if kind == "hard":
        pipeline.suppressions.add(address, notice_id=notice_id, reason=str(reason),
                                  status=details.get("status"), kind=kind,
                                  diagnostic=details.get("diagnostic"))
        log.warning("address %s suppressed after a hard bounce (%s)", mask(address), reason)
        return "suppressed"
    if reason in SENDER_SIDE:
        pipeline.tracker.set_fields(notice_id, {"flag": f"sender:{reason}"})
        log.error("our mail was refused (%s): an operator should look; address kept", reason)
        return "flagged"
    if reason in MAILBOX_SOFT and settings.suppress_soft_count > 0:
        count = pipeline.suppressions.soft_bounce(address, notice_id,
                                                  settings.suppress_soft_window_days)
        if count >= settings.suppress_soft_count:
            pipeline.suppressions.add(address, notice_id=notice_id, reason=str(reason),
                                      status=details.get("status"), kind=kind,
                                      diagnostic=details.get("diagnostic"),
                                      source=f"{count} soft bounces")
            return "suppressed"
    return "none"
