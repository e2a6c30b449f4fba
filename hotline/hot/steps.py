"""The supervisors' steps on a hot issue (each records an event), and claiming new
issues for announcement. Split from :mod:`hotline.hot.service`; names are re-exported there.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from hotline import sla
from hotline.hot.errors import HotIssueError, HotIssueNotFound, _now
from hotline.hot.views import IssueView, _views
from hotline.models import HotDoc, HotIssue, HotIssueEvent, HotIssueState, Ticket

ST = HotIssueState
# Who may move an issue from which state (a closed issue is reopened to "acknowledged").
ALLOWED_FROM: dict[HotIssueState, frozenset[HotIssueState]] = {
    ST.ACKNOWLEDGED: frozenset({ST.NEW, ST.HANDLING, ST.CLOSED}),
    ST.HANDLING: frozenset({ST.NEW, ST.ACKNOWLEDGED}),
    ST.CLOSED: frozenset({ST.NEW, ST.ACKNOWLEDGED, ST.HANDLING}),
}


def _issue(session: Session, issue_id: int) -> HotIssue:
    issue = session.get(HotIssue, issue_id)
    if issue is None:
        raise HotIssueNotFound(f"热点问题 {issue_id} 不存在。")
    return issue


def _record(session: Session, issue: HotIssue, kind: str, actor: str, now: datetime,
            note: str | None = None, doc_id: int | None = None,
            other_issue_id: int | None = None) -> None:
    issue.updated_at = now
    session.add(HotIssueEvent(issue_id=issue.id, at=now, actor=actor, kind=kind, note=note,
                              doc_id=doc_id, other_issue_id=other_issue_id))
    session.flush()


def set_state(session: Session, issue_id: int, to: str, *, actor: str,
              now: datetime | None = None, note: str | None = None) -> HotIssue:
    """确认 / 开始处置 / 关闭 / 重新打开 (a closed issue goes back to 已确认)."""
    now = _now(now)
    issue = _issue(session, issue_id)
    try:
        target = HotIssueState(to)
    except ValueError:
        raise HotIssueError(f"未知的热点状态：{to}") from None
    current = HotIssueState(issue.state)
    if issue.merged_into_id is not None:
        raise HotIssueError(f"该热点已并入热点 #{issue.merged_into_id}，请在合并后的热点上操作。")
    if current not in ALLOWED_FROM.get(target, frozenset()):
        raise HotIssueError(f"热点当前为“{current.zh}”，不能改为“{target.zh}”。")
    issue.state = target.value
    kind = target.value
    if target is ST.CLOSED:
        issue.closed_at = now
    elif current is ST.CLOSED:
        issue.closed_at = None
        kind = "reopened"
    _record(session, issue, kind, actor, now, note)
    return issue


def merge(session: Session, target_id: int, source_id: int, *, actor: str,
          now: datetime | None = None) -> HotIssue:
    """Merge a wrongly split issue (``source``) into ``target``: its tickets move over."""
    now = _now(now)
    if target_id == source_id:
        raise HotIssueError("不能把热点并入它自己。")
    target, source = _issue(session, target_id), _issue(session, source_id)
    for issue in (target, source):
        if issue.merged_into_id is not None:
            raise HotIssueError(f"热点 #{issue.id} 已并入热点 #{issue.merged_into_id}。")
    moved = session.scalars(select(HotDoc).where(
        or_(HotDoc.issue_id == source.id,
            (HotDoc.group_key == source.group_key) & HotDoc.detached.is_(False)))).all()
    for doc in moved:
        doc.issue_id = target.id
        doc.group_key = target.group_key
    source.merged_into_id = target.id
    source.state = ST.CLOSED.value
    source.closed_at = now
    _record(session, source, "merged", actor, now, f"并入热点 #{target.id}「{target.title}」",
            other_issue_id=target.id)
    _record(session, target, "absorbed", actor, now,
            f"并入热点 #{source.id}「{source.title}」的{len(moved)}件", other_issue_id=source.id)
    if target.state == ST.CLOSED.value:
        target.state, target.closed_at = ST.ACKNOWLEDGED.value, None
    return target


def drop_member(session: Session, issue_id: int, doc_id: int, *, actor: str,
                now: datetime | None = None) -> HotDoc:
    """Take a ticket that does not belong out of the issue; it never rejoins by itself."""
    now = _now(now)
    issue = _issue(session, issue_id)
    doc = session.get(HotDoc, doc_id)
    if doc is None or doc.issue_id != issue.id:
        raise HotIssueError("该工单不在这个热点问题中。")
    doc.issue_id = None
    doc.detached = True
    doc.group_key = doc.id
    number = None
    if doc.ticket_id is not None:
        number = session.scalar(select(Ticket.number).where(Ticket.id == doc.ticket_id))
    _record(session, issue, "dropped", actor, now, f"移出{number or '咨询问题'}", doc_id=doc.id)
    return doc


def supervise(session: Session, issue_id: int, deadline: date, *, actor: str,
              note: str | None = None, now: datetime | None = None) -> HotIssue:
    """督办 the whole issue with one deadline (end of that local day), shown on every
    member ticket; a new or acknowledged issue becomes 处置中."""
    now = _now(now)
    issue = _issue(session, issue_id)
    if issue.merged_into_id is not None or issue.state == ST.CLOSED.value:
        raise HotIssueError("已关闭的热点不能督办，请先重新打开。")
    end = datetime.combine(deadline, sla.END_OF_DAY, tzinfo=sla.TZ)
    if end <= now:
        raise HotIssueError("督办期限须晚于今天。")
    issue.supervise_deadline = end
    issue.supervise_note = (note or "").strip() or None
    issue.supervised_by = actor
    issue.supervised_at = now
    if issue.state in (ST.NEW.value, ST.ACKNOWLEDGED.value):
        issue.state = ST.HANDLING.value
    text = f"督办期限 {deadline.isoformat()}" + (f"：{issue.supervise_note}" if issue.supervise_note else "")
    _record(session, issue, "supervised", actor, now, text)
    return issue


def claim_unannounced(session: Session, now: datetime | None = None,
                      limit: int = 20) -> list[IssueView]:
    """Issues raised and not yet announced; each is claimed once across processes
    (``UPDATE … WHERE announced_at IS NULL``), so two gateways never both announce it."""
    now = _now(now)
    ids = session.scalars(select(HotIssue.id).where(HotIssue.announced_at.is_(None))
                          .order_by(HotIssue.id).limit(limit)).all()
    claimed = []
    for issue_id in ids:
        result = session.execute(update(HotIssue).where(HotIssue.id == issue_id,
                                                        HotIssue.announced_at.is_(None))
                                 .values(announced_at=now))
        if result.rowcount:  # type: ignore[attr-defined]
            claimed.append(session.get(HotIssue, issue_id))
    session.flush()
    return _views(session, [i for i in claimed if i is not None], now)
