"""The ops cookie that ``?token=`` sets: an issue time, an HMAC, an expiry."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.test_web import Recorder, build_app
from worker.errors import ConfigurationError
from worker.settings import Settings, from_env
from worker.web import security
from worker.web.security import TOKEN_COOKIE, cookie_valid, cookie_value

TOKEN = "ops-token-SESSION-0123456789"
ISSUED = 1_800_000_000
HOUR = 3600


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The time the cookie code reads; tests move it by changing ``clock[0]``."""
    moment = [ISSUED]
    monkeypatch.setattr(security, "now", lambda: moment[0])
    return moment


def ops_client(settings: Settings, token: str = TOKEN, **changes: Any) -> FlaskClient:
    return build_app(settings.with_(ops_token=token, **changes), None, Recorder()).test_client()


def login(client: FlaskClient, token: str = TOKEN) -> str:
    response = client.get(f"/?token={token}")
    assert response.status_code == 303
    cookie = client.get_cookie(TOKEN_COOKIE)
    assert cookie is not None
    return cookie.value


# -- settings ------------------------------------------------------------------------------
def test_settings_session_hours_default_and_validation() -> None:
    assert from_env({}).web_session_hours == 12
    assert from_env({"WEB_SESSION_HOURS": "1"}).web_session_hours == 1
    for bad in ("0", "-3", "half a day", "1.5"):
        with pytest.raises(ConfigurationError, match="WEB_SESSION_HOURS"):
            from_env({"WEB_SESSION_HOURS": bad})


# -- the cookie -----------------------------------------------------------------------------
def test_cookie_carries_issue_time_and_max_age_not_the_token(
    settings: Settings, clock: list[int]
) -> None:
    client = ops_client(settings)
    response = client.get(f"/notices?token={TOKEN}")
    header = response.headers["Set-Cookie"]
    assert "Max-Age=43200" in header and "HttpOnly" in header and "SameSite=Strict" in header
    value = login(client)
    issued, _, mac = value.partition(".")
    assert issued == str(ISSUED) and TOKEN not in value
    expected = hmac.new(
        TOKEN.encode(), f"past-due-notices ops cookie|{ISSUED}".encode(), hashlib.sha256
    )
    assert mac == expected.hexdigest()
    hourly = ops_client(settings, web_session_hours=1)
    assert "Max-Age=3600" in hourly.get(f"/?token={TOKEN}").headers["Set-Cookie"]


def test_cookie_expires_after_session_hours(settings: Settings, clock: list[int]) -> None:
    client = ops_client(settings)
    login(client)
    clock[0] = ISSUED + 12 * HOUR - 1
    assert client.get("/notices").status_code == 200
    clock[0] = ISSUED + 12 * HOUR
    response = client.get("/notices")
    assert response.status_code == 401
    assert "12 hours" in response.get_data(as_text=True)
    # The token itself still works, and logging in again starts a new period.
    assert client.get("/notices", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    login(client)
    assert client.get("/notices").status_code == 200


def test_cookie_expiry_follows_the_setting(settings: Settings, clock: list[int]) -> None:
    client = ops_client(settings, web_session_hours=1)
    login(client)
    clock[0] = ISSUED + HOUR - 1
    assert client.get("/").status_code == 200
    clock[0] = ISSUED + HOUR
    assert client.get("/").status_code == 401


@pytest.mark.parametrize(
    "forge",
    [
        lambda value: f"{ISSUED + 6 * HOUR}.{value.partition('.')[2]}",  # a later issue time
        lambda value: value[:-1] + ("0" if value[-1] != "0" else "1"),  # one digit off
        lambda value: value.partition(".")[2],  # the MAC alone
        lambda value: f"{ISSUED}.",  # no MAC
        lambda value: f"{'١' * 10}.{value.partition('.')[2]}",  # non-ASCII digits
        lambda value: f"-5.{value.partition('.')[2]}",
        lambda value: "",
        lambda value: hmac.new(  # the old never-expiring cookie
            TOKEN.encode(), b"past-due-notices ops cookie", hashlib.sha256
        ).hexdigest(),
    ],
)
def test_cookie_tampered_is_refused(settings: Settings, clock: list[int], forge: Any) -> None:
    client = ops_client(settings)
    value = login(client)
    clock[0] = ISSUED + HOUR
    client.set_cookie(TOKEN_COOKIE, forge(value))
    assert client.get("/notices").status_code == 401


def test_cookie_from_the_future_is_refused(settings: Settings, clock: list[int]) -> None:
    client = ops_client(settings)
    client.set_cookie(TOKEN_COOKIE, cookie_value(TOKEN, ISSUED + 3 * HOUR))
    assert client.get("/").status_code == 401
    client.set_cookie(TOKEN_COOKIE, cookie_value(TOKEN, ISSUED + 60))  # a stepped-back clock
    assert client.get("/").status_code == 200


def test_cookie_from_before_a_token_change_is_refused(settings: Settings, clock: list[int]) -> None:
    previous = "the-old-ops-token-123456"
    old = login(ops_client(settings, token=previous), previous)
    client = ops_client(settings)  # restarted with a new OPS_TOKEN
    client.set_cookie(TOKEN_COOKIE, old)
    assert client.get("/notices").status_code == 401
    assert not cookie_valid(old, TOKEN, 12) and cookie_valid(old, previous, 12)


def test_cookie_compared_in_constant_time(
    settings: Settings, clock: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = ops_client(settings)
    value = login(client)
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert client.get("/").status_code == 200
    assert (value.encode(), value.encode()) in compared
