"""Ticket statistics (诉求办理统计) for reports like "收集企业诉求15228件、办结14173件…".

Why this module exists: the hotline is judged on a handful of ratios that every report
quotes, and they are only comparable if they are defined once. Definitions:

- **Cohort.** The tickets *created* in the period ``[start, end)`` (optionally of one topic
  or one department). Every figure below is about this cohort, so a ticket counts in the
  period it was received in, however late it is answered.
- **received** (收集): tickets in the cohort.
- **resolved** (办结): of those, the ones whose status is ``resolved`` or ``rated`` at the
  time the report is made. A reopened ticket being redone is not resolved (it was not
  settled to the enterprise's satisfaction); it counts again once it is resolved again.
- **resolution rate** (办结率) = resolved / received.
- **on-time rate** (按期办结率) = resolved at or before the deadline / resolved, with the
  ticket's current deadline and latest resolution (after a reopen: the new deadline).
- **average handling time** (平均办理时长) = mean hours from creation to the *first*
  resolution, over the resolved tickets (calendar hours, not working hours).
- **satisfaction rate** (满意率) = tickets whose latest rating is 满意 or 基本满意 / tickets
  rated at least once (一事一评: each ticket counts once, with its last verdict).
- **red lights** (红灯) = open tickets past their deadline at ``now`` + resolved tickets
  that were resolved after their deadline.
- **reopened** (重办) = tickets sent back to the department at least once (不满意 or 重办).

Lights now (:func:`current_lights`): the 红/黄/绿灯 of every *open* ticket at ``now``,
whatever its receiving date (what is burning now), by :func:`hotline.sla.traffic_light`.
The trend of a period, bucket by bucket, is :mod:`hotline.trend`'s, over the same cohort.

Reply quality (:func:`reply_quality`), per reply sent (one per resolution round) of the
cohort's tickets, grouped by the department that wrote it:

- **sent with warnings** (带警示发出) = replies the reply check had warnings for / replies;
- **dissatisfied rate** (不满意率) = replies rated 不满意 / replies rated, also apart for the
  replies with and without warnings (does the check predict dissatisfaction?);
- **reopen rate** (重办率) = replies after which the ticket was reopened / replies.

A rate whose denominator is zero is None ("—" in text), never a made-up 0 % or 100 %.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline import routing, sla
from hotline.localtime import local_midnight
from hotline.models import OPEN_STATUSES, Department, Rating, RatingLevel, Ticket, TicketStatus

GROUPINGS = ("topic", "department")
RESOLVED = frozenset({TicketStatus.RESOLVED.value, TicketStatus.RATED.value})  # 办结
_OPEN = {s.value for s in OPEN_STATUSES}
_PLEASED = {RatingLevel.SATISFIED.value, RatingLevel.BASICALLY_SATISFIED.value}


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass
class Summary:
    """The figures of one group of tickets (or of all of them)."""

    key: str | None
    label: str
    received: int = 0
    resolved: int = 0
    resolved_on_time: int = 0
    rated: int = 0
    satisfied: int = 0
    open_overdue: int = 0
    resolved_late: int = 0
    reopened: int = 0
    handling_hours: list[float] = field(default_factory=list, repr=False)

    @property
    def resolution_rate(self) -> float | None:
        return _rate(self.resolved, self.received)

    @property
    def on_time_rate(self) -> float | None:
        return _rate(self.resolved_on_time, self.resolved)

    @property
    def satisfaction_rate(self) -> float | None:
        return _rate(self.satisfied, self.rated)

    @property
    def red(self) -> int:
        return self.open_overdue + self.resolved_late

    @property
    def avg_handling_hours(self) -> float | None:
        hours = self.handling_hours
        return sum(hours) / len(hours) if hours else None

    def as_dict(self) -> dict[str, Any]:
        def r(value: float | None) -> float | None:
            return None if value is None else round(value, 4)

        return {
            "key": self.key,
            "label": self.label,
            "received": self.received,
            "resolved": self.resolved,
            "resolution_rate": r(self.resolution_rate),
            "resolved_on_time": self.resolved_on_time,
            "on_time_rate": r(self.on_time_rate),
            "avg_handling_hours": None if self.avg_handling_hours is None
            else round(self.avg_handling_hours, 2),
            "rated": self.rated,
            "satisfied": self.satisfied,
            "satisfaction_rate": r(self.satisfaction_rate),
            "red": self.red,
            "open_overdue": self.open_overdue,
            "resolved_late": self.resolved_late,
            "reopened": self.reopened,
        }

    def sentence(self) -> str:
        """``收集企业诉求N件、办结M件，办结率x%，…`` (one line of the report)."""

        def pct(value: float | None) -> str:
            return "—" if value is None else f"{value * 100:.1f}%"

        hours = self.avg_handling_hours
        return (
            f"收集企业诉求{self.received}件、办结{self.resolved}件，"
            f"办结率{pct(self.resolution_rate)}，按期办结率{pct(self.on_time_rate)}，"
            f"平均办理时长{'—' if hours is None else f'{hours:.1f}小时'}，"
            f"企业满意度达{pct(self.satisfaction_rate)}（评价{self.rated}件），"
            f"红灯{self.red}件（在办超期{self.open_overdue}件、超期办结{self.resolved_late}件）"
        )


@dataclass(frozen=True)
class Report:
    start: datetime
    end: datetime
    now: datetime
    by: str | None
    total: Summary
    groups: list[Summary]

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "now": self.now.isoformat(),
            "by": self.by,
            "total": self.total.as_dict(),
            "groups": [g.as_dict() for g in self.groups],
        }

    def text(self) -> str:
        first = sla.as_local(self.start).date()
        last = (sla.as_local(self.end) - timedelta(microseconds=1)).date()
        lines = [
            f"{first:%Y年%m月%d日}至{last:%Y年%m月%d日}，{self.total.sentence()}。"
        ]
        for group in self.groups:
            lines.append(f"  {group.label}：{group.sentence()}。")
        return "\n".join(lines)


def period(first: date, last: date) -> tuple[datetime, datetime]:
    """``[start, end)`` covering the local days ``first`` … ``last`` inclusive."""
    if last < first:
        raise ValueError("the period ends before it starts")
    return local_midnight(first), local_midnight(last + timedelta(days=1))


def compute(
    session: Session,
    start: datetime,
    end: datetime,
    *,
    now: datetime | None = None,
    by: str | None = None,
    topic: str | None = None,
    department_id: int | None = None,
) -> Report:
    """The figures for tickets created in ``[start, end)`` (see the module docstring)."""
    if by is not None and by not in GROUPINGS:
        raise ValueError(f"by must be one of {GROUPINGS}, got {by!r}")
    now = now or datetime.now(timezone.utc)
    query = select(
        Ticket.id, Ticket.topic, Ticket.department_id, Ticket.status, Ticket.created_at,
        Ticket.deadline, Ticket.resolved_at, Ticket.first_resolved_at, Ticket.reopen_count,
    ).where(Ticket.created_at >= start, Ticket.created_at < end)
    if topic is not None:
        query = query.where(Ticket.topic == topic)
    if department_id is not None:
        query = query.where(Ticket.department_id == department_id)
    rows = session.execute(query).all()
    verdicts = _latest_ratings(session, query)
    labels = _labels(session, by)

    total = Summary(key=None, label="全部")
    groups: dict[str, Summary] = {}
    for row in rows:
        targets = [total]
        if by is not None:
            key = str(row.topic if by == "topic" else row.department_id or "")
            if key not in groups:
                groups[key] = Summary(key=key, label=labels.get(key, key or "待分派"))
            targets.append(groups[key])
        for summary in targets:
            _count(summary, row, verdicts.get(row.id), now)
    ordered = sorted(groups.values(), key=lambda g: (-g.received, g.label))
    return Report(start=start, end=end, now=now, by=by, total=total, groups=ordered)


def _count(summary: Summary, row: Any, verdict: str | None, now: datetime) -> None:
    summary.received += 1
    summary.reopened += (row.reopen_count or 0) > 0
    if row.status in RESOLVED:
        summary.resolved += 1
        resolved_at = row.resolved_at or row.first_resolved_at
        if resolved_at is not None and resolved_at <= row.deadline:
            summary.resolved_on_time += 1
        else:
            summary.resolved_late += 1
        first = row.first_resolved_at or resolved_at
        if first is not None:
            summary.handling_hours.append((first - row.created_at).total_seconds() / 3600)
    elif row.status in _OPEN and now > row.deadline:
        summary.open_overdue += 1
    if verdict is not None:
        summary.rated += 1
        summary.satisfied += verdict in _PLEASED


def current_lights(session: Session, now: datetime) -> dict[sla.Light, int]:
    """红/黄/绿灯 of every open ticket at ``now`` (not limited to a period)."""
    counts = dict.fromkeys((sla.Light.RED, sla.Light.YELLOW, sla.Light.GREEN), 0)
    rows = session.execute(select(Ticket.created_at, Ticket.deadline, Ticket.limit_days)
                           .where(Ticket.status.in_([s.value for s in OPEN_STATUSES])))
    for created, deadline, limit_days in rows:
        counts[sla.traffic_light(created, deadline, now, limit_days)] += 1
    return counts


def _latest_ratings(session: Session, cohort: Any) -> dict[int, str]:
    """ticket id → level of its latest rating (highest round), for the cohort's tickets."""
    ids = cohort.with_only_columns(Ticket.id)
    latest: dict[int, tuple[int, str]] = {}
    for ticket_id, round_, level in session.execute(
        select(Rating.ticket_id, Rating.round, Rating.level).where(Rating.ticket_id.in_(ids))
    ):
        if ticket_id not in latest or round_ > latest[ticket_id][0]:
            latest[ticket_id] = (round_, level)
    return {ticket_id: level for ticket_id, (_, level) in latest.items()}


def _labels(session: Session, by: str | None) -> dict[str, str]:
    if by == "topic":
        return {name: topic.zh for name, topic in routing.load_taxonomy().topics.items()}
    if by == "department":
        return {str(d.id): d.name for d in session.scalars(select(Department))}
    return {}



# --- reply quality ------------------------------------------------------------------------


@dataclass
class ReplyQuality:
    """Replies of one department (or all) and how they were received (see the module doc)."""

    key: str | None
    label: str
    replies: int = 0
    with_warnings: int = 0
    rated: int = 0
    dissatisfied: int = 0
    reopened: int = 0
    rated_warned: int = 0
    dissatisfied_warned: int = 0
    rated_clean: int = 0
    dissatisfied_clean: int = 0
    warnings: dict[str, int] = field(default_factory=dict)  # code → replies with it

    @property
    def warned_share(self) -> float | None:
        return _rate(self.with_warnings, self.replies)

    @property
    def dissatisfied_rate(self) -> float | None:
        return _rate(self.dissatisfied, self.rated)

    @property
    def reopen_rate(self) -> float | None:
        return _rate(self.reopened, self.replies)

    @property
    def dissatisfied_rate_warned(self) -> float | None:
        return _rate(self.dissatisfied_warned, self.rated_warned)

    @property
    def dissatisfied_rate_clean(self) -> float | None:
        return _rate(self.dissatisfied_clean, self.rated_clean)

    def as_dict(self) -> dict[str, Any]:
        def r(value: float | None) -> float | None:
            return None if value is None else round(value, 4)

        return {
            "key": self.key, "label": self.label, "replies": self.replies,
            "with_warnings": self.with_warnings, "warned_share": r(self.warned_share),
            "rated": self.rated, "dissatisfied": self.dissatisfied,
            "dissatisfied_rate": r(self.dissatisfied_rate), "reopened": self.reopened,
            "reopen_rate": r(self.reopen_rate),
            "dissatisfied_rate_warned": r(self.dissatisfied_rate_warned),
            "dissatisfied_rate_clean": r(self.dissatisfied_rate_clean),
            "warnings": dict(self.warnings),
        }


def reply_quality(session: Session, start: datetime, end: datetime, *,
                  department_id: int | None = None) -> tuple[ReplyQuality, list[ReplyQuality]]:
    """(all, per department) reply quality of the tickets created in ``[start, end)``."""
    from hotline.models import ReplyCheck

    query = (select(ReplyCheck.ticket_id, ReplyCheck.round, ReplyCheck.department_id,
                    ReplyCheck.warnings, Ticket.reopen_count)
             .join(Ticket, Ticket.id == ReplyCheck.ticket_id)
             .where(Ticket.created_at >= start, Ticket.created_at < end))
    if department_id is not None:
        query = query.where(ReplyCheck.department_id == department_id)
    rows = session.execute(query).all()
    levels: dict[tuple[int, int], str] = {}
    ids = {row.ticket_id for row in rows}
    if ids:
        for ticket_id, round_, level in session.execute(
                select(Rating.ticket_id, Rating.round, Rating.level)
                .where(Rating.ticket_id.in_(ids))):
            levels[(ticket_id, round_)] = level
    labels = _labels(session, "department")
    total = ReplyQuality(key=None, label="全部")
    groups: dict[str, ReplyQuality] = {}
    for row in rows:
        key = str(row.department_id or "")
        if key not in groups:
            groups[key] = ReplyQuality(key=key, label=labels.get(key, key or "待分派"))
        for target in (total, groups[key]):
            _count_reply(target, row, levels.get((row.ticket_id, row.round)))
    ordered = sorted(groups.values(), key=lambda g: (-g.replies, g.label))
    return total, ordered


def _count_reply(q: ReplyQuality, row: Any, level: str | None) -> None:
    warned = bool(row.warnings)
    q.replies += 1
    q.with_warnings += warned
    for code in row.warnings or ():
        q.warnings[code] = q.warnings.get(code, 0) + 1
    q.reopened += (row.reopen_count or 0) > row.round
    if level is None:
        return
    bad = level == RatingLevel.DISSATISFIED.value
    q.rated += 1
    q.dissatisfied += bad
    if warned:
        q.rated_warned += 1
        q.dissatisfied_warned += bad
    else:
        q.rated_clean += 1
        q.dissatisfied_clean += bad
