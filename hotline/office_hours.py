"""Office hours of the human operators (人工服务时间), Asia/Shanghai.

A spec string configures them: ``"always"`` (round the clock), ``"Mon-Fri 09:00-18:00"``, or with a lunch break
``"Mon-Fri 09:00-12:00,13:30-17:30"``, or single days ``"Mon,Wed,Sat 09:00-12:00"``. The
setting ``office_hours`` (``HOTLINE_OFFICE_HOURS``) overrides the default (see
:func:`load_office_hours`).

With ``use_calendar`` (the default) the working-day calendar of :mod:`hotline.sla` decides
holidays and adjusted workdays (调休):

- a weekday of the spec that is not a working day (国庆, 春节 …) is closed;
- a Saturday or Sunday that is a working day (调休上班日) is open with the spec's hours;
- a Saturday or Sunday named in the spec stays open whatever the calendar says.

A session is open from its opening minute included to its closing minute excluded: with
09:00-18:00 the service is open at 09:00:00 and closed at 18:00:00.

Naive datetimes are UTC (project rule); results are aware Asia/Shanghai datetimes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from hotline import sla
from hotline.settings import current_settings
from hotline.sla import TZ, WorkCalendar

DEFAULT_SPEC = "Mon-Fri 09:00-18:00"
ALWAYS = ("always", "24x7")  # specs for a round-the-clock service
ENV_VAR = "HOTLINE_OFFICE_HOURS"  # sets Settings.office_hours
_SEARCH_DAYS = 400  # how far next_opening looks ahead

_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
_RANGE = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


@dataclass(frozen=True)
class OfficeHours:
    days: frozenset[int]  # 0 = Monday … 6 = Sunday
    sessions: tuple[tuple[time, time], ...]  # sorted, non-overlapping [open, close)
    use_calendar: bool = True
    calendar: WorkCalendar | None = None  # None: sla's default calendar

    def __post_init__(self) -> None:
        if not self.days or not self.days <= set(range(7)):
            raise ValueError("office hours need at least one day, 0 (Mon) to 6 (Sun)")
        if not self.sessions:
            raise ValueError("office hours need at least one session")
        previous = time(0)
        for start, end in self.sessions:
            if not previous <= start < end:
                raise ValueError("sessions must be sorted, non-empty and non-overlapping")
            previous = end

    @classmethod
    def parse(cls, spec: str, *, use_calendar: bool = True,
              calendar: WorkCalendar | None = None) -> OfficeHours:
        """From ``"Mon-Fri 09:00-18:00"`` (days: ranges/lists of Mon…Sun; sessions: commas)."""
        if spec.strip().lower() in ALWAYS:
            return cls(frozenset(range(7)), ((time(0), time.max),), False, calendar)
        parts = spec.split()
        if len(parts) != 2:
            raise ValueError(f"office hours spec {spec!r}: expected '<days> <HH:MM-HH:MM,...>'")
        return cls(_parse_days(parts[0]), _parse_sessions(parts[1]), use_calendar, calendar)

    # --- which days and moments are open ---------------------------------------------------

    def is_open_day(self, day: date) -> bool:
        weekday = day.weekday()
        if not self.use_calendar:
            return weekday in self.days
        if weekday >= 5 and weekday in self.days:
            return True  # weekend service named in the spec
        if sla.is_workday(day, calendar=self.calendar):
            return weekday in self.days or weekday >= 5  # weekend workday: 调休上班日
        return False

    def is_open(self, now: datetime) -> bool:
        local = sla.as_local(now)
        if not self.is_open_day(local.date()):
            return False
        moment = local.time()
        return any(start <= moment < end for start, end in self.sessions)

    def next_opening(self, now: datetime) -> datetime:
        """The earliest moment >= ``now`` when the service is open (``now`` itself if open)."""
        local = sla.as_local(now)
        if self.is_open(local):
            return local
        day = local.date()
        for _ in range(_SEARCH_DAYS):
            if self.is_open_day(day):
                for start, _end in self.sessions:
                    opening = datetime.combine(day, start, tzinfo=TZ)
                    if opening >= local:
                        return opening
            day += timedelta(days=1)
        raise ValueError(f"no opening within {_SEARCH_DAYS} days of {local:%Y-%m-%d}")

    # --- Chinese text ----------------------------------------------------------------------

    def describe_zh(self) -> str:
        """``"工作日 9:00–18:00"``."""
        sessions = "、".join(f"{_hm(a)}–{_hm(b)}" for a, b in self.sessions)
        return f"{_days_zh(self.days, self.use_calendar)} {sessions}"

    def closed_notice_zh(self, now: datetime) -> str:
        """``"人工服务时间为工作日 9:00–18:00，下一次开放：11月24日（周一）9:00"``."""
        return f"人工服务时间为{self.describe_zh()}，下一次开放：{opening_zh(self.next_opening(now))}"


def opening_zh(moment: datetime) -> str:
    """``"11月24日（周一）9:00"`` in Asia/Shanghai."""
    local = sla.as_local(moment)
    return f"{local.month}月{local.day}日（{_DAY_ZH[local.weekday()]}）{_hm(local.time())}"


def load_office_hours(spec: str | None = None, *, calendar: WorkCalendar | None = None
                      ) -> OfficeHours:
    """``spec``, else the setting ``office_hours`` as it is now, else :data:`DEFAULT_SPEC`."""
    return OfficeHours.parse(spec or current_settings().office_hours or DEFAULT_SPEC,
                             calendar=calendar)


def is_open(now: datetime, hours: OfficeHours | None = None) -> bool:
    return (hours or load_office_hours()).is_open(now)


def next_opening(now: datetime, hours: OfficeHours | None = None) -> datetime:
    return (hours or load_office_hours()).next_opening(now)


# --- helpers ------------------------------------------------------------------------------


def _day_index(name: str) -> int:
    try:
        return _DAY_NAMES.index(name.strip().lower()[:3])
    except ValueError:
        raise ValueError(f"unknown day {name!r}: use Mon Tue Wed Thu Fri Sat Sun") from None


def _parse_days(text: str) -> frozenset[int]:
    days: set[int] = set()
    for item in text.split(","):
        first, _, last = item.partition("-")
        a = _day_index(first)
        b = _day_index(last) if last else a
        if b < a:
            raise ValueError(f"day range {item!r} runs backwards")
        days.update(range(a, b + 1))
    return frozenset(days)


def _parse_sessions(text: str) -> tuple[tuple[time, time], ...]:
    sessions = []
    for item in text.split(","):
        match = _RANGE.match(item.strip())
        if not match:
            raise ValueError(f"session {item!r}: expected HH:MM-HH:MM")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        try:
            sessions.append((time(h1, m1), time(h2, m2)))
        except ValueError:
            raise ValueError(f"session {item!r}: not a valid time") from None
    return tuple(sessions)


def _hm(moment: time) -> str:
    return f"{moment.hour}:{moment.minute:02d}"


def _days_zh(days: frozenset[int], use_calendar: bool) -> str:
    if days == frozenset(range(5)):
        return "工作日" if use_calendar else "周一至周五"
    if days == frozenset(range(7)):
        return "每天"
    ordered = sorted(days)
    if ordered == list(range(ordered[0], ordered[-1] + 1)) and len(ordered) > 2:
        return f"{_DAY_ZH[ordered[0]]}至{_DAY_ZH[ordered[-1]]}"
    return "、".join(_DAY_ZH[d] for d in ordered)
