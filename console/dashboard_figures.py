"""The figures the supervisor dashboard (:mod:`console.dashboard`) shows of a period.

:class:`Dashboard` holds them and :func:`build` gathers them from the core: totals per topic
and per department (:func:`hotline.stats.compute`, the tickets *received* in the period),
the cohort per day, week or month (:mod:`hotline.trend`), the open tickets' lights now and
the ratings of human service in the period; the page adds the handoff figures from Redis.
The page lays them out and :mod:`console.dashboard_export` writes them as tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from hotline import handoff_stats, service_ratings, sla, stats, trend
from hotline.periods import Period


@dataclass(frozen=True)
class Dashboard:
    period: Period
    now: datetime
    total: stats.Summary
    by_topic: list[stats.Summary]
    by_department: list[stats.Summary]
    sentence: str
    unit: str
    buckets: list[trend.Bucket]
    lights: dict[sla.Light, int]
    service: service_ratings.ServiceSummary  # ratings of human service in the period
    handoff: handoff_stats.HandoffSummary | None = None  # escalations and waits (Redis)


def build(session: Session, period: Period, now: datetime) -> Dashboard:
    start, end = period.bounds
    topics = stats.compute(session, start, end, now=now, by="topic")
    departments = stats.compute(session, start, end, now=now, by="department")
    unit = trend.granularity(period)
    return Dashboard(
        period=period, now=now, total=topics.total, by_topic=topics.groups,
        by_department=departments.groups, sentence=topics.text().splitlines()[0],
        unit=unit, buckets=trend.buckets(session, period, unit),
        lights=stats.current_lights(session, now),
        service=service_ratings.summary(session, start, end),
    )
