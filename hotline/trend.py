"""Tickets received and resolved over a period, bucket by bucket (受理趋势).

The same cohort and the same 办结 test as :func:`hotline.stats.compute` — the tickets
*received* in the period, resolved when their status is ``resolved`` or ``rated`` now — so
the buckets add up to its figures. A bucket is a local day, a week (Monday to Sunday) for
periods over :data:`DAILY_MAX_DAYS` days, a calendar month over :data:`WEEKLY_MAX_DAYS`;
the first and last buckets are clipped to the period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline import sla, stats
from hotline.models import Ticket

DAILY_MAX_DAYS = 62
WEEKLY_MAX_DAYS = 400
GRANULARITY_ZH = {"day": "按日", "week": "按周", "month": "按月"}


class Days(Protocol):
    """Local days ``first`` … ``last``, both inclusive (a dashboard's or a report's period)."""

    @property
    def first(self) -> date: ...

    @property
    def last(self) -> date: ...


@dataclass(frozen=True)
class Bucket:
    """One point of the trend: received in ``first`` … ``last`` and resolved of those."""

    first: date
    last: date
    label: str
    received: int = 0
    resolved: int = 0

    @property
    def detail(self) -> str:
        if self.first == self.last:
            return self.first.isoformat()
        return f"{self.first.isoformat()} 至 {self.last.isoformat()}"


def granularity(period: Days) -> str:
    days = (period.last - period.first).days + 1
    if days <= DAILY_MAX_DAYS:
        return "day"
    return "week" if days <= WEEKLY_MAX_DAYS else "month"


def bucket_starts(period: Days, unit: str) -> list[date]:
    starts = [period.first]
    day = period.first
    while True:
        if unit == "day":
            day += timedelta(days=1)
        elif unit == "week":
            day += timedelta(days=7 - day.weekday())  # next Monday
        else:
            day = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
        if day > period.last:
            return starts
        starts.append(day)


def buckets(session: Session, period: Days, unit: str | None = None) -> list[Bucket]:
    """Received and resolved (now) per bucket, for the tickets received in ``period``."""
    unit = unit or granularity(period)
    starts = bucket_starts(period, unit)
    counts = {s: [0, 0] for s in starts}
    start, end = stats.period(period.first, period.last)
    index = {}
    for i, s in enumerate(starts):
        stop = starts[i + 1] if i + 1 < len(starts) else period.last + timedelta(days=1)
        for k in range((stop - s).days):
            index[s + timedelta(days=k)] = s
    rows = session.execute(select(Ticket.created_at, Ticket.status).where(
        Ticket.created_at >= start, Ticket.created_at < end))
    for created, status in rows:
        cell = counts[index[sla.as_local(created).date()]]
        cell[0] += 1
        cell[1] += status in stats.RESOLVED
    out = []
    for i, s in enumerate(starts):
        last = starts[i + 1] - timedelta(days=1) if i + 1 < len(starts) else period.last
        if unit == "month":
            label = f"{s:%Y-%m}"
        elif period.first.year != period.last.year:
            label = s.isoformat()
        else:
            label = f"{s:%m-%d}"
        out.append(Bucket(s, last, label, *counts[s]))
    return out
