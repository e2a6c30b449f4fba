"""Reading hot issues: the dashboard's list, an issue's page, a ticket's hot issue.

Split from :mod:`hotline.hot.service`; names are re-exported there.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hotline import sla
from hotline.hot.errors import HotIssueNotFound, _now
from hotline.hot.place import _texts
from hotline.models import (
    Department,
    Enterprise,
    HotDoc,
    HotIssue,
    HotIssueEvent,
    HotIssueState,
    Ticket,
    TicketStatus,
)

ST = HotIssueState
EVENT_ZH = {
    "raised": "发现热点", "joined": "新工单并入", "acknowledged": "确认", "handling": "开始处置",
    "closed": "关闭", "reopened": "重新打开", "merged": "并入其他热点", "absorbed": "合并热点",
    "dropped": "移出工单", "supervised": "督办", "new": "恢复为新发现",
}


@dataclass(frozen=True)
class MemberView:
    doc_id: int
    kind: str  # ticket | declined
    number: str | None
    text: str
    enterprise: str | None
    district: str | None
    department: str | None
    status: str | None
    status_zh: str | None
    at: datetime
    reporter: str


@dataclass
class IssueView:
    id: int
    title: str
    topic: str | None
    state: str
    state_zh: str
    raised_at: datetime
    updated_at: datetime
    first_at: datetime | None
    last_at: datetime | None
    tickets: int
    enterprises: int
    reporters: int
    districts: list[tuple[str, int]]
    departments: list[tuple[str, int]]
    trend: list[tuple[date, int]]
    supervise_deadline: datetime | None
    supervise_note: str | None
    supervised_by: str | None
    merged_into_id: int | None
    open_tickets: int = 0
    members: list[MemberView] = field(default_factory=list)
    events: list[dict[str, object]] = field(default_factory=list)

    @property
    def supervised(self) -> bool:
        return self.supervise_deadline is not None


def _trend(times: list[datetime], now: datetime, max_days: int = 30) -> list[tuple[date, int]]:
    """Texts per local day from the first one to today (at most the last ``max_days``)."""
    if not times:
        return []
    days = Counter(sla.as_local(t).date() for t in times)
    last = max(sla.as_local(now).date(), max(days))
    first = max(min(days), last - timedelta(days=max_days - 1))
    out = []
    day = first
    while day <= last:
        out.append((day, days.get(day, 0)))
        day += timedelta(days=1)
    return out


def _views(session: Session, issues: list[HotIssue], now: datetime,
           with_members: bool = False) -> list[IssueView]:
    if not issues:
        return []
    ids = [i.id for i in issues]
    docs = session.scalars(select(HotDoc).where(HotDoc.issue_id.in_(ids)).order_by(HotDoc.at)).all()
    by_issue: dict[int, list[HotDoc]] = {i: [] for i in ids}
    for d in docs:
        by_issue[d.issue_id].append(d)  # type: ignore[index]
    depts = dict(session.execute(select(Department.id, Department.name)).all())
    ticket_ids = [d.ticket_id for d in docs if d.ticket_id is not None]
    tickets: dict[int, Ticket] = {}
    if ticket_ids:
        tickets = {t.id: t for t in session.scalars(select(Ticket).where(Ticket.id.in_(ticket_ids)))}
    open_values = {s.value for s in (TicketStatus.RECEIVED, TicketStatus.DISPATCHED,
                                     TicketStatus.IN_PROGRESS, TicketStatus.REOPENED)}
    views = []
    for issue in issues:
        members = by_issue[issue.id]
        dept_counts: Counter[str] = Counter()
        for d in members:
            t = tickets.get(d.ticket_id) if d.ticket_id else None
            dept_id = t.department_id if t is not None else d.department_id
            if dept_id is not None:
                dept_counts[depts.get(dept_id, str(dept_id))] += 1
        state = HotIssueState(issue.state)
        view = IssueView(
            id=issue.id, title=issue.title, topic=issue.topic, state=state.value,
            state_zh=state.zh, raised_at=issue.raised_at, updated_at=issue.updated_at,
            first_at=members[0].at if members else None,
            last_at=members[-1].at if members else None,
            tickets=sum(1 for d in members if d.ticket_id is not None),
            enterprises=len({d.reporter for d in members if d.reporter.startswith("e:")}),
            reporters=len({d.reporter for d in members}),
            districts=Counter(d.district for d in members if d.district).most_common(),
            departments=dept_counts.most_common(),
            trend=_trend([d.at for d in members], now),
            supervise_deadline=issue.supervise_deadline, supervise_note=issue.supervise_note,
            supervised_by=issue.supervised_by, merged_into_id=issue.merged_into_id,
            open_tickets=sum(1 for d in members if d.ticket_id in tickets
                             and tickets[d.ticket_id].status in open_values),
        )
        if with_members:
            view.members = _member_views(session, members, tickets, depts)
            view.events = [
                {"at": e.at, "actor": e.actor, "kind": e.kind,
                 "kind_zh": EVENT_ZH.get(e.kind, e.kind), "note": e.note,
                 "other_issue_id": e.other_issue_id}
                for e in session.scalars(select(HotIssueEvent)
                                         .where(HotIssueEvent.issue_id == issue.id)
                                         .order_by(HotIssueEvent.id))]
        views.append(view)
    return views


def _member_views(session: Session, docs: list[HotDoc], tickets: dict[int, Ticket],
                  depts: dict[int, str]) -> list[MemberView]:
    texts = _texts(session, docs)
    names = {}
    ent_ids = {t.enterprise_id for t in tickets.values() if t.enterprise_id}
    if ent_ids:
        names = dict(session.execute(select(Enterprise.id, Enterprise.name)
                                     .where(Enterprise.id.in_(ent_ids))).all())
    out = []
    for d in docs:
        t = tickets.get(d.ticket_id) if d.ticket_id else None
        status = TicketStatus(t.status) if t is not None else None
        out.append(MemberView(
            doc_id=d.id, kind="ticket" if t is not None else "declined",
            number=t.number if t is not None else None, text=texts.get(d.id, ""),
            enterprise=names.get(t.enterprise_id) if t is not None and t.enterprise_id else None,
            district=d.district,
            department=depts.get(t.department_id) if t is not None and t.department_id else None,
            status=status.value if status else None, status_zh=status.zh if status else None,
            at=d.at, reporter=d.reporter))
    return out


def list_issues(session: Session, *, now: datetime | None = None,
                states: tuple[str, ...] | None = None, since: datetime | None = None,
                until: datetime | None = None, limit: int = 200) -> list[IssueView]:
    """Hot issues, most recently active first (merged ones left out)."""
    query = select(HotIssue).where(HotIssue.merged_into_id.is_(None))
    if states:
        query = query.where(HotIssue.state.in_(states))
    if since is not None:
        query = query.where(HotIssue.raised_at >= since)
    if until is not None:
        query = query.where(HotIssue.raised_at < until)
    issues = list(session.scalars(query.order_by(HotIssue.updated_at.desc(), HotIssue.id.desc())
                                  .limit(limit)))
    return _views(session, issues, _now(now))


def active_issues(session: Session, now: datetime | None = None) -> list[IssueView]:
    """What the dashboard shows: every issue not closed."""
    return list_issues(session, now=now, states=(ST.NEW.value, ST.ACKNOWLEDGED.value,
                                                 ST.HANDLING.value))


def issue_detail(session: Session, issue_id: int, now: datetime | None = None) -> IssueView:
    issue = session.get(HotIssue, issue_id)
    if issue is None:
        raise HotIssueNotFound(f"热点问题 {issue_id} 不存在。")
    return _views(session, [issue], _now(now), with_members=True)[0]


@dataclass(frozen=True)
class TicketHot:
    """What a ticket's page says of its hot issue."""

    issue_id: int
    title: str
    state_zh: str
    tickets: int
    enterprises: int
    supervise_deadline: datetime | None
    supervise_note: str | None


def for_tickets(session: Session, ticket_ids: list[int]) -> dict[int, TicketHot]:
    """ticket id → its hot issue (tickets in none are left out)."""
    if not ticket_ids:
        return {}
    rows = session.execute(select(HotDoc.ticket_id, HotDoc.issue_id)
                           .where(HotDoc.ticket_id.in_(ticket_ids), HotDoc.issue_id.is_not(None))).all()
    if not rows:
        return {}
    issue_ids = {i for _, i in rows}
    issues = {i.id: i for i in session.scalars(select(HotIssue).where(HotIssue.id.in_(issue_ids)))}
    sizes = dict(session.execute(select(HotDoc.issue_id, func.count(HotDoc.ticket_id))
                                 .where(HotDoc.issue_id.in_(issue_ids))
                                 .group_by(HotDoc.issue_id)).all())
    firms = dict(session.execute(select(HotDoc.issue_id, func.count(func.distinct(HotDoc.reporter)))
                                 .where(HotDoc.issue_id.in_(issue_ids),
                                        HotDoc.reporter.like("e:%"))
                                 .group_by(HotDoc.issue_id)).all())
    out = {}
    for ticket_id, issue_id in rows:
        issue = issues[issue_id]
        out[ticket_id] = TicketHot(issue.id, issue.title, HotIssueState(issue.state).zh,
                                   int(sizes.get(issue_id, 0)), int(firms.get(issue_id, 0)),
                                   issue.supervise_deadline, issue.supervise_note)
    return out

