"""The web app through Flask's test client: previews, editor, ops pages and security."""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

import fakeredis
import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape

from tests.support.events import ROOT, make_event
from worker.errors import ConfigurationError
from worker.intake import producer as intake
from worker.net import is_loopback
from worker.notices.pipeline import Pipeline
from worker.notices.status import Status
from worker.settings import Settings, configure, from_env
from worker.web.app import create_app
from worker.web.security import check_bind

CASES = list(json.loads((ROOT / "samples" / "cases.json").read_text(encoding="utf-8")))
HEADLINE = "向您的信用卡收取費用"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Recorder:
    """Stands in for the Celery side: remembers what was enqueued or published."""

    def __init__(self) -> None:
        self.enqueued: list[str] = []
        self.published: list[Any] = []


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def pipeline(settings: Settings, fake_redis: fakeredis.FakeRedis) -> Pipeline:
    return Pipeline(settings, fake_redis)


def build_app(settings: Settings, pipeline: Pipeline | None, rec: Recorder, **kwargs: Any) -> Flask:
    app = create_app(
        settings,
        pipeline,
        enqueue=rec.enqueued.append,
        publish=lambda task, payload: rec.published.append(payload),
        **kwargs,
    )
    app.testing = True
    return app


@pytest.fixture
def client(settings: Settings, pipeline: Pipeline, rec: Recorder) -> FlaskClient:
    return build_app(settings, pipeline, rec).test_client()


def csrf(client: FlaskClient, page: str = "/editor") -> str:
    match = CSRF.search(client.get(page).get_data(as_text=True))
    assert match, f"no CSRF field on {page}"
    return match.group(1)


def seed(pipeline: Pipeline) -> dict[str, str]:
    """Four notices: failed, sent (with an SMTP reply), bounced (with details), queued."""
    ids = {}
    for name, sub, to in (
        ("failed", "sub-a", "fail@example.com"),
        ("sent", "sub-b", "ok@example.com"),
        ("bounced", "sub-b", "gone@example.net"),
        ("queued", "sub-c", "wait@example.org"),
    ):
        result = pipeline.accept(
            make_event(
                event_id=f"evt-{name}", subscription_id=sub, admin_email=to, invoice_id=f"in-{name}"
            )
        )
        assert result.notice_id
        ids[name] = result.notice_id
    t = pipeline.tracker
    t.transition(
        ids["failed"],
        Status.FAILED,
        "gave up after 4 attempts: 451 try later",
        fields={"last_error": "451 4.3.0 try later"},
    )
    t.transition(
        ids["sent"],
        Status.SENT,
        "accepted by the relay: 250",
        smtp="250 queued",
        fields={"smtp_code": "250", "smtp_message": "2.0.0 Ok: queued as 4XyZ", "smtp_dsn": "1"},
    )
    t.transition(
        ids["bounced"],
        Status.BOUNCED,
        "550 5.1.1 no such user",
        fields={
            "bounce": json.dumps(
                {
                    "kind": "hard",
                    "reason": "user_unknown",
                    "status": "5.1.1",
                    "code": 550,
                    "diagnostic": "mailbox unavailable",
                }
            )
        },
    )
    return ids


# -- previews ---------------------------------------------------------------------------
def test_index_lists_every_case_and_locale(client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    for name in CASES:
        for locale in ("zh_TW", "en"):
            assert f'href="/preview/{name}/{locale}"' in page
    assert len(CASES) >= 9


def test_preview_zh_tw_iframe_source_has_headline(client: FlaskClient) -> None:
    page = client.get("/preview/card_declined/zh_TW").get_data(as_text=True)
    src = re.search(r'<iframe class="notice-frame"[^>]*src="([^"]+)"', page)
    assert src and src.group(1) == "/preview/card_declined/zh_TW/mail.html"
    frame = client.get(src.group(1))
    assert frame.status_code == 200
    assert HEADLINE in frame.get_data(as_text=True)
    assert frame.headers["Content-Security-Policy"].startswith("sandbox allow-same-origin;")
    assert "default-src 'none'" in frame.headers["Content-Security-Policy"]
    # Inlined as sent: the <h1> carries its style attribute.
    assert re.search(r'<h1 style="[^"]+">[^<]*' + HEADLINE, frame.get_data(as_text=True))


def test_preview_page_shows_subject_headers_text_and_widths(client: FlaskClient) -> None:
    page = client.get("/preview/card_declined/en").get_data(as_text=True)
    assert "We couldn&#39;t charge your card" in page
    for header in ("From", "To", "Subject", "Message-ID", "Content-Language"):
        assert f"<th>{header}</th>" in page
    assert 'class="text-part"' in page and "xiaoming.wang@example.com" in page
    assert 'data-width="600"' in page and 'data-width="375"' in page
    assert 'href="/preview/card_declined/en/notice.eml"' in page
    mobile = client.get("/preview/card_declined/en?width=mobile").get_data(as_text=True)
    assert 'style="width: 375px"' in mobile


def test_preview_compare_shows_both_locales(client: FlaskClient) -> None:
    page = client.get("/preview/card_declined").get_data(as_text=True)
    assert 'src="/preview/card_declined/zh_TW/mail.html"' in page
    assert 'src="/preview/card_declined/en/mail.html"' in page


def test_preview_unknown_case_is_404(client: FlaskClient) -> None:
    assert client.get("/preview/nope/en").status_code == 404
    assert client.get("/preview/card_declined/fr").status_code == 404


def test_eml_download_parses_as_multipart_alternative(client: FlaskClient) -> None:
    response = client.get("/preview/card_declined/zh_TW/notice.eml")
    assert response.status_code == 200
    assert response.mimetype == "message/rfc822"
    assert "attachment" in response.headers["Content-Disposition"]
    msg = email.message_from_bytes(response.data, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/alternative"
    assert msg["To"] == "xiaoming.wang@example.com"
    html = msg.get_body(("html",))
    assert html is not None and HEADLINE in html.get_content()


# -- the editor -------------------------------------------------------------------------
def test_editor_invalid_json_shows_reason(client: FlaskClient) -> None:
    response = client.post("/editor", data={"event": "{not json", "csrf_token": csrf(client)})
    assert response.status_code == 422
    assert "not valid JSON" in response.get_data(as_text=True)


def test_editor_invalid_event_shows_publish_reason(client: FlaskClient) -> None:
    payload = make_event(amount=12.5)
    reason = intake.check(intake.Item(0, payload))
    assert reason
    response = client.post(
        "/editor", data={"event": json.dumps(payload), "csrf_token": csrf(client)}
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert f'<span class="reason">{escape(reason)}</span>' in page


def test_editor_valid_event_renders_it(client: FlaskClient) -> None:
    payload = make_event(subscription_name="Edited plan <b>x</b>", locale="en")
    response = client.post(
        "/editor",
        data={"event": json.dumps(payload), "locale": "zh_TW", "csrf_token": csrf(client)},
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "srcdoc=" in page and 'sandbox="allow-same-origin"' in page
    assert HEADLINE in page  # the locale chosen in the form wins over the event's
    assert "<b>x</b>" not in page  # event data is escaped, in the page and in srcdoc


@pytest.fixture
def template_copy(tmp_path: Path) -> Path:
    target = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    later = time.time() + 5  # Jinja compares mtimes; make sure this one differs
    os.utime(path, (later, later))


def test_editor_template_syntax_error_shows_name_and_line(
    settings: Settings, rec: Recorder, template_copy: Path
) -> None:
    lines = (template_copy / "notice.html").read_text(encoding="utf-8").splitlines()
    lines.insert(6, "{% if %}")
    (template_copy / "notice.html").write_text("\n".join(lines), encoding="utf-8")
    client = build_app(settings, None, rec, template_dir=template_copy).test_client()
    response = client.post(
        "/editor", data={"event": json.dumps(make_event()), "csrf_token": _token(client)}
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert '<code class="template-name">notice.html</code>' in page
    assert '<span class="template-line">7</span>' in page
    assert "TemplateSyntaxError" in page
    # The sample previews say so too, instead of a 500.
    assert client.get("/preview/card_declined/en").status_code == 422


def _token(client: FlaskClient) -> str:
    with client.session_transaction() as session:
        session["csrf"] = "test-csrf-token"
    return "test-csrf-token"


def test_editor_template_runtime_error_shows_name_and_line(
    settings: Settings, rec: Recorder, template_copy: Path
) -> None:
    lines = (template_copy / "notice.txt").read_text(encoding="utf-8").splitlines()
    lines.insert(2, "{{ no_such_variable.attr }}")
    (template_copy / "notice.txt").write_text("\n".join(lines), encoding="utf-8")
    client = build_app(settings, None, rec, template_dir=template_copy).test_client()
    response = client.post(
        "/editor", data={"event": json.dumps(make_event()), "csrf_token": _token(client)}
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert '<code class="template-name">notice.txt</code>' in page
    assert '<span class="template-line">3</span>' in page
    assert "no_such_variable" in page


def test_preview_template_edit_shows_on_reload(
    settings: Settings, rec: Recorder, template_copy: Path
) -> None:
    client = build_app(settings, None, rec, template_dir=template_copy).test_client()
    url = "/preview/card_declined/en/mail.html"
    assert "EDITED-MARKER" not in client.get(url).get_data(as_text=True)
    _edit(template_copy / "notice.html", "<body", '<body data-x="1"><p>EDITED-MARKER</p><i')
    assert "EDITED-MARKER" in client.get(url).get_data(as_text=True)


def test_preview_catalog_edit_shows_on_reload(
    monkeypatch: pytest.MonkeyPatch, client: FlaskClient, tmp_path: Path
) -> None:
    import worker.render.i18n

    locales = tmp_path / "locales"
    shutil.copytree(ROOT / "locales", locales)
    monkeypatch.setattr(worker.render.i18n, "resource_dir", lambda name: tmp_path / name)
    url = "/preview/card_declined/zh_TW/mail.html"
    assert HEADLINE in client.get(url).get_data(as_text=True)
    po = locales / "zh_TW" / "LC_MESSAGES" / "messages.po"
    _edit(po, "我們已無法就您的訂用帳戶向您的信用卡收取費用。", "目錄已更新：無法收取費用。")
    page = client.get(url).get_data(as_text=True)
    assert "目錄已更新：無法收取費用。" in page and HEADLINE not in page


# -- security ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    ["/editor", "/editor/notice.eml", "/notices/x/replay", "/dead/x/requeue", "/dead/x/drop"],
)
def test_post_without_csrf_is_forbidden(client: FlaskClient, path: str) -> None:
    assert client.post(path, data={"event": "{}"}).status_code == 403
    _token(client)
    assert client.post(path, data={"csrf_token": "wrong"}).status_code == 403


def test_check_bind_refuses_non_loopback_without_token() -> None:
    for host in ("127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"):
        assert is_loopback(host)
        check_bind(host, None)
    for host in ("0.0.0.0", "::", "192.168.1.10", "example.com"):
        assert not is_loopback(host)
        with pytest.raises(ConfigurationError, match="OPS_TOKEN"):
            check_bind(host, None)
        check_bind(host, "a-long-random-ops-token")


def test_cli_web_refuses_public_bind_with_exit_code_2(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    from worker.cli import main

    configure(settings.with_(ops_token=None))
    try:
        assert main(["web", "--host", "0.0.0.0", "--port", "1"]) == 2
        assert main(["preview", "--host", "10.0.0.1", "--port", "1"]) == 2
    finally:
        configure(None)
    assert "OPS_TOKEN" in capsys.readouterr().err


def test_ops_token_guards_every_page(settings: Settings, pipeline: Pipeline, rec: Recorder) -> None:
    ids = seed(pipeline)
    token = "ops-token-for-tests-0123456789"
    client = build_app(settings.with_(ops_token=token), pipeline, rec).test_client()
    pages = [
        "/",
        "/preview/card_declined/zh_TW",
        "/preview/card_declined/zh_TW/mail.html",
        "/preview/card_declined/en/notice.eml",
        "/preview/card_declined",
        "/editor",
        "/notices",
        f"/notices/{ids['failed']}",
        f"/notices/{ids['failed']}/mail.html",
        "/dead",
        "/metrics",
        "/healthz",
        "/static/app.js",
    ]
    for page in pages:
        assert client.get(page).status_code == 401, page
        assert client.get(page, headers={"Authorization": "Bearer nope"}).status_code == 401
        with client.get(page, headers={"Authorization": f"Bearer {token}"}) as response:
            assert response.status_code == 200, page
    assert client.post("/editor", data={}).status_code == 401
    # The token page's own stylesheet and icon need no token (they hold no data).
    for page in ("/static/app.css", "/favicon.ico"):
        with client.get(page) as response:
            assert response.status_code == 200, page
    assert client.post("/favicon.ico", data={}).status_code in (401, 405)
    # ?token= once: a cookie (not the token itself), and the token leaves the URL.
    response = client.get(f"/notices?status=failed&token={token}")
    assert response.status_code == 303
    assert response.headers["Location"] == "/notices?status=failed"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and token not in cookie
    for page in pages:
        with client.get(page) as response:
            assert response.status_code == 200, page


def test_pages_set_security_headers(client: FlaskClient) -> None:
    for page in ("/", "/preview/card_declined/en/mail.html", "/notices", "/nope"):
        headers = client.get(page).headers
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "SAMEORIGIN"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert "Content-Security-Policy" in headers
    assert "script-src 'self'" in client.get("/").headers["Content-Security-Policy"]


def test_pages_never_show_secrets(fake_redis: fakeredis.FakeRedis, rec: Recorder) -> None:
    secrets = {
        "SECRET_KEY": "secret-key-SHOULD-NOT-LEAK-1",
        "OPS_TOKEN": "ops-token-NOLEAK-22",
        "SMTP_URL": "smtp://mailer:smtp-pass-NOLEAK-3@relay.example.com:587",
    }
    settings = from_env({**secrets, "REDIS_URL": "redis://:redis-pass-NOLEAK-4@127.0.0.1:1/0"})
    pipeline = Pipeline(settings, fake_redis)
    ids = seed(pipeline)
    pipeline.dead.add({"event_id": "bad"}, "admin_email: is required", "admin_email")
    dead_id = pipeline.dead.list()[0]["id"]
    auth = {"Authorization": f"Bearer {secrets['OPS_TOKEN']}"}
    client = build_app(settings, pipeline, rec).test_client()
    bodies = [
        client.get(page, headers=auth).get_data(as_text=True)
        for page in (
            "/",
            "/preview/card_declined/zh_TW",
            "/preview/card_declined/en/notice.eml",
            "/editor",
            "/notices",
            f"/notices/{ids['failed']}",
            f"/notices/{ids['bounced']}",
            "/dead",
            f"/dead/{dead_id}",
            "/metrics",
            "/healthz",
            "/nope",
        )
    ]
    # And an error page naming the store (unreachable, URL with a password).
    down = build_app(settings, None, rec).test_client()
    bodies.append(down.get("/notices", headers=auth).get_data(as_text=True))
    assert "127.0.0.1:1" in bodies[-1]
    for body in bodies:
        for secret in (
            "secret-key-SHOULD-NOT-LEAK-1",
            "ops-token-NOLEAK-22",
            "smtp-pass-NOLEAK-3",
            "redis-pass-NOLEAK-4",
        ):
            assert secret not in body


# -- ops pages --------------------------------------------------------------------------
def test_notices_dashboard_shows_counts_and_filters_by_status(
    client: FlaskClient, pipeline: Pipeline
) -> None:
    ids = seed(pipeline)
    page = client.get("/notices").get_data(as_text=True)
    for status in ("failed", "sent", "bounced", "queued"):
        assert re.search(rf'data-status="{status}">{status} <span class="count">1</span>', page)
    assert all(nid in page for nid in ids.values())
    failed = client.get("/notices?status=failed").get_data(as_text=True)
    assert ids["failed"] in failed and ids["sent"] not in failed and ids["queued"] not in failed
    assert "unknown status" in client.get("/notices?status=bogus").get_data(as_text=True)


def test_notices_filter_by_subscription_address_and_window(
    client: FlaskClient, pipeline: Pipeline
) -> None:
    ids = seed(pipeline)
    page = client.get("/notices?subscription=sub-b").get_data(as_text=True)
    assert ids["sent"] in page and ids["bounced"] in page and ids["failed"] not in page
    page = client.get("/notices?address=GONE@example").get_data(as_text=True)
    assert ids["bounced"] in page and ids["sent"] not in page
    assert "No notices match" in client.get("/notices?until=2001-01-01").get_data(as_text=True)
    page = client.get("/notices?since=2001-01-01T00:00").get_data(as_text=True)
    assert all(nid in page for nid in ids.values())
    assert "since: not a date" in client.get("/notices?since=yesterday").get_data(as_text=True)


def test_notices_dashboard_pages(client: FlaskClient, pipeline: Pipeline) -> None:
    from worker.web.ops import PAGE_SIZE

    for n in range(PAGE_SIZE + 3):
        pipeline.accept(make_event(event_id=f"evt-page-{n}"))
    first = client.get("/notices").get_data(as_text=True)
    assert first.count('<tr data-status="queued">') == PAGE_SIZE and 'rel="next"' in first
    second = client.get("/notices?page=2").get_data(as_text=True)
    assert second.count('<tr data-status="queued">') == 3 and 'rel="prev"' in second


def test_timeline_shows_history_replies_bounce_and_mail(
    client: FlaskClient, pipeline: Pipeline
) -> None:
    ids = seed(pipeline)
    page = client.get(f"/notices/{ids['sent']}").get_data(as_text=True)
    assert "accepted by the relay: 250" in page and "accepted</td>" in page
    assert "2.0.0 Ok: queued as 4XyZ" in page
    assert f'src="/notices/{ids["sent"]}/mail.html"' in page
    assert 'id="replay"' not in page  # a sent notice is never sent again
    bounced = client.get("/notices/evt-bounced").get_data(as_text=True)  # by event id
    assert "user_unknown" in bounced and "5.1.1" in bounced and 'id="replay"' in bounced
    mail = client.get(f"/notices/{ids['bounced']}/mail.html")
    assert HEADLINE in mail.get_data(as_text=True) and "g***@example.net" in mail.get_data(
        as_text=True
    )
    full = client.get(f"/notices/{ids['bounced']}/mail.html?addresses=full")
    assert "gone@example.net" in full.get_data(as_text=True)
    assert mail.headers["Content-Security-Policy"].startswith("sandbox allow-same-origin;")
    assert client.get("/notices/nope").status_code == 404


def test_replay_without_confirm_asks_first(
    client: FlaskClient, pipeline: Pipeline, rec: Recorder
) -> None:
    ids = seed(pipeline)
    token = csrf(client, f"/notices/{ids['failed']}")
    response = client.post(
        f"/notices/{ids['failed']}/replay", data={"csrf_token": token, "reason": "relay fixed"}
    )
    assert response.status_code == 200
    assert 'name="confirm" value="yes"' in response.get_data(as_text=True)
    assert rec.enqueued == []
    assert pipeline.tracker.get(ids["failed"])["status"] == "failed"  # type: ignore[index]


def test_replay_post_calls_replayer_and_requeues(
    client: FlaskClient, pipeline: Pipeline, rec: Recorder
) -> None:
    ids = seed(pipeline)
    token = csrf(client, f"/notices/{ids['failed']}")
    response = client.post(
        f"/notices/{ids['failed']}/replay",
        data={"csrf_token": token, "confirm": "yes", "reason": "relay fixed"},
        follow_redirects=True,
    )
    assert response.status_code == 200
    replayed = pipeline.tracker.history(ids["failed"])[-1]
    assert replayed["status"] == "queued" and replayed["reason"] == "relay fixed"
    assert "to" not in replayed and replayed["by"].startswith("web")
    assert rec.enqueued == [ids["failed"]]
    page = response.get_data(as_text=True)
    assert "queued (failed → queued)" in page and '<span class="status" id="status">queued' in page


def test_replay_with_real_replay_module(
    settings: Settings, pipeline: Pipeline, rec: Recorder
) -> None:
    from worker.notices.replay import replay_notice

    ids = seed(pipeline)
    client = build_app(settings, pipeline, rec, replayer=replay_notice).test_client()
    token = csrf(client, f"/notices/{ids['failed']}")
    page = client.post(
        f"/notices/{ids['failed']}/replay",
        data={"csrf_token": token, "confirm": "yes", "reason": "relay fixed"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert rec.enqueued == [ids["failed"]], page
    assert '<span class="status" id="status">queued' in page
    # A bounced notice needs a new address: the replayer's refusal is shown, nothing queued.
    page = client.post(
        f"/notices/{ids['bounced']}/replay",
        data={"csrf_token": token, "confirm": "yes"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "corrected address" in page and rec.enqueued == [ids["failed"]]
    page = client.post(
        f"/notices/{ids['bounced']}/replay",
        data={"csrf_token": token, "confirm": "yes", "to": "fixed@example.com"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert rec.enqueued == [ids["failed"], ids["bounced"]], page
    assert pipeline.tracker.get(ids["bounced"])["to"] == "fixed@example.com"  # type: ignore[index]


def test_dead_letter_list_show_requeue_and_drop(
    client: FlaskClient, pipeline: Pipeline, rec: Recorder
) -> None:
    bad = make_event(event_id="evt-dead", amount=10)
    pipeline.accept(bad)
    pipeline.accept({"event_id": "evt-dead-2"})
    first, second = (r["id"] for r in pipeline.dead.list())
    listing = client.get("/dead").get_data(as_text=True)
    assert first in listing and second in listing and "amount: must be a decimal" in listing
    token = csrf(client, f"/dead/{second}")
    # Still invalid: kept, reason shown, nothing published.
    page = client.post(
        f"/dead/{second}/requeue", data={"csrf_token": token}, follow_redirects=True
    ).get_data(as_text=True)
    assert "still invalid: amount" in page and rec.published == []
    assert pipeline.dead.get(second) is not None
    # Corrected in the form: published, then dropped.
    fixed = json.dumps(make_event(event_id="evt-dead"))
    client.post(f"/dead/{second}/requeue", data={"csrf_token": token, "payload": fixed})
    assert [p["event_id"] for p in rec.published] == ["evt-dead"]
    assert pipeline.dead.get(second) is None
    client.post(f"/dead/{first}/drop", data={"csrf_token": token})
    assert pipeline.dead.count() == 0


def test_metrics_exposes_series_and_gauges(client: FlaskClient, pipeline: Pipeline) -> None:
    seed(pipeline)
    pipeline.accept({"event_id": "broken"})
    body = client.get("/metrics").get_data(as_text=True)
    # The worker's counters would read zero here whatever the workers did: not served.
    assert "notices_total" not in body and "dead_letters_total" not in body
    assert "process_cpu_seconds_total" in body  # this process's own series
    assert 'notices_in_status{status="failed"} 1.0' in body
    assert 'notices_in_status{status="delivered"} 0.0' in body
    assert "dead_letters_pending 1.0" in body and "tracking_store_up 1.0" in body


def test_healthz_reports_redis(client: FlaskClient, settings: Settings, rec: Recorder) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"redis": True}
    down = build_app(settings.with_(redis_url="redis://127.0.0.1:1/0"), None, rec)
    response = down.test_client().get("/healthz")
    assert response.status_code == 503 and response.get_json() == {"redis": False}


def test_ops_pages_explain_unreachable_redis_and_previews_still_work(
    settings: Settings, rec: Recorder
) -> None:
    client = build_app(settings.with_(redis_url="redis://127.0.0.1:1/0"), None, rec).test_client()
    for page in ("/notices", "/notices/abc", "/dead"):
        response = client.get(page)
        assert response.status_code == 503
        assert "tracking store at redis://127.0.0.1:1/0 is not reachable" in response.get_data(
            as_text=True
        )
    assert "tracking_store_up 0.0" in client.get("/metrics").get_data(as_text=True)
    assert client.get("/preview/card_declined/zh_TW").status_code == 200
    assert HEADLINE in client.get("/preview/card_declined/zh_TW/mail.html").get_data(as_text=True)


def test_memory_store_url_works_without_a_pipeline(settings: Settings, rec: Recorder) -> None:
    client = build_app(settings.with_(redis_url="memory://"), None, rec).test_client()
    assert client.get("/notices").status_code == 200
    assert client.get("/healthz").get_json() == {"redis": True}


def test_timeline_escapes_event_data(client: FlaskClient, pipeline: Pipeline) -> None:
    result = pipeline.accept(make_event(event_id="evt-xss", admin_name="<script>x()</script>"))
    page = client.get(f"/notices/{result.notice_id}").get_data(as_text=True)
    assert "<script>x()" not in page and "&lt;script&gt;x()" in page


def test_timeline_shows_the_sequence_with_its_cancelled_step_and_why(
    settings: Settings, fake_redis: fakeredis.FakeRedis, rec: Recorder
) -> None:
    from tests.support.sequences import make_payment
    from worker.intake.kinds import EventType

    pipeline = Pipeline(settings.with_(reminder_schedule=(3 * 86400.0,)), fake_redis)
    client = build_app(settings, pipeline, rec).test_client()
    intake = pipeline.accept(make_event(invoice_id="in-1"))
    pipeline.handle(make_payment(invoice_id="in-1"), EventType.PAYMENT_SUCCEEDED)
    page = client.get(f"/notices/{intake.notice_id}").get_data(as_text=True)
    assert "<h2>Sequence</h2>" in page and "closed by payment_succeeded pay-1" in page
    assert page.count('data-status="cancelled"') == 2  # the first notice and the reminder
    assert "not sent: payment_succeeded pay-1" in page
    assert "opened by a charge failure" in page
