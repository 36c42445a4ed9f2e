"""Settings: every variable parsed when a process starts, refused with one line naming it."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest

from tests.support.events import ROOT, SECRET
from tests.support.processes import TEST_REDIS_URL, run_cli, worker_env
from tests.support.smtpd import Recorder
from worker.errors import ConfigurationError
from worker.render.i18n import SUPPORTED
from worker.settings import VARS, Settings, Var, from_env
from worker.settings.model import LOCALE_SUFFIXES
from worker.settings.values import lines
from worker.smtp.server import ServerThread

BAD = [
    ("SMTP_URL", "ftp://relay.example.com"),
    ("SMTP_URL", "smtp://"),
    ("SMTP_URL", "smtp://relay.example.com:99999"),
    ("REDIS_URL", "notaurl"),
    ("REDIS_URL", "redis://localhost:6379/db"),
    ("BROKER_URL", "http://broker"),
    ("TIMEZONE", "Mars/Base"),
    ("SMTP_TIMEOUT", "soon"),
    ("SMTP_TIMEOUT", "nan"),
    ("SMTP_POOL_SIZE", "0"),
    ("METRICS_PORT", "70000"),
    ("SMTP_TLS_VERIFY", "maybe"),
    ("MAIL_FROM", "not an address"),
    ("SEND_RETRY_DELAYS", "60,-1"),
    ("LOG_LEVEL", "LOUD"),
    ("LOG_FORMAT", "xml"),
    ("WEB_ALLOWED_HOSTS", "evil.example:8000"),
    ("BOUNCE_MAX_RECIPIENTS", "0"),
]


@pytest.mark.parametrize(("name", "value"), BAD)
def test_settings_bad_values_are_refused_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        from_env({name: value})
    assert str(refused.value).startswith(name) or name in str(refused.value)
    assert "\n" not in str(refused.value)


def test_settings_every_variable_is_in_the_readme_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## Configuration") :]
    table = table[: table.index("\n## ")]
    documented: set[str] = set()
    # A row's first cell may name several variables (a setting's locale variants).
    for cell in re.findall(r"^\| (`[^|]+) \|", table, re.MULTILINE):
        documented |= set(re.findall(r"`([A-Z0-9_]+)`", cell))
    assert {v.name for v in VARS} <= documented, {v.name for v in VARS} - documented


LOCALIZED = [v for v in VARS if v.localized]


def test_settings_localized_settings_are_the_ones_a_reader_sees() -> None:
    assert {v.name for v in LOCALIZED} == {
        "BRAND_NAME",
        "MAIL_FROM_NAME",
        "SUPPORT_URL",
        "PAYMENT_URL",
        "PROFILE_URL",
        "REACTIVATE_URL",
        "REMITTANCE_ADDRESS",
        "COMPANY_ADDRESS",
    }
    assert set(LOCALE_SUFFIXES) == set(SUPPORTED)


@pytest.mark.parametrize("var", LOCALIZED, ids=lambda v: v.name)
@pytest.mark.parametrize(("locale", "other"), [("zh_TW", "en"), ("en", "zh_TW")])
def test_settings_locale_suffix_wins_for_its_locale(var: Var, locale: str, other: str) -> None:
    def seen(settings: Settings, where: str) -> object:
        local = settings.for_locale(where)
        if var.field == "mail_from_name":
            return local.mail_from.display_name
        return getattr(local.brand, var.field.removeprefix("brand."))

    suffixed = f"{var.name}_{LOCALE_SUFFIXES[locale]}"
    both = from_env({var.name: "plain value", suffixed: "本地 value"})
    assert seen(both, locale) == "本地 value"
    assert seen(both, other) == "plain value"
    # Without the plain variable, the other locale keeps its default.
    alone = from_env({suffixed: "本地 value"})
    assert seen(alone, locale) == "本地 value"
    assert seen(alone, other) == seen(from_env({}), other)
    # A variant is parsed as its plain variable is (one line, unless it holds lines).
    if var.parse is lines:
        assert seen(from_env({suffixed: "a\\nb"}), locale) == "a\nb"
    else:
        with pytest.raises(ConfigurationError, match=suffixed):
            from_env({suffixed: "two\nlines"})


def test_settings_empty_values_keep_the_defaults() -> None:
    assert from_env({v.name: "" for v in VARS}) == from_env({})


@pytest.mark.parametrize(
    ("command", "name"),
    [
        (["notices", "list"], "REDIS_URL"),
        (["publish", "-"], "SMTP_URL"),
        (["bounces", "serve"], "TIMEZONE"),
        (["check"], "SMTP_TIMEOUT"),
    ],
)
def test_settings_every_command_refuses_a_bad_setting_in_one_line(
    command: list[str], name: str
) -> None:
    env = worker_env("smtp://127.0.0.1:1", **{name: dict(BAD)[name]})
    result = run_cli(*command, env=env, stdin="")
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0] and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("changes", "code", "words"),
    [
        ({"SECRET_KEY": ""}, 2, "SECRET_KEY"),
        ({"SMTP_URL": "ftp://x"}, 2, "SMTP_URL"),
        ({"TIMEZONE": "Mars/Base"}, 2, "TIMEZONE"),
        ({"REDIS_URL": TEST_REDIS_URL.rsplit("/", 1)[0] + "/99"}, 2, "REDIS_URL"),
        ({"ALLOW_VOLATILE_REDIS": "false"}, 2, "appendonly"),
        ({"REDIS_URL": "redis://127.0.0.1:1/0"}, 3, "not reachable"),
    ],
)
def test_settings_the_worker_refuses_to_start(
    real_redis: Any, changes: dict[str, str], code: int, words: str
) -> None:
    env = worker_env("smtp://127.0.0.1:1", **changes)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "worker",
            "worker",
            "--without-mingle",
            "--without-gossip",
            "-c",
            "1",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == code, result.stderr[-2000:]
    ours = [line for line in result.stderr.splitlines() if words in line]
    assert len(ours) == 1 and "Traceback" not in result.stderr


@pytest.mark.parametrize("dsn", [True, False])
def test_settings_check_reports_what_the_relay_offers(real_redis: Any, dsn: bool) -> None:
    recorder = Recorder()
    server = ServerThread(recorder, advertise_dsn=dsn)
    server.start()
    try:
        result = run_cli("check", env=worker_env(server.url))
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr
    assert "tracking store: ok" in result.stdout and "relay: ok" in result.stdout
    offers = next(line for line in result.stdout.splitlines() if "offers:" in line)
    assert ("DSN" in offers) is dsn and "SIZE=" in offers
    assert recorder.messages == [] and recorder.rcpt_attempts == []  # nothing sent


def test_settings_check_exits_3_when_the_relay_is_away(real_redis: Any) -> None:
    result = run_cli("check", env=worker_env("smtp://127.0.0.1:1"))
    assert result.returncode == 3 and "relay:" in result.stderr


def test_settings_secret_is_what_every_signing_command_needs(real_redis: Any) -> None:
    env = worker_env("smtp://127.0.0.1:1", SECRET_KEY="")
    for command in (["replay", "x"], ["bounces", "ingest", "-"], ["bounces", "serve"]):
        result = run_cli(*command, env=env, stdin="")
        assert result.returncode == 2 and "SECRET_KEY" in result.stderr, command
    assert run_cli("notices", "list", env=env).returncode == 0
    assert SECRET not in run_cli("check", env=worker_env("smtp://127.0.0.1:1")).stdout
