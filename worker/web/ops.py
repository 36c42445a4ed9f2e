"""Ops pages: notices and their timelines, replay, dead letters, /metrics and /healthz."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime
from typing import Any

import redis
from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from werkzeug.wrappers import Response as BaseResponse

from worker.errors import StoreUnavailable
from worker.metrics import StoreCollector
from worker.notices.record import iso, public
from worker.notices.status import NEED_NEW_ADDRESS, REPLAYABLE, Status
from worker.notices.timeline import sequence_view
from worker.web import masking
from worker.web.building import try_preview
from worker.web.forms import pretty_payload, replay_refusal, web_wording
from worker.web.preview import sandboxed
from worker.web.security import scrub
from worker.web.state import state

log = logging.getLogger(__name__)
bp = Blueprint("ops", __name__)

PAGE_SIZE = 50
#: Filtering by subscription or address scans at most this many of the newest notices.
SCAN_LIMIT = 5000
#: Record fields shown on the timeline besides the public ones (epoch seconds become times).
EXTRA_FIELDS = ("generation", "next_attempt_at", "handed_at", "lease_until", "flag")


def parse_time(text: str) -> float | None:
    """``2026-03-02``, ``2026-03-02T09:15`` or full RFC 3339 → epoch seconds (naive = UTC)."""
    text = text.strip()
    if not text:
        return None
    moment = (
        datetime.combine(date.fromisoformat(text), datetime.min.time())
        if len(text) == 10
        else datetime.fromisoformat(text.replace("Z", "+00:00"))
    )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _epoch_text(value: str) -> str:
    try:
        return iso(float(value))
    except ValueError:
        return value


def _filters() -> tuple[dict[str, str], dict[str, Any], list[str]]:
    args = {
        k: request.args.get(k, "").strip()
        for k in ("status", "since", "until", "subscription", "address")
    }
    errors: list[str] = []
    if args["status"] and args["status"] not in {str(s) for s in Status}:
        errors.append(f"unknown status {args['status']!r}")
        args["status"] = ""
    window: dict[str, Any] = {}
    for name in ("since", "until"):
        try:
            window[name] = parse_time(args[name])
        except ValueError:
            errors.append(f"{name}: not a date or time such as 2026-03-02T09:15")
            window[name] = None
    return args, window, errors


@bp.get("/notices")
def notices() -> str:
    tracker = state().pipeline().tracker
    args, window, errors = _filters()
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    offset = (page - 1) * PAGE_SIZE
    status = args["status"] or None
    scanned = bool(args["subscription"] or args["address"])
    if scanned:
        records = tracker.records(
            tracker.ids(status, window["since"], window["until"], 0, SCAN_LIMIT)
        )
        sub, addr = args["subscription"].lower(), args["address"].lower()
        records = [
            r
            for r in records
            if sub in r.get("subscription_id", "").lower() and addr in r.get("to", "").lower()
        ]
        rows = records[offset : offset + PAGE_SIZE + 1]
    else:
        rows = tracker.records(
            tracker.ids(status, window["since"], window["until"], offset, PAGE_SIZE + 1)
        )
    more = len(rows) > PAGE_SIZE
    query = masking.keep({k: v for k, v in args.items() if v})
    return render_template(
        "notices.html",
        counts=tracker.counts(),
        rows=[public(r) for r in rows[:PAGE_SIZE]],
        args=args,
        errors=errors,
        page=page,
        more=more,
        query=query,
        scanned=scanned,
        scan_limit=SCAN_LIMIT,
        statuses=[str(s) for s in Status],
    )


def _record(notice_id: str) -> dict[str, str]:
    record = state().pipeline().tracker.find(notice_id)
    if record is None:
        abort(404)
    return record


def _event_text(record: dict[str, str]) -> str:
    """The stored event with the notice's current address (what a send would render), masked
    unless asked: so is then every view of the mail rendered from it, raw MIME included."""
    try:
        event = state().pipeline().tracker.event(record)
    except ValueError:
        return ""
    return masking.in_text(json.dumps(event, ensure_ascii=False, indent=2))


@bp.get("/notices/<notice_id>")
def timeline(notice_id: str) -> str:
    record = _record(notice_id)
    tracker = state().pipeline().tracker
    out = public(record, tracker.history(record["id"]))
    extra = {
        k: record[k] if k in ("generation", "flag") else _epoch_text(record[k])
        for k in EXTRA_FIELDS
        if record.get(k)
    }
    text = _event_text(record)
    preview, problem = try_preview(text, None)
    pipeline = state().pipeline()
    sequence = (
        sequence_view(tracker, pipeline.sequences, record["sequence"])
        if record.get("sequence")
        else None
    )
    needs_address = out["status"] in NEED_NEW_ADDRESS
    # Said on the page, before the form and its confirm dialog; a refusal that a new
    # address would lift is said next to the (then required) To field instead.
    refusal = None if needs_address else replay_refusal(record, None)
    return render_template(
        "notice.html",
        refusal=refusal,
        needs_address=needs_address,
        notice=out,
        sequence=sequence,
        extra=extra,
        event_text=text,
        preview=preview,
        problem=problem,
        replayable=out["status"] in REPLAYABLE,
    )


@bp.get("/notices/<notice_id>/mail.html")
def notice_html(notice_id: str) -> Response:
    preview, _ = try_preview(_event_text(_record(notice_id)), None)
    if preview is None:
        return sandboxed("<p>This notice cannot be rendered; the page around it says why.</p>")
    return sandboxed(preview.rendered.html)


@bp.post("/notices/<notice_id>/replay")
def replay(notice_id: str) -> BaseResponse | str:
    record = _record(notice_id)
    to = request.form.get("to", "").strip() or None
    reason = request.form.get("reason", "").strip() or "replayed from the ops page"
    refusal = replay_refusal(record, to)
    if refusal:
        flash(refusal, "error")
        return masking.back("ops.timeline", notice_id=record["id"])
    if request.form.get("confirm") != "yes":
        return render_template("confirm.html", notice=public(record), to=to or "", reason=reason)
    st = state()
    by = f"web ({request.remote_addr or 'unknown'})"
    try:
        outcome = st.replayer(
            st.pipeline(), record["id"], to=to, reason=reason, by=by, enqueue=st.enqueue
        )
    except (redis.RedisError, StoreUnavailable):
        raise
    except Exception as exc:
        log.exception("replay of %s failed", record["id"])
        flash(scrub(f"replay failed: {exc.__class__.__name__}: {exc}", st.settings), "error")
    else:
        flash(web_wording(str(outcome.message)), "ok" if outcome.done else "error")
    return masking.back("ops.timeline", notice_id=record["id"])


@bp.get("/dead")
def dead_list() -> str:
    dead = state().pipeline().dead
    made = request.args.get("notice", "")
    return render_template(
        "dead.html",
        records=dead.list(limit=500),
        total=dead.count(),
        made=made if made.isascii() and made.isalnum() else "",
    )


def _dead(dead_id: str) -> dict[str, str]:
    record = state().pipeline().dead.get(dead_id)
    if record is None:
        abort(404)
    return record


@bp.get("/dead/<dead_id>")
def dead_show(dead_id: str) -> str:
    record = _dead(dead_id)
    payload = masking.in_text(pretty_payload(record.get("payload", "")))  # shown, never sent
    return render_template("dead_one.html", record=record, payload=payload)


@bp.post("/dead/<dead_id>/requeue")
def dead_requeue(dead_id: str) -> BaseResponse:
    st = state()
    _dead(dead_id)
    corrected = request.form.get("payload", "").strip() or None
    try:
        outcome = st.pipeline().dead.requeue(dead_id, st.publish, corrected)
    except (redis.RedisError, StoreUnavailable):
        raise
    except Exception as exc:
        log.exception("requeue of dead letter %s failed", dead_id)
        flash(
            scrub(
                f"could not queue it: {exc.__class__.__name__}: {exc} (the dead letter is kept)",
                st.settings,
            ),
            "error",
        )
        return masking.back("ops.dead_show", dead_id=dead_id)
    flash(outcome.message, "ok" if outcome.done else "error")
    if not outcome.done:
        return masking.back("ops.dead_show", dead_id=dead_id)
    return redirect(url_for("ops.dead_list", notice=outcome.notice_id or None), code=303)


@bp.post("/dead/<dead_id>/drop")
def dead_drop(dead_id: str) -> BaseResponse:
    if state().pipeline().dead.drop(dead_id):
        flash(f"dropped {dead_id}", "ok")
    else:
        flash(f"no dead letter {dead_id}", "error")
    return redirect(url_for("ops.dead_list"), code=303)


@bp.get("/metrics")
def metrics() -> Response:
    """The store's current numbers (read at scrape time) and this process's own series.

    Not the worker's counters (notices_total and the rest): in this process they would
    read zero whatever the workers did; the workers serve theirs on METRICS_PORT.
    """
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    registry.register(StoreCollector(lambda: state().pipeline()))
    body = generate_latest(registry)
    return Response(body, content_type=CONTENT_TYPE_LATEST)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    try:
        ok = bool(state().pipeline().r.ping())
    except (redis.RedisError, StoreUnavailable):
        ok = False
    return jsonify({"redis": ok}), 200 if ok else 503
