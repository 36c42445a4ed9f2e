"""A subscription's whole timeline on one page: every sequence, notice and history entry."""

from __future__ import annotations

import re

import fakeredis
from flask.testing import FlaskClient

from tests.support.events import make_event
from tests.support.sequences import make_payment
from tests.test_web import Recorder, build_app
from worker.intake.kinds import EventType
from worker.notices.pipeline import Pipeline
from worker.notices.status import Status
from worker.settings import Settings

TIMES = re.compile(r'<td class="ts lead">([0-9T:.\-]+Z)</td>')


def _seeded(settings: Settings, fake_redis: fakeredis.FakeRedis) -> tuple[Pipeline, FlaskClient]:
    """sub-1: invoice in-1 (first notice and a reminder, then paid: both cancelled) and
    invoice in-2 (first notice sent, then bounced; its reminder scheduled); sub-2: one
    notice of its own."""
    pipeline = Pipeline(settings.with_(reminder_schedule=(3 * 86400.0,)), fake_redis)
    pipeline.accept(make_event(event_id="evt-in-1", subscription_id="sub-1", invoice_id="in-1"))
    pipeline.handle(make_payment(invoice_id="in-1"), EventType.PAYMENT_SUCCEEDED)
    second = pipeline.accept(
        make_event(
            event_id="evt-in-2",
            subscription_id="sub-1",
            invoice_id="in-2",
            admin_email="Bob.Admin@example.net",
        )
    ).notice_id
    assert second
    pipeline.tracker.transition(second, Status.SENT, "accepted by the relay: 250")
    pipeline.tracker.transition(
        second, Status.BOUNCED, "550 5.1.1 <Bob.Admin@example.net>: no such user"
    )
    pipeline.accept(
        make_event(event_id="evt-other", subscription_id="sub-2", admin_email="x@example.org")
    )
    return pipeline, build_app(settings, pipeline, Recorder()).test_client()


def test_subscription_page_lists_every_notice_of_every_sequence_in_time_order(
    settings: Settings, fake_redis: fakeredis.FakeRedis
) -> None:
    pipeline, client = _seeded(settings, fake_redis)
    response = client.get("/subscriptions/sub-1")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    sub1 = [
        r["id"]
        for r in pipeline.tracker.records(pipeline.tracker.ids())
        if r["subscription_id"] == "sub-1"
    ]
    assert len(sub1) == 4  # in-1 and in-2: a first notice and a reminder each
    for notice_id in sub1:
        assert f'<a class="id" href="/notices/{notice_id}">' in page
    notices = page.split('<table class="notices subscription-notices stack">')[1].split("</table>")[
        0
    ]
    assert notices.count("<tr data-status=") == 4
    assert notices.count('data-status="cancelled"') == 2
    assert notices.count('data-status="bounced"') == 1 and "reminder 1" in notices
    timeline = page.split('<table class="history subscription-timeline stack">')[1]
    assert "opened by a charge failure" in timeline and "closed by payment_succeeded" in timeline
    assert "not sent: payment_succeeded pay-1" in timeline and "no such user" in timeline
    times = TIMES.findall(timeline.split("</table>")[0])
    assert len(times) >= 8 and times == sorted(times)
    assert "in-1" in timeline and "in-2" in timeline
    other = pipeline.tracker.find("evt-other")
    assert other and other["id"] not in page


def test_subscription_page_masks_addresses_unless_asked(
    settings: Settings, fake_redis: fakeredis.FakeRedis
) -> None:
    _, client = _seeded(settings, fake_redis)
    masked = client.get("/subscriptions/sub-1").get_data(as_text=True)
    assert "Bob.Admin" not in masked and "admin@example.com" not in masked
    assert "B***@example.net" in masked and "a***@example.com" in masked
    assert 'href="/subscriptions/sub-1?addresses=full"' in masked
    full = client.get("/subscriptions/sub-1?addresses=full").get_data(as_text=True)
    assert "Bob.Admin@example.net" in full and "admin@example.com" in full


def test_subscription_page_is_linked_from_the_notice_and_the_list(
    settings: Settings, fake_redis: fakeredis.FakeRedis
) -> None:
    pipeline, client = _seeded(settings, fake_redis)
    notice = pipeline.tracker.find("evt-in-2")
    assert notice
    page = client.get(f"/notices/{notice['id']}").get_data(as_text=True)
    assert 'id="subscription-link"' in page and 'href="/subscriptions/sub-1"' in page
    assert 'href="/subscriptions/sub-2"' in client.get("/notices").get_data(as_text=True)


def test_subscription_page_unknown_is_404_with_a_search_link(
    settings: Settings, fake_redis: fakeredis.FakeRedis
) -> None:
    _, client = _seeded(settings, fake_redis)
    response = client.get("/subscriptions/nobody")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert 'id="no-subscription"' in page and 'href="/notices?subscription=nobody"' in page


def test_subscription_page_takes_ids_with_slashes_and_escapes_them(
    settings: Settings, fake_redis: fakeredis.FakeRedis
) -> None:
    pipeline = Pipeline(settings, fake_redis)
    odd = "acct/42 <b>&x"
    notice = pipeline.accept(make_event(event_id="evt-odd", subscription_id=odd)).notice_id
    client = build_app(settings, pipeline, Recorder()).test_client()
    link = re.search(
        r'id="subscription-link">Subscription <a class="id long-id" href="([^"]+)"',
        client.get(f"/notices/{notice}").get_data(as_text=True),
    )
    assert link and link.group(1) == "/subscriptions/acct/42%20%3Cb%3E&amp;x"
    page = client.get("/subscriptions/acct/42%20%3Cb%3E&x").get_data(as_text=True)
    assert f'<a class="id" href="/notices/{notice}">' in page
    assert "acct/42 &lt;b&gt;&amp;x" in page and "<b>&x" not in page
