"""The web app in a real browser: Debian's chromium driven by Playwright."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fakeredis
import pytest
import redis
from werkzeug.serving import make_server

from tests.support.events import make_event
from worker.notices import keys
from worker.notices.pipeline import Pipeline
from worker.notices.record import iso
from worker.notices.status import Status
from worker.settings import Settings
from worker.web.app import create_app

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HEADLINE = "向您的信用卡收取費用"


def need_chromium() -> None:
    if Path(CHROMIUM).exists() and shutil.which(CHROMIUM):
        return
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing (CI must have Debian's chromium installed)")
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")


class Served:
    """The app on a free loopback port, in a thread, with what it enqueued and the
    ``(Origin, Sec-Fetch-Site)`` of every POST it was sent."""

    def __init__(self, app: Any, enqueued: list[str]) -> None:
        self.posts: list[tuple[str | None, str | None]] = []
        self.server = make_server("127.0.0.1", 0, self._recording(app), threaded=True)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.enqueued = enqueued
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _recording(self, app: Any) -> Any:
        def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
            if environ["REQUEST_METHOD"] == "POST":
                self.posts.append((environ.get("HTTP_ORIGIN"), environ.get("HTTP_SEC_FETCH_SITE")))
            return app(environ, start_response)

        return wsgi

    def __enter__(self) -> Served:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.thread.join(10)


@pytest.fixture
def pipeline(settings: Settings, request: pytest.FixtureRequest) -> Pipeline:
    """An in-memory store; the real Redis (TEST_REDIS_URL) for a test that asks for
    ``real_redis`` too."""
    if "real_redis" in request.fixturenames:
        return Pipeline(settings, request.getfixturevalue("real_redis"))
    return Pipeline(settings, fakeredis.FakeRedis(decode_responses=True))


@pytest.fixture
def served(settings: Settings, pipeline: Pipeline) -> Iterator[Served]:
    enqueued: list[str] = []
    app = create_app(
        settings, pipeline, enqueue=enqueued.append, publish=lambda task, payload: None
    )
    with Served(app, enqueued) as server:
        yield server


#: The attacker's site: a name the browser resolves to the app's loopback address (what a
#: DNS rebinding attack achieves), or, for cross-site forms, a page served by the test.
EVIL = "evil.example"


@pytest.fixture
def page(served: Served) -> Iterator[Any]:
    need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=[*ARGS, f"--host-resolver-rules=MAP {EVIL} 127.0.0.1"]
        )
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        # Nothing but the app (under its own name or the rebound one): any other request
        # would be an external fetch.
        ours = (served.url, f"http://{EVIL}:{served.port}/")
        context.route(
            "**/*",
            lambda route: (
                route.continue_() if route.request.url.startswith(ours) else route.abort()
            ),
        )
        tab = context.new_page()
        tab.set_default_timeout(15000)
        try:
            yield tab
        finally:
            browser.close()


def test_browser_preview_zh_tw_headline_in_iframe(
    page: Any, served: Served, tmp_path: Path
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(served.url + "/")
    page.get_by_role("link", name="card_declined · zh_TW").click()
    page.wait_for_url("**/preview/card_declined/zh_TW")
    headline = page.frame_locator("iframe.notice-frame").locator("h1")
    headline.wait_for()
    assert HEADLINE in headline.inner_text()
    frame = page.locator("iframe.notice-frame")
    assert frame.bounding_box()["width"] == pytest.approx(600, abs=2)
    page.get_by_role("button", name="phone (375px)").click()
    assert frame.bounding_box()["width"] == pytest.approx(375, abs=2)
    # The notice HTML is sandboxed: no script may run inside it (same-origin only so that
    # the page can read its height).
    assert frame.evaluate("f => [...f.sandbox]") == ["allow-same-origin"]
    script_ran = page.evaluate(
        """() => new Promise(done => {
            const f = document.createElement("iframe");
            f.sandbox = "allow-same-origin";
            f.srcdoc = "<script>parent.ran = true<\\/script>";
            f.onload = () => done(Boolean(window.ran));
            document.body.appendChild(f);
        })"""
    )
    assert script_ran is False
    page.get_by_role("button", name="desktop (600px)").click()
    page.screenshot(path=str(tmp_path / "preview-zh.png"), full_page=True)
    page.screenshot(path="/tmp/preview-zh.png", full_page=True)
    assert (tmp_path / "preview-zh.png").stat().st_size > 10_000
    assert errors == []


def test_browser_side_by_side_and_editor(page: Any, served: Served) -> None:
    page.goto(served.url + "/preview/card_declined")
    frames = page.locator("iframe.notice-frame")
    assert frames.count() == 2
    assert HEADLINE in page.frame_locator("iframe.notice-frame").first.locator("h1").inner_text()
    assert (
        "charge your credit card"
        in page.frame_locator("iframe.notice-frame").nth(1).locator("h1").inner_text()
    )
    page.goto(served.url + "/editor?case=card_declined")
    page.locator("textarea[name=event]").fill(json.dumps(make_event(amount=5)))
    page.get_by_role("button", name="Render").click()
    assert "amount: must be a decimal string" in page.locator("#problem").inner_text()
    page.locator("textarea[name=event]").fill(json.dumps(make_event(admin_name="編輯測試")))
    page.locator("select[name=locale]").select_option("zh_TW")
    page.get_by_role("button", name="Render").click()
    body = page.frame_locator("iframe.notice-frame").locator("body")
    assert HEADLINE in body.inner_text() and "編輯測試" in body.inner_text()


def test_browser_ops_filter_timeline_and_replay(
    page: Any, served: Served, pipeline: Pipeline
) -> None:
    ids: dict[str, str] = {}
    for name in ("failed", "sent", "waiting"):
        ids[name] = (
            pipeline.accept(
                make_event(event_id=f"evt-{name}", admin_email=f"{name}@example.com")
            ).notice_id
            or ""
        )
    pipeline.tracker.transition(
        ids["failed"],
        Status.FAILED,
        "gave up after 4 attempts",
        fields={"last_error": "451 4.3.0 try again later"},
    )
    pipeline.tracker.transition(ids["sent"], Status.SENT, "accepted by the relay: 250")

    page.goto(served.url + "/notices")
    assert page.locator("table.notices tr[data-status]").count() == 3
    page.locator("#filters select[name=status]").select_option("failed")
    page.locator("#filters").get_by_role("button", name="Filter").click()
    page.wait_for_url("**/notices?status=failed*")
    rows = page.locator("table.notices tr[data-status]")
    assert rows.count() == 1 and rows.first.get_attribute("data-status") == "failed"

    rows.first.get_by_role("link", name=ids["failed"]).click()
    page.wait_for_url(f"**/notices/{ids['failed']}")
    assert (
        "gave up after 4 attempts"
        in page.locator("table.history:not(.sequence-timeline)").inner_text()
    )
    assert HEADLINE in page.frame_locator("iframe.notice-frame").locator("h1").inner_text()

    dialogs: list[str] = []

    def accept(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    page.locator("#replay input[name=reason]").fill("relay fixed")
    page.locator("#replay").get_by_role("button", name="Replay").click()
    page.wait_for_url(f"**/notices/{ids['failed']}")
    page.locator(".flash.ok").wait_for()
    assert dialogs == [f"Send notice {ids['failed']} again?"]
    assert served.enqueued == [ids["failed"]]
    assert page.locator("#status").inner_text() == "queued"
    assert "queued (failed → queued)" in page.locator(".flash.ok").inner_text()
    assert "relay fixed" in page.locator("table.history:not(.sequence-timeline)").inner_text()


def test_browser_replay_dismissed_confirm_sends_nothing(
    page: Any, served: Served, pipeline: Pipeline
) -> None:
    notice_id = pipeline.accept(make_event(event_id="evt-keep")).notice_id or ""
    pipeline.tracker.transition(notice_id, Status.FAILED, "gave up")
    page.on("dialog", lambda dialog: dialog.dismiss())
    page.goto(f"{served.url}/notices/{notice_id}")
    page.locator("#replay").get_by_role("button", name="Replay").click()
    page.wait_for_timeout(300)
    assert served.enqueued == [] and page.locator("#status").inner_text() == "failed"


def failed_notice(pipeline: Pipeline) -> str:
    notice_id = pipeline.accept(make_event(event_id="evt-attacked")).notice_id or ""
    pipeline.tracker.transition(notice_id, Status.FAILED, "gave up")
    return notice_id


def test_browser_own_form_posts_origin_null_same_origin_and_is_accepted(
    page: Any, served: Served, pipeline: Pipeline
) -> None:
    notice_id = failed_notice(pipeline)
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{served.url}/notices/{notice_id}")
    page.locator("#replay").get_by_role("button", name="Replay").click()
    page.locator(".flash.ok").wait_for()
    assert served.enqueued == [notice_id]
    # Under Referrer-Policy: no-referrer the browser hides our own origin: Origin: null,
    # with Sec-Fetch-Site saying same-origin; that pair is what the app lets through.
    assert served.posts == [("null", "same-origin")]


def test_browser_cross_site_form_cannot_replay(
    page: Any, served: Served, pipeline: Pipeline
) -> None:
    notice_id = failed_notice(pipeline)
    page.goto(f"{served.url}/notices/{notice_id}")  # the operator has the pages open
    attack = (
        f'<form id="f" method="post" action="{served.url}/notices/{notice_id}/replay">'
        '<input name="confirm" value="yes"></form><script>f.submit()</script>'
    )
    page.route(
        f"http://attacker.{EVIL}/",
        lambda route: route.fulfill(status=200, content_type="text/html", body=attack),
    )
    page.goto(f"http://attacker.{EVIL}/")
    page.wait_for_url(f"{served.url}/notices/{notice_id}/replay")
    assert "refused a cross-site request" in page.locator(".problem").inner_text()
    assert served.posts == [(f"http://attacker.{EVIL}", "cross-site")]
    assert served.enqueued == []
    assert (pipeline.tracker.get(notice_id) or {})["status"] == "failed"


def test_browser_dns_rebinding_reaches_nothing(
    page: Any, served: Served, pipeline: Pipeline
) -> None:
    notice_id = failed_notice(pipeline)
    rebound = f"http://{EVIL}:{served.port}"
    # evil.example now resolves to 127.0.0.1: the attacker's page and the app share an
    # origin as far as the browser knows, so same-origin scripts could read and post...
    response = page.goto(f"{rebound}/notices/{notice_id}")
    assert response.status == 400
    assert "Unknown host" in page.locator("h1").inner_text()
    status = page.evaluate(
        f"""async () => (await fetch("/notices/{notice_id}/replay", {{
            method: "POST", body: new URLSearchParams({{confirm: "yes"}})
        }})).status"""
    )
    # ...but the Host header still names the attacker's site, and that gets 400.
    assert status == 400
    assert served.enqueued == []
    assert (pipeline.tracker.get(notice_id) or {})["status"] == "failed"


def test_browser_missing_chromium_skips_locally_and_fails_under_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import tests.test_browser as module

    monkeypatch.setattr(module, "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        need_chromium()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        need_chromium()


def test_browser_every_notice_fits_a_320px_phone_with_256_character_names() -> None:
    # Names of 256 characters without a space (the most an event may carry) once made the
    # HTML 3,900 px wide: the amount and the instructions were off a phone's screen.
    need_chromium()
    from playwright.sync_api import sync_playwright

    from tests.test_copy import LONG_VALUES
    from tests.test_render import CASES, LOCALES, SETTINGS, event_for
    from worker.render.renderer import Renderer

    renderer = Renderer(SETTINGS)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            tab = browser.new_page(viewport={"width": 320, "height": 640})
            tab.route("**/*", lambda route: route.abort())  # a notice fetches nothing
            for case in sorted(CASES):
                for locale in LOCALES:
                    for values in ({}, LONG_VALUES):
                        html = renderer.render(event_for(case, **values), locale).html
                        tab.set_content(html)
                        width = tab.evaluate("document.documentElement.scrollWidth")
                        assert width <= 320, (case, locale, bool(values), width)
                        amount = tab.locator("td.amount").bounding_box()
                        assert amount is not None and amount["x"] + amount["width"] <= 320
        finally:
            browser.close()


#: Where the browser tests keep their screenshots (README shows some of them).
SHOTS = Path(__file__).parent / "screenshots"


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=True)


def test_browser_preview_frame_fits_mail_and_no_favicon_404(page: Any, served: Served) -> None:
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    page.goto(served.url + "/preview/card_declined/zh-TW")
    frame = page.locator("iframe.notice-frame")
    page.frame_locator("iframe.notice-frame").locator("h1").wait_for()
    page.wait_for_function(
        "f => f.contentDocument && Math.abs(f.clientHeight - "
        "f.contentDocument.documentElement.scrollHeight) <= 2",
        arg=frame.element_handle(),
    )
    inner = frame.evaluate("f => f.contentDocument.documentElement.scrollHeight")
    assert frame.bounding_box()["height"] == pytest.approx(inner + 2, abs=3)
    assert inner != 1000
    # At phone width the mail grows taller, and the frame with it.
    page.get_by_role("button", name="phone (375px)").click()
    taller = frame.evaluate("f => f.contentDocument.documentElement.scrollHeight")
    assert taller > inner
    assert frame.evaluate("f => f.clientHeight") == pytest.approx(taller, abs=2)
    assert page.request.get(served.url + "/favicon.ico").status == 200
    assert missing == []


def test_browser_ops_pages_fit_a_phone(page: Any, served: Served, pipeline: Pipeline) -> None:
    notice_id = failed_notice(pipeline)
    pipeline.accept(make_event(event_id="evt-dead-phone", amount=10))
    page.set_viewport_size({"width": 375, "height": 800})
    for path in ("/notices", f"/notices/{notice_id}", "/dead", "/", "/charts"):
        page.goto(served.url + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, (path, width)
        for link in page.locator("header a").all():
            box = link.bounding_box()
            assert box is not None and box["x"] + box["width"] <= 375, path
    page.goto(served.url + "/notices")
    link = page.locator("table.notices a.id").first
    assert link.evaluate("a => a.getClientRects().length") == 1
    stamp = page.locator("table.notices td.ts").first
    lines = (
        "td => { const r = document.createRange(); r.selectNodeContents(td);"
        " return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size }"
    )
    assert stamp.evaluate(lines) == 1
    # Headers and words wrap between words, never letter by letter ("s t a t u s"): a
    # cell has at most as many lines as words (an address may break: it is one word).
    by_word = (  # lines: runs of the contents' boxes that do not overlap vertically
        "cell => { const r = document.createRange(); r.selectNodeContents(cell);"
        " const boxes = [...r.getClientRects()].filter(x => x.width > 0)"
        ".sort((a, b) => a.top - b.top);"
        " let lines = 0, bottom = -Infinity;"
        " for (const x of boxes) { if (x.top >= bottom - 1) { lines++; bottom = x.bottom }"
        " else bottom = Math.max(bottom, x.bottom) }"
        " return [lines, cell.innerText.trim().split(/\\s+/).length] }"
    )
    shot(page, "ops-notices-375.png")
    for path in ("/notices", f"/notices/{notice_id}", "/dead"):
        page.goto(served.url + path)
        for cell in page.locator("main table th, main table td:not(.address)").all():
            lines, words = cell.evaluate(by_word)
            assert lines <= words, (path, cell.inner_text(), lines)
    page.goto(served.url + "/charts")
    assert page.locator("#chart-statuses svg polyline[data-series=failed]").count() == 1
    shot(page, "charts-375.png")


def seed_outcomes(pipeline: Pipeline) -> str:
    """Sends to a few domains (one long), some waiting minutes in the queue, delivered and
    bounced ones, all of one subscription with a long id; returns that subscription id."""
    sub = "acct-" + "9" * 60
    domains = ("example.com", "mail.example.org", "a-very-long-subdomain.mail.example.co.jp")
    for n in range(9):
        notice_id = pipeline.accept(
            make_event(
                event_id=f"evt-out-{n}",
                subscription_id=sub,
                invoice_id=f"in-{n}",
                admin_email=f"user{n}@{domains[n % 3]}",
            )
        ).notice_id
        assert notice_id
        created = iso(time.time() - 400 * n)
        pipeline.r.hset(keys.notice(notice_id), "created_at", created)
        pipeline.tracker.transition(notice_id, Status.SENT, "accepted by the relay: 250")
        if n % 3 == 1:
            pipeline.tracker.transition(notice_id, Status.DELIVERED, "DSN 2.0.0")
        elif n % 3 == 2:
            pipeline.tracker.transition(notice_id, Status.BOUNCED, "550 5.1.1 no such user")
    return sub


def test_browser_charts_and_subscription_fit_a_phone(
    page: Any, served: Served, pipeline: Pipeline, real_redis: redis.Redis
) -> None:
    sub = seed_outcomes(pipeline)  # into the real Redis the served app reads
    assert real_redis.exists(keys.stats_hour(int(time.time() // 3600)))
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(served.url + "/charts")
    assert page.locator("#chart-latency svg rect[data-percentile='sent-p50']").count() == 1
    assert page.locator("#chart-latency svg rect[data-percentile='delivered-p99']").count() == 1
    bounced = page.locator("#chart-domains svg rect[data-status=bounced]")
    assert bounced.count() == 1
    assert bounced.get_attribute("data-domain") == "a-very-long-subdomain.mail.example.co.jp"
    assert page.locator("#domain-table tr[data-domain]").count() == 3
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    for table in ("#latency-table", "#domain-table"):
        inner = page.locator(table).evaluate("t => t.scrollWidth - t.clientWidth")
        assert inner <= 0, table  # the whole table fits: no scrolling inside it either
    for svg in page.locator("svg.chart").all():
        box = svg.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 375
    shot(page, "charts-latency-domains-375.png")
    page.goto(served.url + f"/subscriptions/{sub}")
    assert page.locator("table.subscription-notices tr[data-status]").count() == 9
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert "user1@" not in page.content()  # masked unless asked
    page.locator("#show-addresses").click()
    assert "user1@mail.example.org" in page.content()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    shot(page, "subscription-375.png")
    page.locator("table.subscription-notices a.id").first.click()
    assert page.locator("#subscription-link").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 375


def test_browser_preview_tabs_widths_dark_toggle_and_search(page: Any, served: Served) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(served.url + "/preview/card_declined/en")
    frame = page.locator("iframe.notice-frame")
    page.frame_locator("iframe.notice-frame").locator("h1").wait_for()
    for tab, shown in (("Text", "pre.text-part"), ("HTML source", "pre.html-source")):
        page.get_by_role("tab", name=tab, exact=True).click()
        assert page.locator(shown).is_visible() and not frame.is_visible()
    page.get_by_role("tab", name="Raw MIME").click()
    assert "ENVID" in page.locator("table.envelope").inner_text()
    assert "MIME-Version: 1.0" in page.locator("pre.raw-mime").inner_text()
    page.get_by_role("tab", name="HTML", exact=True).click()
    assert frame.is_visible() and not page.locator("pre.raw-mime").is_visible()
    page.get_by_role("button", name="tablet (768px)").click()
    assert frame.bounding_box()["width"] == pytest.approx(768, abs=2)
    background = "f => getComputedStyle(f.contentDocument.body).backgroundColor"
    light = frame.evaluate(background)
    page.get_by_role("button", name="dark", exact=True).click()
    dark = frame.evaluate(background)
    assert dark == "rgb(17, 20, 24)" and light != dark
    shot(page, "preview-dark-tablet.png")
    page.get_by_role("button", name="light", exact=True).click()
    assert frame.evaluate(background) == light
    page.goto(served.url + "/")
    page.get_by_role("searchbox").fill("expired")
    visible = page.locator("table.cases tr[data-search]:visible")
    assert visible.count() >= 1
    assert all("expired" in row.inner_text().lower() for row in visible.all())
    shot(page, "index-search.png")
    assert errors == []


@pytest.fixture
def checks_served(settings: Settings) -> Iterator[tuple[Served, Any, Any]]:
    """The app with its brand links on a local HTTP server and its relay an aiosmtpd."""
    import dataclasses

    from tests.support.smtpd import Recorder
    from tests.test_web_checks import LinkServer
    from worker.smtp.server import ServerThread

    links, recorder = LinkServer(), Recorder()
    relay = ServerThread(recorder)
    relay.start()
    configured = settings.with_(
        smtp_url=relay.url,
        brand=dataclasses.replace(
            settings.brand, support_url=f"{links.url}/ok", payment_url=f"{links.url}/moved"
        ),
    )
    app = create_app(configured, None, enqueue=lambda _: None, publish=lambda t, p: None)
    try:
        with Served(app, []) as server:
            yield server, links, recorder
    finally:
        relay.stop()
        links.close()


def test_browser_checks_link_report_and_test_send(
    checks_served: tuple[Served, Any, Any],
) -> None:
    served, links, recorder = checks_served
    need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.set_default_timeout(15000)
            page.goto(served.url + "/preview/card_declined/en")
            page.locator("#checks-link").click()
            page.wait_for_url("**/checks")
            assert "border-radius" in page.locator("table.client-support").inner_text()
            page.get_by_role("button", name="Check link status").click()
            page.wait_for_url("**/checks/links")
            statuses = page.locator("table.links").inner_text()
            assert "200" in statuses and "302" in statuses and "not followed" in statuses
            assert ("HEAD", "/ok") in links.seen
            page.goto(served.url + "/preview/card_declined/en/checks")
            page.locator("#send-test input[name=to]").fill("inbox@example.org")
            page.get_by_role("button", name="Send a test").click()
            page.locator(".flash.ok").wait_for()
            assert "i***@example.org" in page.locator(".flash.ok").inner_text()
            assert [m[1] for m in recorder.messages] == [["inbox@example.org"]]
            shot(page, "checks.png")
        finally:
            browser.close()


def test_browser_preview_live_reloads_after_template_edit(
    settings: Settings, pipeline: Pipeline, tmp_path: Path
) -> None:
    from tests.support.events import ROOT

    need_chromium()
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    app = create_app(settings, None, template_dir=templates)
    from playwright.sync_api import sync_playwright

    with Served(app, []) as served, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(15000)
            # The page has its first fingerprint once its first poll is answered.
            with page.expect_response(lambda r: r.url.endswith("/preview/changes")):
                page.goto(served.url + "/preview/card_declined/en")
            body = page.frame_locator("iframe.notice-frame").locator("body")
            body.locator("h1").wait_for()
            assert "LIVE-MARKER" not in body.inner_text()
            notice = templates / "notice.html"
            text = notice.read_text(encoding="utf-8")
            notice.write_text(text.replace("<body", "<body><p>LIVE-MARKER</p><i", 1))
            page.frame_locator("iframe.notice-frame").get_by_text("LIVE-MARKER").wait_for()
        finally:
            browser.close()


#: The screenshots README's gallery shows, one per page (names kept stable for README; the
#: checks page's is checks.png, taken with its link report filled in).
GALLERY = (
    "page-index.png",
    "page-preview-html.png",
    "page-preview-text.png",
    "page-preview-source.png",
    "page-preview-raw-mime.png",
    "page-editor.png",
    "page-notices.png",
    "page-notice.png",
    "page-dead.png",
    "page-dead-letter.png",
    "page-charts.png",
    "page-subscription.png",
    "page-token.png",
)


def seed_gallery(pipeline: Pipeline) -> tuple[str, str, str]:
    """seed_outcomes, a failed notice and a bounced one with its bounce's details, and two
    dead letters; returns the subscription id, the bounced notice and one dead letter."""
    sub = seed_outcomes(pipeline)
    failed = pipeline.accept(
        make_event(event_id="evt-gallery-failed", admin_email="jane.doe@example.net")
    ).notice_id
    assert failed
    pipeline.tracker.transition(
        failed,
        Status.FAILED,
        "gave up after 4 attempts",
        fields={"last_error": "451 4.3.0 mailbox busy, try again later"},
    )
    bounced = pipeline.tracker.find("evt-out-2")
    assert bounced
    pipeline.r.hset(
        keys.notice(bounced["id"]),
        "bounce",
        json.dumps(
            {
                "kind": "hard",
                "reason": "userunknown",
                "status": "5.1.1",
                "code": 550,
                "diagnostic": f"550 5.1.1 <{bounced['to']}>: no such user",
            }
        ),
    )
    pipeline.accept(make_event(event_id="evt-gallery-dead", amount=10))
    pipeline.accept({"event_id": "evt-gallery-empty", "admin_email": "no.one@example.org"})
    dead = [r["id"] for r in pipeline.dead.list() if r.get("event_id") == "evt-gallery-dead"]
    assert len(dead) == 1
    return sub, bounced["id"], dead[0]


def test_browser_gallery_one_screenshot_per_page(
    page: Any, served: Served, pipeline: Pipeline, settings: Settings
) -> None:
    sub, bounced, dead_id = seed_gallery(pipeline)
    errors: list[str] = []
    missing: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda r: missing.append(r.url) if r.status >= 400 else None)
    page.set_viewport_size({"width": 1280, "height": 900})
    for f in GALLERY:
        (SHOTS / f).unlink(missing_ok=True)

    def visit(path: str, ready: str, name: str) -> None:
        response = page.goto(served.url + path)
        assert response is not None and response.status == 200, path
        page.locator(ready).first.wait_for()
        # Every frame of the page has loaded and been sized to its mail.
        for frame in page.locator("iframe.notice-frame").all():
            page.wait_for_function(
                "f => f.contentDocument && f.contentDocument.readyState === 'complete' && "
                "Math.abs(f.clientHeight - f.contentDocument.documentElement.scrollHeight) <= 2",
                arg=frame.element_handle(),
            )
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280, path
        shot(page, name)

    visit("/", "table.cases tr[data-search]", "page-index.png")
    visit("/preview/card_declined/en", "iframe.notice-frame", "page-preview-html.png")
    for tab, shown, name in (
        ("Text", "pre.text-part", "page-preview-text.png"),
        ("HTML source", "pre.html-source", "page-preview-source.png"),
        ("Raw MIME", "pre.raw-mime", "page-preview-raw-mime.png"),
    ):
        page.get_by_role("tab", name=tab, exact=True).click()
        assert page.locator(shown).is_visible()
        shot(page, name)
    page.goto(served.url + "/editor?case=card_expired")
    page.get_by_role("button", name="Render").click()
    page.wait_for_url("**/editor")
    page.frame_locator("iframe.notice-frame").locator("h1").wait_for()
    shot(page, "page-editor.png")
    visit("/notices", "table.notices tr[data-status]", "page-notices.png")
    visit(f"/notices/{bounced}", "table.bounce", "page-notice.png")
    visit("/dead", "table.dead a.id", "page-dead.png")
    visit(f"/dead/{dead_id}", "#payload", "page-dead-letter.png")
    visit("/charts", "#chart-domains svg", "page-charts.png")
    visit(
        f"/subscriptions/{sub}",
        "table.subscription-notices tr[data-status]",
        "page-subscription.png",
    )
    # Every ops page above showed its addresses masked.
    for path in ("/notices", f"/notices/{bounced}", "/dead", f"/subscriptions/{sub}"):
        page.goto(served.url + path)
        html = page.content()
        assert "user2@" not in html and "jane.doe@" not in html and "no.one@" not in html, path

    assert missing == [] and errors == []
    # The token page, from an app that asks for OPS_TOKEN (a context of its own: the
    # page's one lets nothing but the first app through).
    token_app = create_app(settings.with_(ops_token="gallery-token"), pipeline)
    with Served(token_app, []) as guarded:
        context = page.context.browser.new_context(viewport={"width": 1280, "height": 900})
        context.route(
            "**/*",
            lambda route: (
                route.continue_() if route.request.url.startswith(guarded.url) else route.abort()
            ),
        )
        other = context.new_page()
        refused: list[str] = []
        other.on("response", lambda r: refused.append(r.url) if r.status >= 400 else None)
        response = other.goto(guarded.url + "/notices")
        assert response is not None and response.status == 401
        other.locator("#token-form input[name=token]").wait_for()
        # Styled like every page: its stylesheet and icon load without the token.
        assert other.locator("header").evaluate("h => getComputedStyle(h).display") == "flex"
        assert refused == [guarded.url + "/notices"]
        shot(other, "page-token.png")
        context.close()
    for name in GALLERY:
        assert (SHOTS / name).stat().st_size > 5_000, name


def test_browser_addresses_switch_keeps_the_filter(
    page: Any, served: Served, pipeline: Pipeline
) -> None:
    failed = pipeline.accept(
        make_event(event_id="evt-switch", admin_email="Pat.Switch@example.net")
    ).notice_id
    assert failed
    pipeline.tracker.transition(failed, Status.FAILED, "gave up")
    pipeline.accept(make_event(event_id="evt-other", admin_email="other.one@example.net"))
    page.goto(served.url + "/notices?status=failed")
    assert "Pat.Switch@" not in page.content() and "P***@example.net" in page.content()
    page.locator("#show-addresses").click()
    page.wait_for_url("**/notices?status=failed&addresses=full")
    assert page.locator("table.notices td.address").all_inner_texts() == ["Pat.Switch@example.net"]
    # The filter form keeps the choice: filtering again still shows them in full.
    page.locator("#filters").get_by_role("button", name="Filter").click()
    page.wait_for_url("**addresses=full*")
    assert "Pat.Switch@example.net" in page.content()
    page.locator("#mask-addresses").click()  # the filter's other fields are kept
    page.wait_for_url(lambda url: "status=failed" in url and "addresses=" not in url)
    assert "Pat.Switch@" not in page.content()
