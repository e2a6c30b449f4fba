"""Working-day calendar (工作日): which days staff work, and counting working days.

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

Days are Asia/Shanghai days (:mod:`hotline.localtime`). The deadline rules and the traffic
lights built on this calendar are :mod:`hotline.sla`'s.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import chinese_calendar
import yaml

from hotline.localtime import TZ, as_local, as_utc, local_midnight

log = logging.getLogger("hotline.sla")  # the name deployments have always filtered on

DEFAULT_HOLIDAYS_FILE = Path(__file__).resolve().parent / "data" / "holidays.yml"
"""The bundled holidays file, always loaded first by :func:`load_calendar`."""

END_OF_DAY = time(23, 59, 59)
"""Time of day of every deadline: the last second of the last working day."""

StrPath = str | os.PathLike[str]

_DAY = timedelta(days=1)
_BLOCK_FIELDS = frozenset({"provisional", "source", "holidays", "workdays"})


def _local_date(day: date) -> date:
    if isinstance(day, datetime):
        return as_local(day).date()
    if not isinstance(day, date):
        raise TypeError(f"expected a date, got {type(day).__name__}")
    return day


def _day_start(day: date) -> datetime:
    """Local midnight opening ``day``, as a UTC instant."""
    return local_midnight(day).astimezone(timezone.utc)


def check_days(days: int, name: str = "days") -> int:
    """``days`` when it is a whole number of working days (>= 1); TypeError/ValueError else."""
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
        check_days(days)
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
        start, end = as_utc(a), as_utc(b)
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
