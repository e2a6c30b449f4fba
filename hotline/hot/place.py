"""Placing a new text (a ticket, a declined consult question): join a group, raise an issue.

Split from :mod:`hotline.hot.service`; names are re-exported there.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy import text as sql
from sqlalchemy.orm import Session

from hotline.hot.engine import Member, reporters_within
from hotline.hot.errors import _now
from hotline.hot.features import Featurizer, get_featurizer
from hotline.hot.index import index_for
from hotline.hot.settings import get_hot_settings
from hotline.models import (
    Enterprise,
    HotDoc,
    HotIssue,
    HotIssueEvent,
    HotIssueState,
    KbDeclined,
    Ticket,
)

ADVISORY_LOCK = 0x686F7401  # PostgreSQL advisory lock of hot-issue placement ("hot\x01")
TITLE_CHARS = 30
TITLE_SAMPLE = 40  # a title is drawn from at most this many of the latest texts
ST = HotIssueState


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

