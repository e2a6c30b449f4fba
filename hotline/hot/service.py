"""Hot issues in the database: grouping new tickets, raising, and the supervisors' steps.

Why this module exists: the grouping must happen the moment a ticket is received (the
department is told the ticket belongs to a hot issue), survive restarts, agree across
processes, and let supervisors correct it. So:

- the **database is the truth**: every grouped text is a :class:`~hotline.models.HotDoc`
  row (its stored term counts, its group, its issue), every change of an issue a
  :class:`~hotline.models.HotIssueEvent`;
- each process keeps an :class:`HotIndex` — the :class:`~hotline.hot.engine.Engine`
  mirrored from those rows — so placing a ticket costs one comparison with the open groups
  (≤ 50 ms with 20,000 tickets on file, ``bench/bench_hot.py``), not a re-clustering. The
  index only ever *reads* rows: before each placement it applies the docs and events written
  since (by this process or another), so a rolled-back transaction leaves it untouched —
  a rollback in a session that used it drops the index, which is rebuilt on the next use;
- :func:`on_ticket` runs in the ticket's own transaction (called by
  :func:`hotline.tickets.create_ticket` in a savepoint: a failure here never loses the
  ticket).

Supervisors' steps (:func:`set_state`, :func:`merge`, :func:`drop_member`, :func:`supervise`)
each record an event; the console and the Telegram operator group are told of new issues by
:func:`claim_unannounced` (the gateway's loop), like an outbox.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import event, func, or_, select, update
from sqlalchemy import text as sql
from sqlalchemy.orm import Session

from hotline import sla
from hotline.hot.engine import Engine, Member, reporters_within
from hotline.hot.features import Featurizer, get_featurizer
from hotline.hot.settings import engine_config, get_hot_settings
from hotline.models import (
    Department,
    Enterprise,
    HotDoc,
    HotIssue,
    HotIssueEvent,
    HotIssueState,
    KbDeclined,
    Ticket,
    TicketStatus,
)

logger = logging.getLogger(__name__)

# Events after which a process reloads the groups concerned (the rest change no grouping).
RESHAPING = frozenset({"raised", "merged", "absorbed", "dropped", "closed", "reopened"})
ADVISORY_LOCK = 0x686F7401  # PostgreSQL advisory lock of hot-issue placement ("hot\x01")
SYNC_MARGIN = 64
PRUNE_EVERY = 500  # placements between two prunes of the groups nobody can join  # ids below the last seen that may still commit late (PostgreSQL)
TITLE_CHARS = 30
TITLE_SAMPLE = 40  # a title is drawn from at most this many of the latest texts
ST = HotIssueState
EVENT_ZH = {
    "raised": "发现热点", "joined": "新工单并入", "acknowledged": "确认", "handling": "开始处置",
    "closed": "关闭", "reopened": "重新打开", "merged": "并入其他热点", "absorbed": "合并热点",
    "dropped": "移出工单", "supervised": "督办", "new": "恢复为新发现",
}
# Who may move an issue from which state (a closed issue is reopened to "acknowledged").
ALLOWED_FROM: dict[HotIssueState, frozenset[HotIssueState]] = {
    ST.ACKNOWLEDGED: frozenset({ST.NEW, ST.HANDLING, ST.CLOSED}),
    ST.HANDLING: frozenset({ST.NEW, ST.ACKNOWLEDGED}),
    ST.CLOSED: frozenset({ST.NEW, ST.ACKNOWLEDGED, ST.HANDLING}),
}


class HotIssueError(Exception):
    """A refused step; ``message`` is Chinese, fit to show to supervisors."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class HotIssueNotFound(HotIssueError, LookupError):
    pass


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(timezone.utc)


# --- the per-process index ---------------------------------------------------------------


class HotIndex:
    """The engine of one database, mirrored from its committed rows (see the module doc)."""

    def __init__(self, featurizer: Featurizer) -> None:
        self.featurizer = featurizer
        self.engine = Engine(engine_config())
        self.lock = threading.RLock()
        self.loaded = False
        self.last_doc = 0
        self.last_event = 0
        self._applied: set[int] = set()
        self._syncs = 0

    def _member(self, doc: HotDoc) -> Member:
        return Member(doc.id, doc.at, doc.reporter, doc.topic, doc.district)

    def _apply(self, doc: HotDoc) -> None:
        if doc.id in self._applied:
            return
        self._applied.add(doc.id)
        self.engine.add(doc.id, doc.group_key, self.featurizer.vector(doc.terms),
                        self._member(doc))
        group = self.engine.groups[doc.group_key]
        if doc.issue_id is not None and group.issue_id is None:
            group.issue_id = doc.issue_id

    def _mark_issues(self, session: Session, keys: set[int]) -> None:
        """Issue id and sealed flag of the given groups, from ``hot_issues``."""
        if not keys:
            return
        for key, issue_id, state in session.execute(
                select(HotIssue.group_key, HotIssue.id, HotIssue.state)
                .where(HotIssue.group_key.in_(keys))):
            group = self.engine.groups.get(key)
            if group is not None:
                group.issue_id = issue_id
                group.sealed = state == ST.CLOSED.value

    def load(self, session: Session, now: datetime) -> None:
        """Everything still joinable: texts of the last ``link_days`` and of open issues."""
        since = now - timedelta(days=self.engine.config.link_days)
        open_issues = select(HotIssue.id).where(HotIssue.state != ST.CLOSED.value)
        docs = session.scalars(
            select(HotDoc).where(or_(HotDoc.at >= since, HotDoc.issue_id.in_(open_issues)))
            .order_by(HotDoc.id)).all()
        for doc in docs:
            self._apply(doc)
        self.last_doc = session.scalar(select(func.max(HotDoc.id))) or 0
        self.last_event = session.scalar(select(func.max(HotIssueEvent.id))) or 0
        self._mark_issues(session, set(self.engine.groups))
        self.loaded = True

    def reload_group(self, session: Session, key: int) -> None:
        self.engine.drop_group(key)
        for doc in session.scalars(select(HotDoc).where(HotDoc.group_key == key)
                                   .order_by(HotDoc.id)):
            self._applied.discard(doc.id)
            self._apply(doc)
        self._mark_issues(session, {key})

    def sync(self, session: Session, now: datetime) -> None:
        """Apply the docs and events written since the last look (any process)."""
        if not self.loaded:
            self.load(session, now)
            return
        for doc in session.scalars(select(HotDoc).where(HotDoc.id > self.last_doc - SYNC_MARGIN)
                                   .order_by(HotDoc.id)):
            self._apply(doc)
            self.last_doc = max(self.last_doc, doc.id)
        events = session.execute(
            select(HotIssueEvent.id, HotIssueEvent.kind, HotIssueEvent.issue_id,
                   HotIssueEvent.other_issue_id, HotIssueEvent.doc_id)
            .where(HotIssueEvent.id > self.last_event).order_by(HotIssueEvent.id)).all()
        touched: set[int] = set()
        for row in events:
            self.last_event = max(self.last_event, row.id)
            if row.kind not in RESHAPING:
                continue
            issue = session.get(HotIssue, row.issue_id)
            if issue is not None:
                touched.add(issue.group_key)
            if row.other_issue_id is not None:
                other = session.get(HotIssue, row.other_issue_id)
                if other is not None:
                    touched.add(other.group_key)
            if row.doc_id is not None:
                doc = session.get(HotDoc, row.doc_id)
                if doc is not None:
                    touched.add(doc.group_key)
                    touched.add(doc.id)
        for key in touched:
            self.reload_group(session, key)
        self._syncs += 1
        if self._syncs % PRUNE_EVERY == 0:  # groups nobody can join any more
            self.engine.prune(now)
        if len(self._applied) > 200_000:  # a process that ran for years: start afresh
            self.__init__(self.featurizer)  # type: ignore[misc]
            self.load(session, now)


_INDEXES: dict[str, HotIndex] = {}
_INDEXES_LOCK = threading.Lock()


def _url(session: Session) -> str:
    return str(session.get_bind().url)


def index_for(session: Session) -> HotIndex:
    url = _url(session)
    with _INDEXES_LOCK:
        index = _INDEXES.get(url)
        if index is None:
            index = _INDEXES[url] = HotIndex(get_featurizer())
    if not session.info.get("hot_index_watch"):
        session.info["hot_index_watch"] = True
        event.listen(session, "after_rollback", lambda s: forget_index(url))
    return index


def forget_index(url: str | None = None) -> None:
    """Drop the index of ``url`` (all when None): rebuilt from the tables on next use."""
    with _INDEXES_LOCK:
        if url is None:
            _INDEXES.clear()
        else:
            _INDEXES.pop(url, None)


# --- placing a new text ------------------------------------------------------------------


@dataclass(frozen=True)
class Joined:
    """What placing a text did: the issue it now belongs to (if any) and whether it was
    raised by this text."""

    doc_id: int
    issue_id: int | None
    raised: bool
    score: float


def _reporter(ticket: Ticket) -> str:
    if ticket.enterprise_id is not None:
        return f"e:{ticket.enterprise_id}"
    if ticket.conversation_id:
        return f"c:{ticket.conversation_id}"
    return f"t:{ticket.id}"


def on_ticket(session: Session, ticket: Ticket, *, now: datetime | None = None) -> Joined | None:
    """Group a new ticket (its description); raise or join a hot issue. None when disabled."""
    if not get_hot_settings().enabled:
        return None
    district = None
    if ticket.enterprise_id is not None:
        district = session.scalar(select(Enterprise.district)
                                  .where(Enterprise.id == ticket.enterprise_id))
    return _place(session, ticket.description, at=ticket.created_at or _now(now),
                  topic=ticket.topic, reporter=_reporter(ticket), district=district,
                  department_id=ticket.department_id, ticket_id=ticket.id)


def on_declined(session: Session, row: KbDeclined, *, now: datetime | None = None) -> Joined | None:
    """Group a consult question the knowledge base declined (anonymous: its chat reports)."""
    settings = get_hot_settings()
    if not (settings.enabled and settings.include_declined):
        return None
    reporter = f"c:{row.conversation_id}" if row.conversation_id else f"q:{row.id}"
    return _place(session, row.question, at=row.at or _now(now), topic=row.topic,
                  reporter=reporter, district=None, department_id=None, declined_id=row.id)


def _place(session: Session, text: str, *, at: datetime, topic: str | None, reporter: str,
           district: str | None, department_id: int | None, ticket_id: int | None = None,
           declined_id: int | None = None) -> Joined:
    index = index_for(session)
    if session.get_bind().dialect.name == "postgresql":
        # One placement at a time across processes (held to the end of the transaction):
        # the next one, after it, sees this text when it syncs. SQLite's write lock, taken
        # by the ticket's insert, does the same there.
        session.execute(sql("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})
    with index.lock:
        index.sync(session, at)
        terms = index.featurizer.terms(text or "")
        vector = index.featurizer.vector(terms)
        placement = index.engine.place(vector, at, topic, district)
        doc = HotDoc(ticket_id=ticket_id, declined_id=declined_id, at=at, topic=topic,
                     reporter=reporter, district=district, department_id=department_id,
                     terms=terms, group_key=placement.group or 0, detached=False)
        session.add(doc)
        session.flush()
        if placement.group is None:
            doc.group_key = doc.id
        group = index.engine.groups.get(doc.group_key)
        if group is not None and group.issue_id is not None and not group.sealed:
            issue = session.get(HotIssue, group.issue_id)
            if issue is not None and issue.state != ST.CLOSED.value:
                doc.issue_id = issue.id
                issue.updated_at = at
                session.add(HotIssueEvent(issue_id=issue.id, at=at, actor="system:hot",
                                          kind="joined", doc_id=doc.id))
                session.flush()
                return Joined(doc.id, issue.id, False, placement.score)
        # Only reports within the window before this one can make the group hot now (an
        # older window that was hot would have raised the issue then).
        cfg = index.engine.config
        window = timedelta(days=cfg.window_days)
        recent = [m for m in (group.members if group else []) if m.at >= at - window]
        members = [*recent, Member(doc.id, at, reporter, topic, district)]
        if reporters_within(members, window) >= cfg.min_reporters:
            issue = _raise(session, doc.group_key, at)
            return Joined(doc.id, issue.id, True, placement.score)
        session.flush()
        return Joined(doc.id, None, False, placement.score)


def _raise(session: Session, group_key: int, at: datetime) -> HotIssue:
    docs = session.scalars(select(HotDoc).where(HotDoc.group_key == group_key,
                                                HotDoc.detached.is_(False))
                           .order_by(HotDoc.id)).all()
    sample = docs[-TITLE_SAMPLE:]  # the latest reports say what the problem is now
    texts = _texts(session, sample)
    topics = Counter(d.topic for d in docs if d.topic)
    issue = HotIssue(group_key=group_key, title=title_for([texts.get(d.id, "") for d in sample]),
                     topic=topics.most_common(1)[0][0] if topics else None,
                     state=ST.NEW.value, raised_at=at, updated_at=at)
    session.add(issue)
    session.flush()
    session.execute(update(HotDoc).where(HotDoc.group_key == group_key,
                                         HotDoc.detached.is_(False))
                    .values(issue_id=issue.id))
    reporters = len({d.reporter for d in docs})
    session.add(HotIssueEvent(issue_id=issue.id, at=at, actor="system:hot", kind="raised",
                              note=f"{reporters}家企业反映同一问题，共{len(docs)}件"))
    session.flush()
    return issue


def _texts(session: Session, docs: list[HotDoc]) -> dict[int, str]:
    """doc id → its text (a ticket's description or a declined question)."""
    ticket_ids = {d.ticket_id: d.id for d in docs if d.ticket_id is not None}
    declined_ids = {d.declined_id: d.id for d in docs if d.declined_id is not None}
    out: dict[int, str] = {}
    if ticket_ids:
        for tid, text in session.execute(select(Ticket.id, Ticket.description)
                                         .where(Ticket.id.in_(ticket_ids))):
            out[ticket_ids[tid]] = text
    if declined_ids:
        for qid, text in session.execute(select(KbDeclined.id, KbDeclined.question)
                                         .where(KbDeclined.id.in_(declined_ids))):
            out[declined_ids[qid]] = text
    return out


_CLAUSE_RE = re.compile(r"[。！？!?\n；;，,：:]+")
_LEAD_RE = re.compile(r"^(?:您好|你好|请问|尊敬的\S{0,8}|我们是|我们|我司|我公司|本公司|本厂|本廠|"
                      r"我们公司|又是|又|是|也是|也|的)+")


def title_for(texts: list[str], featurizer: Featurizer | None = None) -> str:
    """A short title drawn from the tickets: from the most typical short ticket, the clause
    that holds most of the words the tickets *share* (the problem, not one ticket's own
    place or firm), cut to 30 characters."""
    f = featurizer or get_featurizer()
    clean = [f.clean(t) for t in texts if t and t.strip()]
    if not clean:
        return "（无内容）"
    vectors = [f.embed(t) for t in clean]
    centroid: Counter[str] = Counter()
    support: Counter[str] = Counter()
    for v in vectors:
        centroid.update(v)
        support.update(v.keys())
    shared = max(2, round(0.3 * len(vectors))) if len(vectors) > 1 else 1
    common = {t: w for t, w in centroid.items() if support[t] >= shared} or dict(centroid)

    def typical(i: int) -> float:
        cos = sum(w * common.get(t, 0.0) for t, w in vectors[i].items())
        return cos - 0.004 * max(0, len(clean[i]) - 60)

    best = max(range(len(clean)), key=typical)
    clauses = [c.strip() for c in _CLAUSE_RE.split(clean[best]) if len(c.strip()) >= 4]
    if not clauses:
        clauses = [clean[best]]

    def weight(clause: str) -> float:
        return sum(common.get(t, 0.0) for t in f.vector(f.terms(clause)))

    chosen = max(clauses, key=weight)
    chosen = _LEAD_RE.sub("", chosen).strip() or chosen
    return chosen if len(chosen) <= TITLE_CHARS else chosen[: TITLE_CHARS - 1] + "…"


# --- reading ------------------------------------------------------------------------------


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


# --- the supervisors' steps ---------------------------------------------------------------


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
