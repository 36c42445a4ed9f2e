"""The checks page of a preview: link report, SpamAssassin, client CSS support, test-send."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import fakeredis
import pytest
from flask.testing import FlaskClient

from tests.support.smtpd import Recorder as SMTPRecorder
from tests.test_web import Recorder, build_app, csrf
from worker.notices.pipeline import Pipeline
from worker.settings import Settings
from worker.smtp.server import ServerThread
from worker.web import checks
from worker.web.clients import client_report, features_used
from worker.web.links import check_links, links_of
from worker.web.testsend import RateLimit

PAGE = "/preview/card_declined/en/checks"


class LinkServer:
    """A local HTTP server on port 0 that answers by path and records every request."""

    def __init__(self) -> None:
        seen = self.seen = []  # type: list[tuple[str, str]]

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                seen.append((self.command, self.path))
                if self.path == "/nohead" and self.command == "HEAD":
                    self.send_response(405)
                elif self.path == "/moved":
                    self.send_response(302)
                    self.send_header("Location", "http://elsewhere.example/landing")
                elif self.path in ("/ok", "/nohead"):
                    self.send_response(200)
                else:
                    self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_HEAD = do_GET = _answer

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def links_server() -> Iterator[LinkServer]:
    server = LinkServer()
    yield server
    server.close()


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def pipeline(settings: Settings, fake_redis: fakeredis.FakeRedis) -> Pipeline:
    return Pipeline(settings, fake_redis)


def client_for(settings: Settings, pipeline: Pipeline, rec: Recorder) -> FlaskClient:
    # The previews render with the given settings' brand (a pipeline would bring its own).
    return build_app(settings, None, rec).test_client()


def with_brand(settings: Settings, **urls: str) -> Settings:
    return settings.with_(brand=dataclasses.replace(settings.brand, **urls))


def test_links_of_marks_only_trusted_urls_checkable_and_fetches_only_them(
    links_server: LinkServer,
) -> None:
    html = (
        f'<a href="{links_server.url}/ok">ours</a>'
        f'<a href="{links_server.url}/from-event"> an <b>event</b> link</a>'
    )
    links = links_of(html, frozenset({f"{links_server.url}/ok"}))
    assert [(link.text, link.checkable) for link in links] == [
        ("ours", True),
        ("an event link", False),
    ]
    statuses = check_links(links)
    assert list(statuses) == [f"{links_server.url}/ok"]
    assert links_server.seen == [("HEAD", "/ok")]


def test_checks_link_report_fetches_setting_urls_head_then_get_no_redirects(
    settings: Settings, pipeline: Pipeline, rec: Recorder, links_server: LinkServer
) -> None:
    base = links_server.url
    configured = with_brand(
        settings,
        support_url=f"{base}/ok",
        payment_url=f"{base}/nohead",
        profile_url=f"{base}/moved",
        reactivate_url=f"{base}/gone",
    )
    client = client_for(configured, pipeline, rec)
    page = client.get(PAGE).get_data(as_text=True)
    assert f"<code>{base}/nohead</code>" in page and links_server.seen == []
    token = csrf(client, PAGE)
    assert client.post(f"{PAGE}/links").status_code == 403  # no CSRF token
    # A URL in the form is ignored: the server fetches only what settings and templates say.
    page = client.post(
        f"{PAGE}/links", data={"csrf_token": token, "url": f"{base}/typed"}
    ).get_data(as_text=True)
    assert ("HEAD", "/typed") not in links_server.seen and (
        "GET",
        "/typed",
    ) not in links_server.seen
    assert ("HEAD", "/nohead") in links_server.seen and ("GET", "/nohead") in links_server.seen
    assert "HEAD refused; answered a GET" in page
    assert "redirects to http://elsewhere.example/landing (another host; not followed)" in page
    assert [p for _, p in links_server.seen].count("/moved") == 1


def test_checks_spam_score_when_installed_and_said_when_not(
    settings: Settings, pipeline: Pipeline, rec: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = client_for(settings, pipeline, rec)
    token = csrf(client, PAGE)
    if shutil.which("spamassassin"):
        page = client.post(f"{PAGE}/spam", data={"csrf_token": token}).get_data(as_text=True)
        assert 'id="spam-score"' in page and 'class="spam-rules"' in page
    monkeypatch.setenv("PATH", "/nonexistent")
    page = client.post(f"{PAGE}/spam", data={"csrf_token": token}).get_data(as_text=True)
    assert "SpamAssassin is not installed (no spamassassin on PATH)" in page


def test_client_report_lists_css_some_client_drops(
    settings: Settings, pipeline: Pipeline, rec: Recorder
) -> None:
    html = (
        "<style>@media (prefers-color-scheme: dark) { a { color: red } }</style>"
        '<p style="border-radius: 4px; COLOR: red">x</p>'
    )
    assert {"border-radius", "color", "@media (prefers-color-scheme)"} <= features_used(html)
    report = {item.feature: item for item in client_report(html)}
    assert "color" not in report
    assert "display" not in features_used('<p style="display: block">x</p>')
    assert "display" in features_used('<div style="display:inline-flex">x</div>')
    assert "Outlook for Windows (Word rendering engine)" in report["border-radius"].clients
    assert "Gmail (web and apps)" in report["@media (prefers-color-scheme)"].clients
    page = client_for(settings, pipeline, rec).get(PAGE).get_data(as_text=True)
    assert "<td><code>border-radius</code></td>" in page


@pytest.fixture
def smtp_recorder() -> SMTPRecorder:
    return SMTPRecorder()


@pytest.fixture
def relay(smtp_recorder: SMTPRecorder) -> Iterator[ServerThread]:
    server = ServerThread(smtp_recorder)
    server.start()
    yield server
    server.stop()


def test_checks_test_send_reaches_relay_rate_limited_and_logged_masked(
    settings: Settings,
    pipeline: Pipeline,
    rec: Recorder,
    relay: ServerThread,
    smtp_recorder: SMTPRecorder,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(checks, "LIMIT", RateLimit(limit=2))
    client = client_for(settings.with_(smtp_url=relay.url), pipeline, rec)
    token = csrf(client, PAGE)
    caplog.set_level(logging.INFO, logger="worker.web.testsend")
    page = client.post(
        f"{PAGE}/send",
        data={"csrf_token": token, "to": "tester@example.org"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "sent card_declined · en to t***@example.org" in page
    ((sender, rcpts, content),) = smtp_recorder.messages
    assert sender == "billing@example.com" and rcpts == ["tester@example.org"]
    assert b"To: tester@example.org" in content
    assert "tester@example.org" not in caplog.text and "t***@example.org" in caplog.text
    bad = client.post(
        f"{PAGE}/send", data={"csrf_token": token, "to": "x\r\nBcc: a@b.c"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "not sent:" in bad and len(smtp_recorder.messages) == 1
    limited = client.post(
        f"{PAGE}/send",
        data={"csrf_token": token, "to": "tester@example.org"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "at most 2 test-sends a minute" in limited and len(smtp_recorder.messages) == 1
    assert client.post(f"{PAGE}/send", data={"to": "tester@example.org"}).status_code == 403


def test_rate_limit_window_slides() -> None:
    limit = RateLimit(limit=2, window=60)
    assert limit.allow("a", 0) and limit.allow("a", 1) and not limit.allow("a", 2)
    assert limit.allow("b", 2) and limit.allow("a", 61)
