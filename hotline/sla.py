"""The deadline clock of tickets (诉求工单): deadlines in working days and traffic lights.

Why this module exists: a ticket's time limit is promised in working days (工作日), counted
on the Chinese calendar of :mod:`hotline.work_calendar` (statutory holidays and 调休), and
the enterprise and staff see how much of it is left as a traffic light (红绿灯).

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

from datetime import date, datetime, timedelta
from enum import Enum
from fractions import Fraction

from hotline.localtime import TZ, as_local, as_utc
from hotline.models import OPEN_STATUSES, Ticket, TicketStatus
from hotline.work_calendar import (
    DEFAULT_HOLIDAYS_FILE,
    END_OF_DAY,
    StrPath,
    WorkCalendar,
    check_days,
    clear_cache,
    load_calendar,
)

__all__ = [
    "DEFAULT_HOLIDAYS_FILE", "END_OF_DAY", "TZ", "YELLOW_SHARE", "ClosedLight", "Light",
    "StrPath", "WorkCalendar", "add_workdays", "as_local", "clear_cache", "closed_light",
    "closed_on_time", "is_provisional", "is_workday", "light_words", "load_calendar",
    "ticket_light", "traffic_light", "workdays_between",
]

YELLOW_SHARE = Fraction(1, 5)
"""Yellow when at most this share of the time limit remains (also at ≤ 1 working day)."""

_DAY = timedelta(days=1)


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
    if as_utc(now) > as_utc(deadline):
        return Light.RED
    remaining = cal.working_time_between(now, deadline)
    if limit_days is None:
        limit = cal.working_time_between(created, deadline)
    else:
        limit = check_days(limit_days, "limit_days") * _DAY
    # remaining ≤ 20 % of limit, in exact integer arithmetic: 5·remaining ≤ 1·limit.
    share = YELLOW_SHARE
    if remaining <= _DAY or remaining * share.denominator <= limit * share.numerator:
        return Light.YELLOW
    return Light.GREEN


def closed_light(deadline: datetime, resolved_at: datetime) -> ClosedLight:
    """On time when resolved at or before the deadline, overdue after it."""
    return ClosedLight.ON_TIME if as_utc(resolved_at) <= as_utc(deadline) else ClosedLight.OVERDUE


def closed_on_time(deadline: datetime, resolved_at: datetime) -> bool:
    """Shortcut for ``closed_light(...) is ClosedLight.ON_TIME``."""
    return closed_light(deadline, resolved_at) is ClosedLight.ON_TIME


# --- one wording of a ticket's light ------------------------------------------------------


def ticket_light(ticket: Ticket, now: datetime) -> Light | ClosedLight:
    """An open ticket's traffic light at ``now``; a closed one's 按期/超期办结."""
    if TicketStatus(ticket.status) in OPEN_STATUSES:
        return traffic_light(ticket.created_at, ticket.deadline, now, ticket.limit_days)
    return closed_light(ticket.deadline, ticket.resolved_at or now)


def light_words(light: Light | ClosedLight, *, closed: bool = False, emoji: bool = False) -> str:
    """How a light reads: 绿灯 / 黄灯 / 红灯 for an open ticket, 按期办结 / 超期办结 for a
    closed one; ``emoji`` puts its coloured dot first (``🟢 绿灯``).

    ``closed`` reads a :class:`Light` as a closed ticket's colour (green: on time, red:
    overdue), for lists that keep one colour per ticket."""
    if closed and isinstance(light, Light):
        light = ClosedLight.ON_TIME if light is Light.GREEN else ClosedLight.OVERDUE
    return f"{light.emoji} {light.zh}" if emoji else light.zh
