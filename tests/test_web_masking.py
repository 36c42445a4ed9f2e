"""Addresses on the ops pages: masked by default on every one, in full with ?addresses=full."""

from __future__ import annotations

import email
import email.policy
import html
import json
import re

import fakeredis
import pytest
from flask.testing import FlaskClient

from tests.support.events import make_event
from tests.test_web import Recorder, build_app, csrf
from worker.notices.pipeline import Pipeline
from worker.notices.status import Status
from worker.settings import Settings
from worker.web import masking

#: The customer's address, everywhere a page could show it; and a dead letter's.
ADDRESS = "Alice.Customer@example.com"
DEAD_ADDRESS = "dead.person@example.org"
FIXED = "alice.fixed@example.net"


class Seeded:
    """A bounced notice of sub-m whose address is in its record, history, SMTP reply and
    bounce; and a dead letter whose payload and reason name an address."""

    def __init__(self, settings: Settings, fake_redis: fakeredis.FakeRedis) -> None:
        self.rec = Recorder()
        self.pipeline = Pipeline(settings.with_(reminder_schedule=(3 * 86400.0,)), fake_redis)
        notice_id = self.pipeline.accept(
            make_event(
                event_id="evt-m", subscription_id="sub-m", invoice_id="in-m", admin_email=ADDRESS
            )
        ).notice_id
        assert notice_id
        self.notice_id = notice_id
        tracker = self.pipeline.tracker
        tracker.transition(
            notice_id,
            Status.SENT,
            f"accepted by the relay for <{ADDRESS}>: 250",
            fields={"smtp_code": "250", "smtp_message": f"2.0.0 Ok: queued for {ADDRESS}"},
        )
        tracker.transition(
            notice_id,
            Status.BOUNCED,
            f"550 5.1.1 <{ADDRESS}>: no such user",
            fields={
                "last_error": f"550 5.1.1 <{ADDRESS}>: no such user",
                "bounce": json.dumps(
                    {"kind": "hard", "reason": "user_unknown", "final_recipient": ADDRESS}
                ),
            },
        )
        self.dead_id = self.pipeline.dead.add(
            make_event(event_id="evt-dead-m", admin_email=DEAD_ADDRESS, amount=10),
            f"amount: must be a decimal string (for {DEAD_ADDRESS})",
            "amount",
        )
        self.client: FlaskClient = build_app(settings, self.pipeline, self.rec).test_client()

    def pages(self) -> list[str]:
        """Every ops page that shows an address."""
        return [
            "/notices",
            "/notices?status=bounced",
            f"/notices?address={ADDRESS}",
            f"/notices/{self.notice_id}",
            f"/notices/{self.notice_id}/mail.html",
            "/dead",
            f"/dead/{self.dead_id}",
            "/subscriptions/sub-m",
        ]


@pytest.fixture
def seeded(settings: Settings, fake_redis: fakeredis.FakeRedis) -> Seeded:
    return Seeded(settings, fake_redis)


def _body(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def _unmasked(body: str) -> list[str]:
    """The seeded addresses that appear in full. The address search as typed is left
    aside (its field, and the query the page's own links keep): the operator typed it."""
    body = body.replace(f'name="address" value="{ADDRESS}"', "")
    body = body.replace(f"?address={ADDRESS}&amp;", "")
    return [a for a in (ADDRESS, DEAD_ADDRESS) if a.split("@")[0].lower() in body.lower()]


def test_masking_every_ops_page_masks_addresses_by_default(seeded: Seeded) -> None:
    for path in seeded.pages():
        body = _body(seeded.client, path)
        assert _unmasked(body) == [], path
    notice = _body(seeded.client, f"/notices/{seeded.notice_id}")
    assert "A***@example.com" in notice
    for part in ("smtp-reply", "bounce", "history", "event"):
        assert 'class="' + part in notice  # the parts that quote it are on the page, masked
    dead = _body(seeded.client, f"/dead/{seeded.dead_id}")
    assert "d***@example.org" in dead and "(for d***@example.org)" in dead


def test_masking_every_ops_page_shows_addresses_in_full_when_asked(seeded: Seeded) -> None:
    for path in seeded.pages():
        joined = "&" if "?" in path else "?"
        body = html.unescape(_body(seeded.client, f"{path}{joined}addresses=full"))
        wanted = DEAD_ADDRESS if path.startswith("/dead") else ADDRESS
        assert wanted in body, path
        assert 'id="mask-addresses"' in body or path.endswith("mail.html"), path


def test_masking_raw_mime_of_a_notice_is_masked_whatever_its_encoding(seeded: Seeded) -> None:
    page = _body(seeded.client, f"/notices/{seeded.notice_id}")
    raw = re.search(r'<pre class="raw-mime">(.*?)</pre>', page, re.S)
    assert raw
    message = email.message_from_string(html.unescape(raw.group(1)), policy=email.policy.SMTP)
    assert message["To"] == "A***@example.com"
    decoded = "".join(str(part.get_content()) for part in message.walk() if not part.is_multipart())
    assert "A***@example.com" in decoded and "alice.customer" not in decoded.lower()
    assert '<td class="id">A***@example.com</td>' in page  # RCPT TO in the envelope


def test_masking_switch_keeps_the_other_query_parameters(seeded: Seeded) -> None:
    masked = _body(seeded.client, "/notices?status=bounced&since=2001-01-01")
    link = re.search(r'<a href="([^"]+)" id="show-addresses">Show addresses in full</a>', masked)
    assert link
    assert html.unescape(link.group(1)) == (
        "/notices?status=bounced&since=2001-01-01&addresses=full"
    )
    full = _body(seeded.client, html.unescape(link.group(1)))
    back = re.search(r'<a href="([^"]+)" id="mask-addresses">Mask addresses</a>', full)
    assert back and html.unescape(back.group(1)) == "/notices?status=bounced&since=2001-01-01"
    # The filter form and the next page keep the choice too.
    assert '<input type="hidden" name="addresses" value="full">' in full
    assert 'name="addresses"' not in masked
    sub = _body(seeded.client, "/subscriptions/sub-m")
    assert 'href="/subscriptions/sub-m?addresses=full" id="show-addresses"' in sub
    # Pages without addresses have no switch.
    for path in ("/", "/charts", "/editor"):
        assert 'id="addresses-switch"' not in _body(seeded.client, path), path


def test_masking_keeps_the_choice_on_the_next_page_of_notices(
    settings: Settings, fake_redis: fakeredis.FakeRedis
) -> None:
    from worker.web.ops import PAGE_SIZE

    pipeline = Pipeline(settings, fake_redis)
    for n in range(PAGE_SIZE + 1):
        pipeline.accept(make_event(event_id=f"evt-p-{n}", admin_email=f"p{n}.person@example.com"))
    client = build_app(settings, pipeline, Recorder()).test_client()
    full = _body(client, "/notices?addresses=full")
    assert 'rel="next" href="/notices?page=2&amp;addresses=full"' in full
    assert 'rel="next" href="/notices?page=2"' in _body(client, "/notices")


def test_masking_search_by_the_full_address_typed_finds_the_notice(seeded: Seeded) -> None:
    page = _body(seeded.client, f"/notices?address={ADDRESS.upper()}")
    assert page.count("<tr data-status=") == 2  # the notice and its scheduled reminder
    assert seeded.notice_id in page
    assert page.count('<td class="address" data-label="to">A***@example.com</td>') == 2
    assert "No notices match" in _body(seeded.client, "/notices?address=A***@example.com")
    assert f'name="address" value="{ADDRESS.upper()}"' in page  # the search stays as typed


def test_masking_dead_letter_fix_takes_the_full_payload_never_the_masked_one(
    seeded: Seeded,
) -> None:
    client, dead_id = seeded.client, seeded.dead_id
    masked = _body(client, f"/dead/{dead_id}")
    # No field holds the masked payload: requeueing from this page sends what is stored.
    assert 'name="payload"' not in masked and 'id="payload"' in masked
    assert f'href="/dead/{dead_id}?addresses=full" id="correct-payload"' in masked
    full = _body(client, f"/dead/{dead_id}?addresses=full")
    field = re.search(r'<textarea name="payload"[^>]*>(.*?)</textarea>', full, re.S)
    assert field and DEAD_ADDRESS in html.unescape(field.group(1))
    token = csrf(client, f"/dead/{dead_id}")
    fixed = json.loads(html.unescape(field.group(1))) | {"amount": "10.00"}
    response = client.post(
        f"/dead/{dead_id}/requeue?addresses=full",
        data={"csrf_token": token, "payload": json.dumps(fixed)},
    )
    assert response.status_code == 303
    assert [p["admin_email"] for p in seeded.rec.published] == [DEAD_ADDRESS]


def test_masking_dead_letter_requeued_from_the_masked_page_is_the_stored_one(
    seeded: Seeded,
) -> None:
    client = seeded.client
    good = seeded.pipeline.dead.add(make_event(event_id="evt-ok", admin_email=DEAD_ADDRESS), "x")
    token = csrf(client, f"/dead/{good}")
    client.post(f"/dead/{good}/requeue", data={"csrf_token": token})
    assert [p["admin_email"] for p in seeded.rec.published] == [DEAD_ADDRESS]


def test_masking_replay_to_a_typed_address_from_the_masked_page(seeded: Seeded) -> None:
    from worker.notices.replay import replay_notice

    client = build_app(
        seeded.pipeline.settings, seeded.pipeline, seeded.rec, replayer=replay_notice
    ).test_client()
    notice_id = seeded.notice_id
    timeline = _body(client, f"/notices/{notice_id}")
    assert f'action="/notices/{notice_id}/replay"' in timeline
    token = csrf(client, f"/notices/{notice_id}")
    confirm = client.post(
        f"/notices/{notice_id}/replay", data={"csrf_token": token, "to": FIXED}
    ).get_data(as_text=True)
    # What the operator typed is shown as typed (to check it) and sent as typed.
    assert f"<strong>{FIXED}</strong>" in confirm and f'name="to" value="{FIXED}"' in confirm
    page = client.post(
        f"/notices/{notice_id}/replay",
        data={"csrf_token": token, "to": FIXED, "confirm": "yes"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert (seeded.pipeline.tracker.get(notice_id) or {})["to"] == FIXED
    assert seeded.rec.enqueued == [notice_id]
    assert "alice.fixed@" not in page and "a***@example.net" in page  # flash and record


def test_masking_replay_from_the_full_page_returns_to_it(seeded: Seeded) -> None:
    notice_id = seeded.notice_id
    timeline = _body(seeded.client, f"/notices/{notice_id}?addresses=full")
    assert f'action="/notices/{notice_id}/replay?addresses=full"' in timeline
    assert f'src="/notices/{notice_id}/mail.html?addresses=full"' in timeline
    token = csrf(seeded.client, f"/notices/{notice_id}")
    response = seeded.client.post(
        f"/notices/{notice_id}/replay?addresses=full", data={"csrf_token": token}
    )
    assert response.status_code == 303  # bounced: refused without a new address
    assert response.headers["Location"].endswith(f"/notices/{notice_id}?addresses=full")


def test_masking_filters_outside_a_request_mask(seeded: Seeded) -> None:
    assert masking.address(ADDRESS) == "A***@example.com" and masking.address(None) == ""
    assert masking.address("(erased)") == "(erased)"
    assert masking.in_text(f"to <{ADDRESS}>, twice {ADDRESS}") == (
        "to <A***@example.com>, twice A***@example.com"
    )
    assert masking.in_text("A***@example.com") == "A***@example.com"  # masks stay as they are
    with seeded.client.application.test_request_context("/notices?addresses=full"):
        assert masking.address(ADDRESS) == ADDRESS and masking.in_text(ADDRESS) == ADDRESS
    with seeded.client.application.test_request_context("/notices?addresses=yes"):
        assert masking.address(ADDRESS) == "A***@example.com"
