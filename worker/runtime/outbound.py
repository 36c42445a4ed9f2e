"""Delivers the outbound webhook: POSTs each due delivery, signed, retried from Redis."""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request

from worker import metrics
from worker.net import redact_url
from worker.notices.outbound import Delivery, Outbound, body_of, signature
from worker.notices.store import Tracker
from worker.settings import Settings

log = logging.getLogger(__name__)

#: Seconds a receiver has to answer one POST.
TIMEOUT = 10.0
#: Rounds are this far apart when nothing is due.
IDLE = 1.0


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A signed body is for the URL configured, never for wherever a redirect points."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect())


def post(url: str, secret: str, delivery: Delivery) -> int:
    """POST one delivery; returns the HTTP status (0 when no answer came)."""
    body = body_of(delivery)
    # The URL is checked at start: https://, or http:// to loopback (settings.values).
    request = urllib.request.Request(  # noqa: S310
        url,
        data=body.encode("utf-8"),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "past-due-notices-webhook/1",
            "X-Notices-Signature": signature(secret, body),
            "X-Notices-Delivery": delivery.delivery_id,
        },
    )
    try:
        with _opener.open(request, timeout=TIMEOUT) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()  # it holds the response: an answer, but not a 2xx one
        return int(exc.code)
    except (OSError, ValueError):
        return 0


def deliver_due(outbound: Outbound, tracker: Tracker, settings: Settings) -> int:
    """One round: POST what is due; returns how many were taken by the receiver."""
    url, secret = settings.outbound_webhook_url, settings.outbound_webhook_secret
    if not url or not secret:
        return 0
    taken = 0
    for delivery in outbound.due(lease=TIMEOUT * 3):
        code = post(url, secret, delivery)
        status = str(json.loads(delivery.body).get("status") or "")
        kind = json.loads(delivery.body).get("event") or "status"
        if 200 <= code < 300:
            outbound.delivered(delivery)
            metrics.OUTBOUND.labels(outcome="delivered").inc()
            taken += 1
            if delivery.notice_id:
                tracker.note(
                    delivery.notice_id, status, f"outbound webhook took the {kind} change ({code})"
                )
            continue
        delay = outbound.failed(delivery)
        metrics.OUTBOUND.labels(outcome="retried").inc()
        log.warning(
            "outbound webhook %s answered %s; trying again in %.0f s",
            redact_url(url),
            code or "nothing",
            delay,
        )
        if delivery.notice_id and delivery.attempts == 0:
            tracker.note(
                delivery.notice_id,
                status,
                f"outbound webhook did not take the {kind} change ({code or 'no answer'}); "
                "it is tried again until it does",
            )
    return taken


def run_outbound(
    stop: threading.Event, outbound: Outbound, tracker: Tracker, settings: Settings
) -> None:
    """The delivery loop of one worker (every worker runs one; the leases share the work)."""
    while not stop.wait(IDLE):
        try:
            deliver_due(outbound, tracker, settings)
        except Exception as exc:  # Redis away: the next round tries again
            log.warning("outbound webhook round failed: %s", exc.__class__.__name__)
