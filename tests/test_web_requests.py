"""Who may talk to the web app: Host allow-list (DNS rebinding) and cross-site refusal."""

from __future__ import annotations

from typing import Any

import fakeredis
import pytest
from flask.testing import FlaskClient

from tests.support.events import make_event
from tests.test_web import Recorder, build_app, csrf
from worker.errors import ConfigurationError
from worker.notices.pipeline import Pipeline
from worker.notices.status import Status
from worker.settings import Settings, from_env
from worker.web.security import host_allowed

TOKEN = "ops-token-for-request-tests-0123"


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def pipeline(settings: Settings, fake_redis: fakeredis.FakeRedis) -> Pipeline:
    return Pipeline(settings, fake_redis)


@pytest.fixture
def client(settings: Settings, pipeline: Pipeline, rec: Recorder) -> FlaskClient:
    return build_app(settings, pipeline, rec).test_client()


def failed_notice(pipeline: Pipeline) -> str:
    notice_id = pipeline.accept(make_event(event_id="evt-rebind")).notice_id or ""
    pipeline.tracker.transition(notice_id, Status.FAILED, "gave up")
    return notice_id


# -- settings ------------------------------------------------------------------------------
def test_settings_allowed_hosts_default_to_loopback_names() -> None:
    assert from_env({}).web_allowed_hosts == ("localhost", "127.0.0.1", "[::1]")
    hosts = from_env({"WEB_ALLOWED_HOSTS": " Ops.Example.com, *.corp.example ,[::1]"})
    assert hosts.web_allowed_hosts == ("ops.example.com", "*.corp.example", "[::1]")


@pytest.mark.parametrize(
    "value", ["ops.example.com:8000", "*", "*.", "a..b", "http://ops.example.com", " , ", "ä.com"]
)
def test_settings_allowed_hosts_refuse_what_is_not_a_host_name(value: str) -> None:
    with pytest.raises(ConfigurationError, match="WEB_ALLOWED_HOSTS"):
        from_env({"WEB_ALLOWED_HOSTS": value})


# -- the Host allow-list --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("localhost", True),
        ("localhost:8000", True),
        ("127.0.0.1:1", True),
        ("[::1]:8000", True),
        ("LOCALHOST:8000", True),
        ("127.0.0.2", False),
        ("localhost.evil.example", False),
        ("evil.example", False),
        ("localhost:0", False),
        ("localhost:70000", False),
        ("", False),
    ],
)
def test_host_allowed_default_names_with_any_port(host: str, allowed: bool) -> None:
    assert host_allowed(host, Settings().web_allowed_hosts) is allowed


def test_host_allowed_wildcard_matches_subdomains_only() -> None:
    allowed = ("ops.example.com", "*.corp.example")
    assert host_allowed("ops.example.com:443", allowed)
    assert host_allowed("a.corp.example", allowed) and host_allowed("a.b.corp.example", allowed)
    for host in ("corp.example", "evilcorp.example", "ops.example.com.evil", "xops.example.com"):
        assert not host_allowed(host, allowed), host


@pytest.mark.parametrize("page", ["/", "/notices", "/metrics", "/healthz", "/nope"])
def test_host_forged_is_refused_with_400(client: FlaskClient, page: str) -> None:
    response = client.get(page, headers={"Host": "evil.example"})
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "evil.example" in body and "WEB_ALLOWED_HOSTS" in body
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_host_rebinding_from_loopback_cannot_replay(
    client: FlaskClient, pipeline: Pipeline, rec: Recorder
) -> None:
    # The attacker's name now resolves to 127.0.0.1: the connection is loopback, the Host
    # header still names the attacker's site. Even with a valid CSRF token, nothing happens.
    notice_id = failed_notice(pipeline)
    token = csrf(client, f"/notices/{notice_id}")
    rebound = {"Host": "evil.example:8000"}
    loopback = {"REMOTE_ADDR": "127.0.0.1"}
    page = client.get(f"/notices/{notice_id}", headers=rebound, environ_base=loopback)
    assert page.status_code == 400 and notice_id not in page.get_data(as_text=True)
    response = client.post(
        f"/notices/{notice_id}/replay",
        data={"csrf_token": token, "confirm": "yes"},
        headers=rebound,
        environ_base=loopback,
    )
    assert response.status_code == 400
    assert rec.enqueued == []
    assert (pipeline.tracker.get(notice_id) or {})["status"] == "failed"


def test_host_check_comes_before_the_token_login(
    settings: Settings, pipeline: Pipeline, rec: Recorder
) -> None:
    client = build_app(settings.with_(ops_token=TOKEN), pipeline, rec).test_client()
    response = client.get(f"/notices?token={TOKEN}", headers={"Host": "evil.example"})
    assert response.status_code == 400 and "Set-Cookie" not in response.headers
    assert client.get(f"/notices?token={TOKEN}").status_code == 303  # and on a good name: 303


def test_host_allow_list_from_settings_replaces_loopback(
    settings: Settings, pipeline: Pipeline, rec: Recorder
) -> None:
    configured = settings.with_(web_allowed_hosts=("ops.example.com", "*.corp.example"))
    client = build_app(configured, pipeline, rec).test_client()
    assert client.get("/", headers={"Host": "ops.example.com"}).status_code == 200
    assert client.get("/", headers={"Host": "web.corp.example:8443"}).status_code == 200
    assert client.get("/", headers={"Host": "localhost"}).status_code == 400


# -- cross-site state changes -----------------------------------------------------------------
def editor_post(client: FlaskClient, headers: dict[str, str], token: str | None) -> Any:
    data = {"event": "{}"} | ({"csrf_token": token} if token is not None else {})
    return client.post("/editor", data=data, headers=headers)


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "cross-site", "Origin": "http://localhost"},
        {"Origin": "http://evil.example"},
        {"Origin": "http://localhost:9999"},
        {"Origin": "http://localhost.evil.example"},
        {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
        {"Origin": "null", "Sec-Fetch-Site": "none"},
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "same-origin"},
    ],
)
@pytest.mark.parametrize("with_token", [True, False])
def test_cross_site_post_is_refused_with_403(
    client: FlaskClient, headers: dict[str, str], with_token: bool
) -> None:
    token = csrf(client) if with_token else None
    response = editor_post(client, headers, token)
    assert response.status_code == 403
    assert "refused" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "null", "Sec-Fetch-Site": "same-origin"},  # our own form, no-referrer
        {"Origin": "null"},  # a browser without Sec-Fetch-Site
        {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"},
        {"Origin": "https://localhost"},  # this app behind its TLS proxy
        {"Sec-Fetch-Site": "none"},
        {},  # curl and scripts: the CSRF token is what they need
    ],
)
def test_cross_site_same_origin_post_is_allowed(
    client: FlaskClient, headers: dict[str, str]
) -> None:
    response = editor_post(client, headers, csrf(client))
    assert response.status_code == 422  # the editor's verdict on "{}": it got through
    assert editor_post(client, headers, None).status_code == 403  # the token still counts


def test_cross_site_replay_requeue_and_drop_change_nothing(
    client: FlaskClient, pipeline: Pipeline, rec: Recorder
) -> None:
    notice_id = failed_notice(pipeline)
    pipeline.accept({"event_id": "evt-dead"})
    dead_id = pipeline.dead.list()[0]["id"]
    token = csrf(client, f"/notices/{notice_id}")
    hostile = {"Origin": "null", "Sec-Fetch-Site": "cross-site"}
    for path in (
        f"/notices/{notice_id}/replay",
        f"/dead/{dead_id}/requeue",
        f"/dead/{dead_id}/drop",
    ):
        response = client.post(path, data={"csrf_token": token, "confirm": "yes"}, headers=hostile)
        assert response.status_code == 403, path
    assert rec.enqueued == [] and rec.published == []
    assert pipeline.dead.get(dead_id) is not None
    assert (pipeline.tracker.get(notice_id) or {})["status"] == "failed"


def test_cross_site_get_is_still_served(client: FlaskClient) -> None:
    # Links from elsewhere may open a page (a GET changes nothing); only changes are refused.
    response = client.get("/notices", headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 200
