"""Working-day calendar and the deadline clock of tickets (诉求工单).

Why this module exists: a ticket's time limit is promised in working days (工作日), and
in China those are not simply Monday to Friday. Statutory holidays (法定节假日) fall on
weekdays, and the State Council's yearly arrangement moves days off next to them in
exchange for weekend working days (调休上班日). A deadline counted on a plain weekday
calendar would be wrong by a week around 春节 or 国庆.

Where the answer for a date comes from, first match wins:

1. holidays files, blocks without ``provisional: true``: deployment data, which may
   override the library (a regional holiday, a corrected 调休);
2. the ``chinesecalendar`` library (official arrangements up to its last year, 2026 in
   version 1.11);
3. holidays files, blocks with ``provisional: true`` (the bundled
   ``hotline/data/holidays.yml`` has 2027), unless a block marks that year complete
   with ``provisional: false``;
4. Monday to Friday, with a logged warning: a deadline is always computed, never an
   exception, because a ticket must be accepted whatever the year.

Time rules, decided here once for the whole product:

- Everything is Asia/Shanghai (:data:`TZ`): a day starts and ends at local midnight.
- A naive datetime is taken as UTC: the project stores UTC, and SQLite hands
  ``DateTime(timezone=True)`` values back without their offset.
- Counting starts the day after the ticket is received, whatever the hour, and on a
  holiday or weekend from the next working day (《民法典》第二百零一条: the first day
  of a period is not counted). The deadline is the end of the N-th working day after the
  creation day, 23:59:59 local (the period ends at 24:00, art. 203). A ticket received
  on Friday evening with 3 working days is due at the end of Wednesday; so is one
  received on the Saturday after.
- A ticket is overdue once ``now > deadline``; resolved at the deadline is on time.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from enum import Enum
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
import yaml

log = logging.getLogger(__name__)

TZ = ZoneInfo("Asia/Shanghai")
"""The hotline's time zone: working days, deadlines and ticket numbers are local days."""

DEFAULT_HOLIDAYS_FILE = Path(__file__).resolve().parent / "data" / "holidays.yml"
"""The bundled holidays file, always loaded first by :func:`load_calendar`."""

END_OF_DAY = time(23, 59, 59)
"""Time of day of every deadline: the last second of the last working day."""

YELLOW_SHARE = Fraction(1, 5)
"""Yellow when at most this share of the time limit remains (also at ≤ 1 working day)."""

StrPath = str | os.PathLike[str]

_DAY = timedelta(days=1)
_BLOCK_FIELDS = frozenset({"provisional", "source", "holidays", "workdays"})


class Light(str, Enum):
    """Traffic light (红绿灯) of an open ticket, as shown to enterprises and staff."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"

    @property
    def zh(self) -> str:
        return _LIGHT_ZH[self]

    @property
    def emoji(self) -> str:
        return _LIGHT_EMOJI[self]


_LIGHT_ZH = {Light.GREEN: "绿灯", Light.YELLOW: "黄灯", Light.RED: "红灯"}
_LIGHT_EMOJI = {Light.GREEN: "🟢", Light.YELLOW: "🟡", Light.RED: "🔴"}


class ClosedLight(str, Enum):
    """How a resolved ticket ended against its deadline (按期/超期办结)."""

    ON_TIME = "on_time"
    OVERDUE = "overdue"

    @property
    def zh(self) -> str:
        return "按期办结" if self is ClosedLight.ON_TIME else "超期办结"

    @property
    def light(self) -> Light:
        """The colour a list of tickets shows for it: green on time, red overdue."""
        return Light.GREEN if self is ClosedLight.ON_TIME else Light.RED

    @property
    def emoji(self) -> str:
        return self.light.emoji


# --- time helpers -------------------------------------------------------------------------


def _utc(moment: datetime) -> datetime:
    """Aware UTC instant; a naive datetime is UTC (see the module docstring)."""
    if not isinstance(moment, datetime):
        raise TypeError(f"expected a datetime, got {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def as_local(moment: datetime) -> datetime:
    """The same instant in Asia/Shanghai, for display and for finding its local day."""
    return _utc(moment).astimezone(TZ)


def _local_date(day: date) -> date:
    if isinstance(day, datetime):
        return as_local(day).date()
    if not isinstance(day, date):
        raise TypeError(f"expected a date, got {type(day).__name__}")
    return day


def _day_start(day: date) -> datetime:
    """Local midnight opening ``day``, as a UTC instant."""
    return datetime.combine(day, time(0), tzinfo=TZ).astimezone(timezone.utc)


def _check_days(days: int, name: str = "days") -> int:
    if isinstance(days, bool) or not isinstance(days, int):
        raise TypeError(f"{name} must be an int number of working days, got {days!r}")
    if days < 1:
        raise ValueError(f"{name} must be at least 1 working day, got {days}")
    return days


# --- holidays files -----------------------------------------------------------------------


@dataclass(frozen=True)
class _YearBlock:
    year: int
    provisional: bool | None  # None: a patch that says nothing about completeness
    days: dict[date, bool]  # date → is a working day


class _DatesAsText(yaml.SafeLoader):
    """Leaves dates as text, so that a bad one is reported with its key, not as a YAML error."""


_DatesAsText.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _parse_date(path: Path, key: str, value: Any) -> date:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{path}: {key}: expected a date YYYY-MM-DD, got {value!r}")


def _read_holidays_file(path: Path) -> list[_YearBlock]:
    """Parse and check a holidays file; a ValueError names the file and the key."""
    with path.open(encoding="utf-8") as fh:
        try:
            data = yaml.load(fh, Loader=_DatesAsText)  # a SafeLoader subclass
        except yaml.YAMLError as exc:
            raise ValueError(f"{path}: not valid YAML: {exc}") from exc
    if data is None:
        return []
    if not isinstance(data, dict) or set(data) != {"years"}:
        raise ValueError(f"{path}: expected a mapping with the single key 'years'")
    years = data["years"] or {}
    if not isinstance(years, dict):
        raise ValueError(f"{path}: years: expected a mapping of year → block")
    blocks: list[_YearBlock] = []
    for raw_year, spec in years.items():
        try:
            year = int(str(raw_year))
        except ValueError:
            raise ValueError(f"{path}: years.{raw_year}: not a year") from None
        key = f"years.{year}"
        if not isinstance(spec, dict):
            raise ValueError(f"{path}: {key}: expected a mapping, got {spec!r}")
        unknown = sorted(str(k) for k in spec if k not in _BLOCK_FIELDS)
        if unknown:
            raise ValueError(
                f"{path}: {key}.{unknown[0]}: unknown key (allowed: {', '.join(sorted(_BLOCK_FIELDS))})"
            )
        provisional = spec.get("provisional")
        if provisional is not None and not isinstance(provisional, bool):
            raise ValueError(f"{path}: {key}.provisional: expected true or false")
        days: dict[date, bool] = {}
        for field, working in (("holidays", False), ("workdays", True)):
            items = spec.get(field) or []
            if not isinstance(items, list):
                raise ValueError(f"{path}: {key}.{field}: expected a list of dates")
            for i, item in enumerate(items):
                item_key = f"{key}.{field}[{i}]"
                day = _parse_date(path, item_key, item)
                if day.year != year:
                    raise ValueError(f"{path}: {item_key}: {day} is not in {year}")
                if days.get(day, working) != working:
                    raise ValueError(f"{path}: {item_key}: {day} is both a holiday and a workday")
                days[day] = working
        blocks.append(_YearBlock(year=year, provisional=provisional, days=days))
    return blocks


@lru_cache(maxsize=8192)
def _library_is_workday(day: date) -> bool | None:
    """The library's answer, or None for a year it has no data for."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


# --- the calendar -------------------------------------------------------------------------


class WorkCalendar:
    """Working days from holidays files layered over the library (see the module docstring).

    Files are applied in order; for a date listed in several, the later file wins. Build
    one per set of files (:func:`load_calendar` caches them); after construction an
    instance only records which years it has warned about, so threads can share it.
    """

    def __init__(self, files: Iterable[StrPath] = (DEFAULT_HOLIDAYS_FILE,)) -> None:
        self.files: tuple[Path, ...] = tuple(Path(f) for f in files)
        self._patches: dict[date, bool] = {}
        self._provisional: dict[date, bool] = {}
        self._provisional_years: set[int] = set()
        self._complete_years: set[int] = set()
        self._warned: set[int] = set()
        for path in self.files:
            for block in _read_holidays_file(path):
                if block.provisional:
                    self._provisional.update(block.days)
                    self._provisional_years.add(block.year)
                else:
                    self._patches.update(block.days)
                    if block.provisional is False:
                        self._complete_years.add(block.year)

    def is_workday(self, day: date) -> bool:
        """Whether staff work on ``day`` (a datetime counts for its Asia/Shanghai date)."""
        day = _local_date(day)
        known = self._patches.get(day)
        if known is not None:
            return known
        known = _library_is_workday(day)
        if known is not None:
            return known
        if day.year not in self._complete_years:
            self._warn_once(day.year)
            known = self._provisional.get(day)
            if known is not None:
                return known
        return day.weekday() < 5

    def is_provisional(self, day: date) -> bool:
        """True when the answer for ``day``'s year is a guess, not an official arrangement.

        That is: the library does not know the year and no file gives it as complete
        (``provisional: false``). A UI can mark such deadlines as tentative.
        """
        day = _local_date(day)
        return _library_is_workday(day) is None and day.year not in self._complete_years

    def add_workdays(self, start: datetime, days: int) -> datetime:
        """Deadline of a ticket received at ``start`` with a limit of ``days`` working days.

        The end (23:59:59 Asia/Shanghai) of the ``days``-th working day after the local
        day of ``start``; returned as an aware datetime in :data:`TZ`.
        """
        _check_days(days)
        day = as_local(start).date()
        remaining = days
        while remaining:
            day += _DAY
            if self.is_workday(day):
                remaining -= 1
        return datetime.combine(day, END_OF_DAY, tzinfo=TZ)

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Time from ``a`` to ``b`` that falls on working days; negative when ``b < a``.

        Exact (a timedelta, not a float) so that thresholds such as "exactly 20 % left"
        compare without rounding.
        """
        start, end = _utc(a), _utc(b)
        if end < start:
            return -self.working_time_between(b, a)
        total = timedelta(0)
        day = start.astimezone(TZ).date()
        last = end.astimezone(TZ).date()
        while day <= last:
            if self.is_workday(day):
                lo = max(_day_start(day), start)
                hi = min(_day_start(day + _DAY), end)
                if hi > lo:
                    total += hi - lo
            day += _DAY
        return total

    def workdays_between(self, a: datetime, b: datetime) -> float:
        """Working days from ``a`` to ``b`` (fractional; negative when ``b`` is earlier).

        With ``b`` a deadline this is what is left: a whole working day counts 1, the rest
        of today counts its share of 24 h, weekends and holidays count 0.
        """
        return self.working_time_between(a, b) / _DAY

    def _warn_once(self, year: int) -> None:
        if year in self._warned:
            return
        self._warned.add(year)
        if year in self._provisional_years:
            log.warning("holidays of %s: using the provisional list of the holidays file", year)
        else:
            log.warning("no holiday data for %s: counting Monday to Friday as working days", year)


def load_calendar(*files: StrPath) -> WorkCalendar:
    """The calendar from the bundled holidays file plus a deployment's ``files``, cached.

    Call it with the same paths each time (e.g. from settings); nothing is read until the
    first call. Raises ValueError naming the file and key for an invalid holidays file.
    """
    return _calendar_for(tuple(Path(f).resolve() for f in files))


@lru_cache(maxsize=8)
def _calendar_for(files: tuple[Path, ...]) -> WorkCalendar:
    return WorkCalendar((DEFAULT_HOLIDAYS_FILE, *files))


def clear_cache() -> None:
    """Forget loaded calendars (tests; a deployment that edited its holidays file)."""
    _calendar_for.cache_clear()


# --- the API the product uses -------------------------------------------------------------


def is_workday(day: date, *, calendar: WorkCalendar | None = None) -> bool:
    """Whether ``day`` is a working day (default calendar: bundled file + library)."""
    return (calendar or load_calendar()).is_workday(day)


def is_provisional(day: date, *, calendar: WorkCalendar | None = None) -> bool:
    """Whether the holiday data for ``day``'s year is a guess (see WorkCalendar)."""
    return (calendar or load_calendar()).is_provisional(day)


def add_workdays(start: datetime, days: int, *, calendar: WorkCalendar | None = None) -> datetime:
    """Deadline: end (23:59:59 Asia/Shanghai) of the ``days``-th working day after ``start``'s day."""
    return (calendar or load_calendar()).add_workdays(start, days)


def workdays_between(a: datetime, b: datetime, *, calendar: WorkCalendar | None = None) -> float:
    """Working days from ``a`` to ``b``; ``workdays_between(now, deadline)`` is what is left."""
    return (calendar or load_calendar()).workdays_between(a, b)


def traffic_light(
    created: datetime,
    deadline: datetime,
    now: datetime,
    limit_days: int | None = None,
    *,
    calendar: WorkCalendar | None = None,
) -> Light:
    """Traffic light of an open ticket at ``now``.

    RED when ``now`` is past the deadline; YELLOW when at most 1 working day or at most
    20 % of the time limit remains (at the threshold counts); GREEN otherwise. The limit
    is ``limit_days`` working days — the promise made to the enterprise — or, when None,
    the working time from ``created`` to ``deadline`` (e.g. after a deadline extension).
    ``now`` is a parameter, never the clock, so a light can be recomputed for any moment.
    """
    cal = calendar or load_calendar()
    if _utc(now) > _utc(deadline):
        return Light.RED
    remaining = cal.working_time_between(now, deadline)
    if limit_days is None:
        limit = cal.working_time_between(created, deadline)
    else:
        limit = _check_days(limit_days, "limit_days") * _DAY
    # remaining ≤ 20 % of limit, in exact integer arithmetic: 5·remaining ≤ 1·limit.
    share = YELLOW_SHARE
    if remaining <= _DAY or remaining * share.denominator <= limit * share.numerator:
        return Light.YELLOW
    return Light.GREEN


def closed_light(deadline: datetime, resolved_at: datetime) -> ClosedLight:
    """On time when resolved at or before the deadline, overdue after it."""
    return ClosedLight.ON_TIME if _utc(resolved_at) <= _utc(deadline) else ClosedLight.OVERDUE


def closed_on_time(deadline: datetime, resolved_at: datetime) -> bool:
    """Shortcut for ``closed_light(...) is ClosedLight.ON_TIME``."""
    return closed_light(deadline, resolved_at) is ClosedLight.ON_TIME
