"""The hotline's local time (Asia/Shanghai): its zone, a moment's local form, a day's start.

Decided once for the whole product: days (working days, deadlines, ticket numbers, report
periods, date filters) are local days; a naive datetime is UTC, because the project stores
UTC and SQLite gives ``DateTime(timezone=True)`` values back without their offset.
"""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")
"""The hotline's time zone: working days, deadlines and ticket numbers are local days."""


def as_utc(moment: datetime) -> datetime:
    """Aware UTC instant; a naive datetime is UTC."""
    if not isinstance(moment, datetime):
        raise TypeError(f"expected a datetime, got {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def as_local(moment: datetime) -> datetime:
    """The same instant in Asia/Shanghai, for display and for finding its local day."""
    return as_utc(moment).astimezone(TZ)


def local_midnight(day: date) -> datetime:
    """Local midnight opening ``day`` (aware, in :data:`TZ`): the bound a date filter or a
    report's period means; ``local_midnight(last + 1 day)`` ends the period."""
    return datetime.combine(day, time(0), tzinfo=TZ)
