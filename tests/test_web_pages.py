"""Preview and ops page details through Flask's test client: locales, icon, replay, dead letters."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import fakeredis
import pytest
from flask.testing import FlaskClient

from tests.support.events import ROOT, make_event
from tests.test_web import HEADLINE, Recorder, build_app, csrf, seed
from worker.notices.pipeline import Pipeline
from worker.settings import Settings


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def pipeline(settings: Settings, fake_redis: fakeredis.FakeRedis) -> Pipeline:
    return Pipeline(settings, fake_redis)


@pytest.fixture
def client(settings: Settings, pipeline: Pipeline, rec: Recorder) -> FlaskClient:
    return build_app(settings, pipeline, rec).test_client()


def test_preview_locale_accepts_both_spellings(client: FlaskClient) -> None:
    for spelling in ("zh-TW", "zh_TW", "zh-tw"):
        page = client.get(f"/preview/card_declined/{spelling}")
        assert page.status_code == 200, spelling
        mail = client.get(f"/preview/card_declined/{spelling}/mail.html")
        assert HEADLINE in mail.get_data(as_text=True)
    assert client.get("/preview/card_declined/zh-CN").status_code == 404


def test_favicon_is_served_and_linked(client: FlaskClient) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
    assert b"<svg" in icon.data
    assert 'rel="icon" href="/favicon.ico"' in client.get("/").get_data(as_text=True)


def test_editor_eml_named_by_case_and_locale(client: FlaskClient) -> None:
    token = csrf(client, "/editor?case=card_declined")
    page = client.get("/editor?case=card_declined").get_data(as_text=True)
    assert 'name="case" value="card_declined"' in page
    response = client.post(
        "/editor/notice.eml",
        data={
            "csrf_token": token,
            "case": "card_declined",
            "locale": "zh_TW",
            "event": json.dumps(make_event()),
        },
    )
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="card_declined.zh_TW.eml"'
    )
    # A hand-typed case name cannot reach the header.
    response = client.post(
        "/editor/notice.eml",
        data={
            "csrf_token": token,
            "case": 'x"\r\nX: y',
            "locale": "en",
            "event": json.dumps(make_event()),
        },
    )
    assert response.headers["Content-Disposition"] == 'attachment; filename="x-X-y.en.eml"'


def test_replay_refusal_is_worded_for_the_form_and_shown_before_confirming(
    settings: Settings, pipeline: Pipeline, rec: Recorder
) -> None:
    from worker.notices.replay import replay_notice

    ids = seed(pipeline)
    client = build_app(settings, pipeline, rec, replayer=replay_notice).test_client()
    timeline = client.get(f"/notices/{ids['bounced']}").get_data(as_text=True)
    # The browser refuses an empty To before the confirm dialog can open.
    assert 'id="replay-needs-address"' in timeline
    assert 'name="to" type="email" size="32" required' in timeline
    token = csrf(client, f"/notices/{ids['bounced']}")
    # Without confirm=yes (the first POST a script-less browser sends): the refusal, not
    # the confirm page.
    page = client.post(
        f"/notices/{ids['bounced']}/replay",
        data={"csrf_token": token, "to": "gone@example.net"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "the To field holds the address that bounced" in page
    assert "--to" not in page and 'name="confirm"' not in page
    page = client.post(
        f"/notices/{ids['bounced']}/replay",
        data={"csrf_token": token, "confirm": "yes"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "replay only with a corrected address in the To field" in page
    assert rec.enqueued == []


def test_token_page_has_a_field_for_the_token(
    settings: Settings, pipeline: Pipeline, rec: Recorder
) -> None:
    token = "ops-token-for-tests-0123456789"
    client = build_app(settings.with_(ops_token=token), pipeline, rec).test_client()
    page = client.get("/notices")
    assert page.status_code == 401
    text = page.get_data(as_text=True)
    assert 'action="/notices" id="token-form"' in text and 'name="token" type="password"' in text
    # What the form sends: the token once, then the cookie.
    login = client.get("/notices", query_string={"token": token})
    assert login.status_code == 303 and login.headers["Location"] == "/notices"
    assert client.get("/notices").status_code == 200


def test_dead_letter_payload_pretty_and_requeue_links_to_notice(
    client: FlaskClient, pipeline: Pipeline, rec: Recorder
) -> None:
    pipeline.accept(make_event(event_id="evt-dead", amount=10))
    (dead_id,) = (r["id"] for r in pipeline.dead.list())
    page = client.get(f"/dead/{dead_id}").get_data(as_text=True)
    assert "\n  &#34;event_id&#34;: &#34;evt-dead&#34;,\n" in page
    token = csrf(client, f"/dead/{dead_id}")
    response = client.post(
        f"/dead/{dead_id}/requeue",
        data={"csrf_token": token, "payload": json.dumps(make_event(event_id="evt-dead"))},
        follow_redirects=True,
    )
    from worker.notices.record import notice_id_for

    made = notice_id_for("evt-dead")
    assert f'href="/notices/{made}">{made}</a>' in response.get_data(as_text=True)
    assert [p["event_id"] for p in rec.published] == ["evt-dead"]


def test_preview_tabs_show_source_and_raw_mime_with_envelope(client: FlaskClient) -> None:
    page = client.get("/preview/card_declined/en").get_data(as_text=True)
    for tab in ("html", "text", "source", "raw"):
        assert f'data-tab="{tab}"' in page and f'data-panel="{tab}"' in page
    # The HTML source, escaped: markup shown as text, never parsed into the page.
    assert '<pre class="html-source">&lt;!DOCTYPE html&gt;' in page
    assert "Content-Type: multipart/alternative" in page
    assert re.search(r"<th>Return-Path \(MAIL FROM\)</th><td class=\"id\">bounces\+", page)
    assert re.search(r"<th>ENVID</th><td class=\"id\">[0-9a-z]+\.[0-9a-z]+\.[0-9a-f]+</td>", page)
    assert 'data-width="768"' in page
    assert 'style="width: 768px"' in client.get("/preview/card_declined/en?width=tablet").get_data(
        as_text=True
    )


def test_index_shows_subjects_and_searches_them(client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    assert "We couldn&#39;t charge your card" in page and 'type="search" name="q"' in page
    found = client.get("/", query_string={"q": "expired"}).get_data(as_text=True)
    assert 'href="/preview/card_expired/en"' in found
    assert 'href="/preview/card_declined/en"' not in found
    none = client.get("/", query_string={"q": "<nothing>"}).get_data(as_text=True)
    assert "No case or subject matches &lt;nothing&gt;" in none


def test_live_changes_version_moves_when_a_template_changes(
    settings: Settings, rec: Recorder, tmp_path: Path
) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    client = build_app(settings, None, rec, template_dir=templates).test_client()
    page = client.get("/preview/card_declined/en").get_data(as_text=True)
    assert 'data-live="/preview/changes"' in page
    first = client.get("/preview/changes").get_json()["version"]
    assert client.get("/preview/changes").get_json()["version"] == first
    notice = templates / "notice.html"
    notice.write_text(notice.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert client.get("/preview/changes").get_json()["version"] != first


def test_index_has_a_previewable_row_for_every_step_of_a_sequence(client: FlaskClient) -> None:
    from worker.notices.status import Step

    page = client.get("/").get_data(as_text=True)
    rows = re.findall(r'<tr data-search="[^"]*" data-step="([^"]+)">(.*?)</tr>', page, re.S)
    assert {label.split()[0] for label, _ in rows} == {str(s) for s in Step}
    subjects = {}
    for label, row in rows:
        name = re.search(r'<td class="id">([^<]+)</td>', row)
        subject = re.search(r'<div class="subject" lang="en">([^<]*)</div>', row)
        assert name and subject and subject.group(1), label
        subjects[label] = subject.group(1)
        for locale in ("zh_TW", "en"):
            assert f'href="/preview/{name.group(1)}/{locale}"' in row
        if label != "first":
            assert client.get(f"/preview/{name.group(1)}/zh-TW").status_code == 200, label
    assert subjects["reminder 1"].startswith("Reminder:")
    assert subjects["final"].startswith("Final notice:")
    found = client.get("/", query_string={"q": "final"}).get_data(as_text=True)
    assert 'data-step="final"' in found and 'data-step="first"' not in found
