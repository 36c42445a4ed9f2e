"""Prometheus metrics of the worker and the web app."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

NOTICES = Counter("notices_total", "Notice status changes, by the status reached", ["status"])
SEND_SECONDS = Histogram(
    "notice_send_seconds", "Time of one send attempt (render, inline, SMTP)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
SMTP_REPLIES = Counter("smtp_replies_total", "SMTP outcomes by reply class and code",
                       ["klass", "code"])
BOUNCES = Counter("bounces_total", "Bounce and DSN reports, by kind and reason",
                  ["kind", "reason"])
RETRIES = Counter("notice_retries_total", "Send attempts that were deferred for a retry")
DEAD_LETTERS = Counter("dead_letters_total", "Events refused as invalid and dead-lettered")
REPLAYS = Counter("notice_replays_total", "Notices put back in the queue by a replay")
