"""Working days, deadlines and traffic lights of tickets (hotline.sla).

Every test passes its moments explicitly: none reads the clock.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from hotline import sla
from hotline.sla import TZ, ClosedLight, Light, WorkCalendar


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    """A moment in Asia/Shanghai."""
    return datetime(y, m, d, hh, mm, ss, tzinfo=TZ)


def end_of(y: int, m: int, d: int) -> datetime:
    return at(y, m, d, 23, 59, 59)


def write(tmp_path: Path, text: str, name: str = "holidays.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _fresh_caches():
    sla.clear_cache()
    yield
    sla.clear_cache()


# --- the calendar around 国庆 2025 and 春节 2026 (chinesecalendar data) --------------------


@pytest.mark.parametrize("day", range(1, 9))
def test_national_day_2025_october_1_to_8_are_off(day: int) -> None:
    assert not sla.is_workday(date(2025, 10, day))


@pytest.mark.parametrize("adjusted", [date(2025, 9, 28), date(2025, 10, 11)])
def test_national_day_2025_adjusted_weekend_workdays(adjusted: date) -> None:
    assert adjusted.weekday() >= 5  # a Sunday and a Saturday…
    assert sla.is_workday(adjusted)  # …on which offices work (调休上班)


def test_around_national_day_2025_ordinary_days() -> None:
    assert sla.is_workday(date(2025, 9, 30))  # Tuesday before
    assert sla.is_workday(date(2025, 10, 9))  # Thursday after
    assert not sla.is_workday(date(2025, 10, 12))  # ordinary Sunday


@pytest.mark.parametrize("day", range(15, 24))
def test_spring_festival_2026_february_15_to_23_are_off(day: int) -> None:
    assert not sla.is_workday(date(2026, 2, day))


@pytest.mark.parametrize("adjusted", [date(2026, 2, 14), date(2026, 2, 28)])
def test_spring_festival_2026_adjusted_saturday_workdays(adjusted: date) -> None:
    assert adjusted.weekday() == 5
    assert sla.is_workday(adjusted)


def test_datetime_counts_for_its_shanghai_date() -> None:
    # 2025-09-30 17:00 UTC is already 1 October (a holiday) in Shanghai.
    assert not sla.is_workday(datetime(2025, 9, 30, 17, 0, tzinfo=timezone.utc))
    assert sla.is_workday(datetime(2025, 9, 30, 15, 59, tzinfo=timezone.utc))


# --- deadlines ----------------------------------------------------------------------------


def test_deadline_spanning_national_day_2025() -> None:
    # Oct 1–8 off; 9 Thu (1), 10 Fri (2), 11 Sat adjusted workday (3), 13 Mon (4), 14 Tue (5).
    assert sla.add_workdays(at(2025, 9, 30, 10), 5) == end_of(2025, 10, 14)


def test_deadline_spanning_spring_festival_2026() -> None:
    # Fri 13 Feb evening: 14 Sat adjusted workday (1), 15–23 off, 24 Tue (2), 25 Wed (3).
    assert sla.add_workdays(at(2026, 2, 13, 18), 3) == end_of(2026, 2, 25)


def test_friday_evening_with_3_working_days_is_due_end_of_wednesday() -> None:
    deadline = sla.add_workdays(at(2025, 11, 14, 20, 30), 3)
    assert deadline == end_of(2025, 11, 19)
    assert deadline.tzinfo == TZ and deadline.weekday() == 2


def test_the_hour_of_receipt_does_not_matter() -> None:
    morning = sla.add_workdays(at(2025, 11, 14, 0, 0, 1), 3)
    evening = sla.add_workdays(at(2025, 11, 14, 23, 59, 59), 3)
    assert morning == evening == end_of(2025, 11, 19)


def test_ticket_received_on_a_holiday_counts_from_the_next_working_day() -> None:
    assert sla.add_workdays(at(2025, 10, 3, 9), 3) == end_of(2025, 10, 11)
    assert sla.add_workdays(at(2026, 2, 18, 10), 1) == end_of(2026, 2, 24)


def test_ticket_received_on_a_weekend_before_an_adjusted_workday() -> None:
    # Saturday 27 Sep 2025: the next working day is Sunday 28 Sep (调休上班).
    assert sla.add_workdays(at(2025, 9, 27, 15), 1) == end_of(2025, 9, 28)


def test_utc_input_uses_the_shanghai_day() -> None:
    # 16:30 UTC on Friday 14 Nov is already Saturday 15 Nov 00:30 in Shanghai.
    start = datetime(2025, 11, 14, 16, 30, tzinfo=timezone.utc)
    assert sla.add_workdays(start, 3) == end_of(2025, 11, 19)
    # Before 16:00 UTC it is still Friday there: same result, the count starts Monday.
    assert sla.add_workdays(start - timedelta(hours=1), 1) == end_of(2025, 11, 17)


def test_naive_datetimes_are_utc() -> None:
    naive = datetime(2025, 9, 30, 16, 30)  # = 1 Oct 00:30 in Shanghai
    assert sla.as_local(naive) == at(2025, 10, 1, 0, 30)
    assert sla.add_workdays(naive, 1) == end_of(2025, 10, 9)


@pytest.mark.parametrize("bad", [0, -1])
def test_add_workdays_rejects_non_positive_limits(bad: int) -> None:
    with pytest.raises(ValueError):
        sla.add_workdays(at(2025, 11, 14), bad)


@pytest.mark.parametrize("bad", [True, 2.5, "3"])
def test_add_workdays_rejects_non_integer_limits(bad: object) -> None:
    with pytest.raises(TypeError):
        sla.add_workdays(at(2025, 11, 14), bad)  # type: ignore[arg-type]


# --- past the library's data: the bundled file, then Monday–Friday -----------------------


@pytest.mark.parametrize(
    ("day", "festival"),
    [
        (date(2027, 1, 1), "元旦"),
        (date(2027, 2, 5), "除夕"),
        (date(2027, 2, 8), "初三"),
        (date(2027, 4, 5), "清明"),
        (date(2027, 5, 3), "劳动节"),
        (date(2027, 6, 9), "端午"),
        (date(2027, 9, 15), "中秋"),
        (date(2027, 10, 7), "国庆"),
    ],
)
def test_2027_holidays_come_from_the_bundled_file(day: date, festival: str) -> None:
    assert day.weekday() < 5, festival
    assert not sla.is_workday(day), festival
    assert sla.is_provisional(day)


def test_2027_ordinary_days_are_weekdays() -> None:
    assert sla.is_workday(date(2027, 10, 8))  # Friday after 国庆
    assert not sla.is_workday(date(2027, 10, 9))  # Saturday, no 调休 known yet


def test_the_bundled_2027_file_agrees_with_the_library_on_qingming() -> None:
    """清明 is a solar term, which chinesecalendar computes for any year."""
    import chinese_calendar

    span = chinese_calendar.get_solar_terms(date(2027, 4, 1), date(2027, 4, 10))
    terms = {name: day for day, name in span}
    assert terms["清明"] == date(2027, 4, 5)
    assert not sla.is_workday(terms["清明"])


def test_deadline_across_new_year_2027() -> None:
    # Thu 31 Dec 2026; 1 Jan 2027 off (file), 2–3 weekend, 4 Mon (1), 5 Tue (2).
    assert sla.add_workdays(at(2026, 12, 31, 16), 2) == end_of(2027, 1, 5)


def test_2030_falls_back_to_monday_to_friday_without_an_exception(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="hotline.sla"):
        assert sla.is_workday(date(2030, 10, 1))  # a Tuesday; no holiday data
        assert not sla.is_workday(date(2030, 10, 5))  # a Saturday
        deadline = sla.add_workdays(at(2030, 9, 27, 9), 5)  # Friday
        assert deadline == end_of(2030, 10, 4)
    assert sla.is_provisional(date(2030, 10, 1))
    assert "2030" in caplog.text


def test_years_before_the_library_fall_back_too() -> None:
    assert sla.is_workday(date(2003, 3, 3))  # Monday
    assert sla.add_workdays(at(2003, 3, 7), 1) == end_of(2003, 3, 10)


def test_library_years_are_not_provisional() -> None:
    assert not sla.is_provisional(date(2025, 10, 1))
    assert not sla.is_provisional(date(2026, 2, 15))


# --- holidays files that override ---------------------------------------------------------


def test_a_deployment_file_overrides_the_library(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "years:\n"
        "  2025:\n"
        "    holidays: [2025-10-09]   # e.g. a local day off\n"
        "    workdays: ['2025-10-12'] # a local adjusted Sunday\n",
    )
    cal = sla.load_calendar(path)
    assert not cal.is_workday(date(2025, 10, 9))
    assert cal.is_workday(date(2025, 10, 12))
    assert not cal.is_workday(date(2025, 10, 8))  # the rest is still the library's
    # Oct 10 Fri (1), 11 Sat (2), 12 Sun (3) instead of Oct 9/10/11.
    assert sla.add_workdays(at(2025, 9, 30), 3, calendar=cal) == end_of(2025, 10, 12)
    # The default calendar is untouched.
    assert sla.is_workday(date(2025, 10, 9))


def test_a_provisional_block_never_overrides_the_library(tmp_path: Path) -> None:
    path = write(tmp_path, "years:\n  2025:\n    provisional: true\n    holidays: [2025-10-09]\n")
    assert sla.load_calendar(path).is_workday(date(2025, 10, 9))


def test_a_complete_official_year_replaces_the_provisional_list(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "years:\n"
        "  2027:\n"
        "    provisional: false\n"
        "    holidays: [2027-10-01, 2027-10-04, 2027-10-05, 2027-10-06, 2027-10-08]\n"
        "    workdays: [2027-10-09]\n",
    )
    cal = sla.load_calendar(path)
    assert not cal.is_provisional(date(2027, 10, 1))
    assert cal.is_workday(date(2027, 10, 7))  # off in the bundled guess, not in this file
    assert not cal.is_workday(date(2027, 10, 8))
    assert cal.is_workday(date(2027, 10, 9))
    assert cal.is_workday(date(2027, 2, 9))  # bundled guess ignored for the whole year


def test_a_patch_for_a_provisional_year_keeps_it_provisional(tmp_path: Path) -> None:
    # e.g. 广西 壮族三月三 2027 (Apr 9, a Friday) added by a deployment.
    path = write(tmp_path, "years:\n  2027:\n    holidays: [2027-04-09]\n")
    cal = sla.load_calendar(path)
    assert not cal.is_workday(date(2027, 4, 9))
    assert not cal.is_workday(date(2027, 4, 5))  # bundled 清明 still applies
    assert cal.is_provisional(date(2027, 4, 9))


def test_later_files_win(tmp_path: Path) -> None:
    first = write(tmp_path, "years:\n  2025:\n    holidays: [2025-11-14]\n", "a.yml")
    second = write(tmp_path, "years:\n  2025:\n    workdays: [2025-11-14]\n", "b.yml")
    assert not WorkCalendar([first]).is_workday(date(2025, 11, 14))
    assert WorkCalendar([first, second]).is_workday(date(2025, 11, 14))


def test_an_empty_file_changes_nothing(tmp_path: Path) -> None:
    cal = WorkCalendar([write(tmp_path, "")])
    assert cal.is_workday(date(2027, 10, 7))  # no bundled file either: Mon–Fri


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("years:\n  2027:\n    holidays: [2028-01-01]\n", "years.2027.holidays[0]"),
        ("years:\n  2027:\n    holidays: [2027-13-01]\n", "years.2027.holidays[0]"),
        ("years:\n  2027:\n    holidays: [2027-01-01 08:00:00]\n", "years.2027.holidays[0]"),
        (
            "years:\n  2027:\n    holidays: [2027-01-01]\n    workdays: [2027-01-01]\n",
            "years.2027.workdays[0]",
        ),
        ("years:\n  2027:\n    holiday: [2027-01-01]\n", "years.2027.holiday"),
        ("years:\n  2027:\n    provisional: maybe\n", "years.2027.provisional"),
        ("years:\n  2027:\n    holidays: 2027-01-01\n", "years.2027.holidays"),
        ("years:\n  next:\n    holidays: []\n", "years.next"),
        ("2027:\n  holidays: []\n", "'years'"),
        ("years: [\n", "not valid YAML"),
    ],
)
def test_invalid_holidays_files_name_the_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    path = write(tmp_path, text, "bad-holidays.yml")
    with pytest.raises(ValueError) as err:
        WorkCalendar([path])
    assert "bad-holidays.yml" in str(err.value)
    assert key in str(err.value)


def test_the_bundled_file_is_valid_and_marks_2027_provisional() -> None:
    cal = WorkCalendar()
    assert cal.files == (sla.DEFAULT_HOLIDAYS_FILE,)
    assert not cal.is_workday(date(2027, 10, 7)) and cal.is_provisional(date(2027, 10, 7))
    assert WorkCalendar([]).is_workday(date(2027, 10, 7))  # without it: a plain Thursday


# --- working days left --------------------------------------------------------------------


def test_workdays_between_skips_holidays() -> None:
    # Half of Tue 30 Sep + nothing for Oct 1–8 + half of Thu 9 Oct.
    assert sla.workdays_between(at(2025, 9, 30, 12), at(2025, 10, 9, 12)) == 1.0
    assert sla.workdays_between(at(2025, 10, 9, 12), at(2025, 9, 30, 12)) == -1.0


def test_workdays_between_counts_adjusted_weekend_days() -> None:
    assert sla.workdays_between(at(2025, 10, 11), at(2025, 10, 12)) == 1.0  # Sat, adjusted
    assert sla.workdays_between(at(2025, 10, 12), at(2025, 10, 13)) == 0.0  # Sun


def test_workdays_left_on_a_deadline() -> None:
    deadline = end_of(2025, 11, 19)  # Wednesday
    assert sla.workdays_between(at(2025, 11, 18, 23, 59, 59), deadline) == 1.0
    assert sla.workdays_between(at(2025, 11, 15, 12), deadline) == pytest.approx(3.0, abs=1e-4)
    assert sla.workdays_between(deadline + timedelta(seconds=1), deadline) < 0


# --- traffic light ------------------------------------------------------------------------

# 10 working days from Monday 3 Nov 2025: due at the end of Monday 17 Nov.
CREATED_10 = at(2025, 11, 3, 9)
DEADLINE_10 = end_of(2025, 11, 17)
# 3 working days from Friday evening 14 Nov 2025: due at the end of Wednesday 19 Nov.
CREATED_3 = at(2025, 11, 14, 20)
DEADLINE_3 = end_of(2025, 11, 19)


def test_fixture_deadlines() -> None:
    assert sla.add_workdays(CREATED_10, 10) == DEADLINE_10
    assert sla.add_workdays(CREATED_3, 3) == DEADLINE_3


def test_green_with_plenty_of_time() -> None:
    assert sla.traffic_light(CREATED_10, DEADLINE_10, at(2025, 11, 4, 10), 10) is Light.GREEN


def test_yellow_at_exactly_20_percent_left() -> None:
    # 20 % of 10 working days = 2: Fri 14 + Mon 17 (to 23:59:59) + the last second of Thu 13.
    exactly = at(2025, 11, 13, 23, 59, 59)
    assert sla.workdays_between(exactly, DEADLINE_10) == 2.0
    assert sla.traffic_light(CREATED_10, DEADLINE_10, exactly, 10) is Light.YELLOW
    one_second_before = exactly - timedelta(seconds=1)
    assert sla.traffic_light(CREATED_10, DEADLINE_10, one_second_before, 10) is Light.GREEN


def test_yellow_at_exactly_1_working_day_left() -> None:
    # 20 % of 3 days is 0.6, so the 1-day rule decides.
    exactly = at(2025, 11, 18, 23, 59, 59)
    assert sla.workdays_between(exactly, DEADLINE_3) == 1.0
    assert sla.traffic_light(CREATED_3, DEADLINE_3, exactly, 3) is Light.YELLOW
    one_second_before = exactly - timedelta(seconds=1)
    assert sla.traffic_light(CREATED_3, DEADLINE_3, one_second_before, 3) is Light.GREEN


def test_weekend_and_holidays_do_not_count_as_time_left() -> None:
    # Friday 23:59:59 with the deadline on Monday: only Monday is left → yellow.
    deadline = end_of(2025, 11, 17)
    now = at(2025, 11, 14, 23, 59, 59)
    assert sla.traffic_light(at(2025, 11, 10), deadline, now, 5) is Light.YELLOW
    # Before 国庆 2025, due Thu 9 Oct: at noon on 30 Sep, 1.5 working days are left (more
    # than 1 and than 20 % of 5) → green; on 3 Oct only 9 Oct is left → yellow.
    deadline = end_of(2025, 10, 9)
    assert sla.traffic_light(at(2025, 9, 24), deadline, at(2025, 9, 30, 12), 5) is Light.GREEN
    assert sla.traffic_light(at(2025, 9, 24), deadline, at(2025, 10, 3, 12), 5) is Light.YELLOW


def test_yellow_at_the_deadline_red_one_second_after() -> None:
    assert sla.traffic_light(CREATED_3, DEADLINE_3, DEADLINE_3, 3) is Light.YELLOW
    late = DEADLINE_3 + timedelta(seconds=1)
    assert late == at(2025, 11, 20)
    assert sla.traffic_light(CREATED_3, DEADLINE_3, late, 3) is Light.RED


def test_red_on_a_holiday_after_the_deadline() -> None:
    deadline = end_of(2025, 9, 30)
    assert sla.traffic_light(at(2025, 9, 29), deadline, at(2025, 10, 1, 8), 1) is Light.RED


def test_limit_defaults_to_the_time_from_creation_to_deadline() -> None:
    # An extended deadline: 10 working days from creation, whatever limit_days was.
    assert sla.traffic_light(CREATED_10, DEADLINE_10, at(2025, 11, 13, 12)) is Light.GREEN
    # From Mon 3 Nov 09:00 the limit is 15 h + 10 working days ≈ 10.62 days; 20 % ≈ 2.12,
    # so 2.5 days left is green and 2.0 is yellow.
    assert sla.traffic_light(CREATED_10, DEADLINE_10, at(2025, 11, 13, 23, 59, 59)) is Light.YELLOW


def test_traffic_light_accepts_naive_utc_from_the_database() -> None:
    created = CREATED_3.astimezone(timezone.utc).replace(tzinfo=None)
    deadline = DEADLINE_3.astimezone(timezone.utc).replace(tzinfo=None)
    late = deadline + timedelta(seconds=1)
    assert sla.traffic_light(created, deadline, late, 3) is Light.RED
    assert sla.traffic_light(created, deadline, at(2025, 11, 17, 9), 3) is Light.GREEN


def test_traffic_light_rejects_bad_limits() -> None:
    with pytest.raises(ValueError):
        sla.traffic_light(CREATED_3, DEADLINE_3, CREATED_3, 0)


def test_light_labels() -> None:
    assert [(light.zh, light.emoji) for light in Light] == [
        ("绿灯", "🟢"),
        ("黄灯", "🟡"),
        ("红灯", "🔴"),
    ]
    assert Light.RED.value == "red" and Light("yellow") is Light.YELLOW


# --- resolved tickets ---------------------------------------------------------------------


def test_closed_on_time_at_the_deadline_overdue_a_second_later() -> None:
    assert sla.closed_light(DEADLINE_3, DEADLINE_3) is ClosedLight.ON_TIME
    assert sla.closed_light(DEADLINE_3, at(2025, 11, 17, 10)) is ClosedLight.ON_TIME
    late = DEADLINE_3 + timedelta(seconds=1)
    assert sla.closed_light(DEADLINE_3, late) is ClosedLight.OVERDUE
    assert sla.closed_on_time(DEADLINE_3, DEADLINE_3) is True
    assert sla.closed_on_time(DEADLINE_3, late) is False


def test_closed_light_labels() -> None:
    assert ClosedLight.ON_TIME.zh == "按期办结" and ClosedLight.ON_TIME.light is Light.GREEN
    assert ClosedLight.OVERDUE.zh == "超期办结" and ClosedLight.OVERDUE.emoji == "🔴"
