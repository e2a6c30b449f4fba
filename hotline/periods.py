"""Periods of local days that figures are counted over.

A :class:`Period` is a run of local (Asia/Shanghai) days, both ends inclusive. The console's
dashboard shows any such run; the periodic report (:mod:`hotline.report`) a week or a
calendar month (its ``ReportPeriod`` adds the kind). :func:`hotline.stats.period` turns the
days into the ``[start, end)`` instants the queries take.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from hotline import stats


class PeriodError(ValueError):
    """A period (or a report of one) that cannot be shown; ``message`` is Chinese, for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Period:
    """Local days ``first`` … ``last``, both inclusive."""

    first: date
    last: date

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        """``[start, end)`` as :func:`hotline.stats.period` gives it."""
        return stats.period(self.first, self.last)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def label(self) -> str:
        return f"{self.first.isoformat()} 至 {self.last.isoformat()}"
