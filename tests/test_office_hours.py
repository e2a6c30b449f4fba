"""Office hours in Asia/Shanghai with the working-day calendar (weekends, 国庆, 调休)."""

from __future__ import annotations

from datetime import datetime, time, timezone

import pytest

from hotline import office_hours as oh
from hotline.office_hours import OfficeHours
from hotline.sla import TZ

HOURS = OfficeHours.parse("Mon-Fri 09:00-18:00")


def sh(month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
       year: int = 2025) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=TZ)


@pytest.mark.parametrize(("now", "expected"), [
    (sh(11, 24, 8, 59, 59), False),
    (sh(11, 24, 9, 0), True),  # the opening minute is open
    (sh(11, 24, 12, 30), True),
    (sh(11, 24, 17, 59, 59), True),
    (sh(11, 24, 18, 0), False),  # the closing minute is closed
    (sh(11, 22, 10, 0), False),  # Saturday
    (sh(11, 23, 10, 0), False),  # Sunday
])
def test_is_open_minutes_and_weekend(now: datetime, expected: bool) -> None:
    assert HOURS.is_open(now) is expected


def test_next_opening_over_a_weekend() -> None:
    friday_evening = sh(11, 21, 18, 0)
    assert HOURS.next_opening(friday_evening) == sh(11, 24, 9, 0)
    assert HOURS.next_opening(sh(11, 22, 15, 0)) == sh(11, 24, 9, 0)
    assert HOURS.next_opening(sh(11, 24, 8, 59)) == sh(11, 24, 9, 0)
    assert HOURS.next_opening(sh(11, 24, 10, 0)) == sh(11, 24, 10, 0)  # open: now
    assert HOURS.closed_notice_zh(friday_evening) == (
        "人工服务时间为工作日 9:00–18:00，下一次开放：11月24日（周一）9:00")


def test_national_day_holiday() -> None:
    # 2025: Oct 1-8 off; Sun Sep 28 and Sat Oct 11 are adjusted workdays (调休上班日)
    assert HOURS.is_open(sh(9, 28, 10, 0))  # Sunday, but a working day
    assert not HOURS.is_open(sh(9, 27, 10, 0))  # an ordinary Saturday
    assert HOURS.next_opening(sh(9, 27, 10, 0)) == sh(9, 28, 9, 0)
    assert HOURS.is_open(sh(9, 30, 17, 59))
    for day in range(1, 9):
        assert not HOURS.is_open(sh(10, day, 10, 0)), day
    assert HOURS.next_opening(sh(9, 30, 18, 0)) == sh(10, 9, 9, 0)
    assert HOURS.next_opening(sh(10, 3, 11, 0)) == sh(10, 9, 9, 0)
    assert HOURS.closed_notice_zh(sh(10, 1, 10, 0)).endswith("下一次开放：10月9日（周四）9:00")
    assert HOURS.next_opening(sh(10, 10, 18, 0)) == sh(10, 11, 9, 0)  # Saturday workday
    assert HOURS.is_open(sh(10, 11, 9, 0))
    assert opening_text(sh(10, 11, 9, 0)) == "10月11日（周六）9:00"
    assert HOURS.next_opening(sh(10, 11, 18, 0)) == sh(10, 13, 9, 0)


def opening_text(moment: datetime) -> str:
    return oh.opening_zh(moment)


def test_without_calendar_holidays_are_ordinary_days() -> None:
    plain = OfficeHours.parse("Mon-Fri 09:00-18:00", use_calendar=False)
    assert plain.is_open(sh(10, 1, 10, 0))
    assert not plain.is_open(sh(9, 28, 10, 0))
    assert plain.describe_zh() == "周一至周五 9:00–18:00"


def test_lunch_break_sessions() -> None:
    hours = OfficeHours.parse("Mon-Fri 09:00-12:00,13:30-17:30")
    assert hours.sessions == ((time(9), time(12)), (time(13, 30), time(17, 30)))
    assert hours.is_open(sh(11, 24, 11, 59))
    assert not hours.is_open(sh(11, 24, 12, 0))
    assert hours.next_opening(sh(11, 24, 12, 0)) == sh(11, 24, 13, 30)
    assert hours.next_opening(sh(11, 24, 17, 30)) == sh(11, 25, 9, 0)
    assert hours.describe_zh() == "工作日 9:00–12:00、13:30–17:30"


def test_weekend_service_in_the_spec() -> None:
    hours = OfficeHours.parse("Sat-Sun 10:00-16:00")
    assert hours.is_open(sh(11, 22, 10, 0))
    assert not hours.is_open(sh(11, 24, 10, 0))
    assert hours.is_open(sh(9, 28, 10, 0))  # a weekend workday is open too
    assert hours.next_opening(sh(11, 24, 10, 0)) == sh(11, 29, 10, 0)
    assert hours.describe_zh() == "周六、周日 10:00–16:00"


def test_utc_and_naive_inputs() -> None:
    # Mon 2025-11-24 01:00 UTC = 09:00 Shanghai
    aware = datetime(2025, 11, 24, 1, 0, tzinfo=timezone.utc)
    assert HOURS.is_open(aware)
    assert HOURS.is_open(datetime(2025, 11, 24, 1, 0))  # naive = UTC
    assert not HOURS.is_open(datetime(2025, 11, 24, 0, 59))
    opening = HOURS.next_opening(datetime(2025, 11, 24, 0, 30, tzinfo=timezone.utc))
    assert opening == aware and opening.tzinfo is TZ


def test_module_functions_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(oh.ENV_VAR, raising=False)
    assert oh.load_office_hours() == HOURS
    assert oh.is_open(sh(11, 24, 9, 0))
    monkeypatch.setenv(oh.ENV_VAR, "Mon-Fri 10:00-16:00")
    assert not oh.is_open(sh(11, 24, 9, 0))
    assert oh.next_opening(sh(11, 24, 9, 0)) == sh(11, 24, 10, 0)


@pytest.mark.parametrize("spec", [
    "", "Mon-Fri", "Mon-Fri 9-18", "Fri-Mon 09:00-18:00", "Xyz 09:00-18:00",
    "Mon-Fri 18:00-09:00", "Mon-Fri 09:00-12:00,11:00-17:00", "Mon-Fri 25:00-26:00",
])
def test_invalid_specs(spec: str) -> None:
    with pytest.raises(ValueError):
        OfficeHours.parse(spec)
