"""Planning a sequence's later steps: the schedule, the final notice, the send window."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from tests.support.events import make_event
from worker.errors import ConfigurationError
from worker.intake.events import parse_event
from worker.notices.status import Step
from worker.notices.steps import in_window, plan
from worker.settings import Settings
from worker.settings.table import from_env

DAY = 86400.0
START = datetime(2026, 11, 20, 2, 0, tzinfo=UTC).timestamp()  # 10:00 in Taipei


def test_steps_settings_parse_durations_and_the_window() -> None:
    s = from_env(
        {"REMINDER_SCHEDULE": "3d, 7d", "FINAL_NOTICE_BEFORE": "36h", "SEND_WINDOW": "08:00-21:00"}
    )
    assert s.reminder_schedule == (3 * DAY, 7 * DAY)
    assert s.final_notice_before == 36 * 3600
    assert s.send_window == (8 * 60, 21 * 60)
    assert from_env({}).reminder_schedule == () and from_env({}).send_window is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REMINDER_SCHEDULE", "3 days"),
        ("REMINDER_SCHEDULE", "7d,3d"),
        ("REMINDER_SCHEDULE", "0s"),
        ("FINAL_NOTICE_BEFORE", "2w"),
        ("SEND_WINDOW", "21:00-08:00"),
        ("SEND_WINDOW", "8-21"),
    ],
)
def test_steps_bad_settings_are_refused_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        from_env({name: value})


def test_steps_no_schedule_plans_nothing(settings: Settings) -> None:
    assert plan(parse_event(make_event(disable_at="2026-12-20")), settings, START) == []


def test_steps_reminders_and_the_final_notice(settings: Settings) -> None:
    config = settings.with_(reminder_schedule=(3 * DAY, 7 * DAY))
    steps = plan(parse_event(make_event(disable_at="2026-12-20")), config, START)
    assert [(s.step, s.step_no) for s in steps] == [
        (Step.REMINDER, 1),
        (Step.REMINDER, 2),
        (Step.FINAL, 1),
    ]
    assert steps[0].due == START + 3 * DAY and steps[1].due == START + 7 * DAY
    assert steps[2].due == datetime(2026, 12, 18, tzinfo=UTC).timestamp()


def test_steps_no_reminder_on_or_after_the_final_notice(settings: Settings) -> None:
    config = settings.with_(reminder_schedule=(3 * DAY, 7 * DAY))
    steps = plan(parse_event(make_event(disable_at="2026-11-27")), config, START)
    assert [(s.step, s.step_no) for s in steps] == [(Step.REMINDER, 1), (Step.FINAL, 1)]


def test_steps_window_moves_a_night_time_step_to_the_next_morning() -> None:
    taipei = ZoneInfo("Asia/Taipei")
    night = datetime(2026, 11, 23, 23, 30, tzinfo=taipei).timestamp()
    morning = datetime(2026, 11, 24, 8, 0, tzinfo=taipei).timestamp()
    early = datetime(2026, 11, 24, 6, 0, tzinfo=taipei).timestamp()
    inside = datetime(2026, 11, 24, 12, 0, tzinfo=taipei).timestamp()
    window = (8 * 60, 21 * 60)
    assert in_window(night, window, taipei) == morning
    assert in_window(early, window, taipei) == morning
    assert in_window(inside, window, taipei) == inside
    assert in_window(night, None, taipei) == night


def test_steps_event_time_zone_wins_over_the_setting(settings: Settings) -> None:
    config = settings.with_(
        reminder_schedule=(DAY,), send_window=(8 * 60, 21 * 60), timezone="Asia/Taipei"
    )
    # 10:00 UTC is 18:00 in Taipei (inside) but 02:00 in Los Angeles (outside).
    start = datetime(2026, 11, 20, 10, 0, tzinfo=UTC).timestamp()
    assert plan(parse_event(make_event()), config, start)[0].due == start + DAY
    la = plan(parse_event(make_event(timezone="America/Los_Angeles")), config, start)[0]
    local = datetime.fromtimestamp(la.due, ZoneInfo("America/Los_Angeles"))
    assert (local.day, local.hour, local.minute) == (21, 8, 0)
