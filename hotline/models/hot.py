"""Hot issues (热点问题): issues, the texts grouped into them, their audit trail."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hotline.models.base import Base, utcnow


class HotIssueState(str, enum.Enum):
    """Where a hot issue (热点问题) stands with the supervisors."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    HANDLING = "handling"
    CLOSED = "closed"

    @property
    def zh(self) -> str:
        return {"new": "新发现", "acknowledged": "已确认", "handling": "处置中",
                "closed": "已关闭"}[self.value]


class HotIssue(Base):
    """Several enterprises raising one problem within a short time (热点问题).

    ``group_key`` is the group of :mod:`hotline.hot.engine` the issue was raised from (the
    id of the group's first text). ``merged_into_id`` is set when a supervisor merged this
    issue into another (it is then closed). A 督办 puts one deadline on the whole issue,
    which every member ticket shows."""

    __tablename__ = "hot_issues"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_key: Mapped[int] = mapped_column(Integer, unique=True)
    title: Mapped[str] = mapped_column(String(200))
    topic: Mapped[str | None] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(20), default=HotIssueState.NEW.value, index=True)
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()
    # When the console and the operator group were told the issue appeared (None: not yet).
    announced_at: Mapped[datetime | None] = mapped_column()
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("hot_issues.id"))
    supervise_deadline: Mapped[datetime | None] = mapped_column()
    supervise_note: Mapped[str | None] = mapped_column(Text)
    supervised_by: Mapped[str | None] = mapped_column(String(100))
    supervised_at: Mapped[datetime | None] = mapped_column()


class HotDoc(Base):
    """One text grouped for hot issues: a ticket's description or a declined consult
    question, with its stored term counts (the vector is recomputed from them)."""

    __tablename__ = "hot_docs"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), unique=True)
    declined_id: Mapped[int | None] = mapped_column(ForeignKey("kb_declined.id"), unique=True)
    at: Mapped[datetime] = mapped_column(index=True)
    topic: Mapped[str | None] = mapped_column(String(40))
    # Who raised it: "e:<enterprise id>", else "c:<conversation>" (anonymous chats count apart).
    reporter: Mapped[str] = mapped_column(String(120))
    district: Mapped[str | None] = mapped_column(String(50))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    terms: Mapped[dict[str, int]] = mapped_column(JSON)
    group_key: Mapped[int] = mapped_column(Integer, index=True)
    issue_id: Mapped[int | None] = mapped_column(ForeignKey("hot_issues.id"), index=True)
    # A supervisor took it out of its issue: it stays out (a group of its own).
    detached: Mapped[bool] = mapped_column(Boolean, default=False)


class HotIssueEvent(Base):
    """Audit trail of a hot issue: raised, joined, state changes, merges, drops, 督办."""

    __tablename__ = "hot_issue_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("hot_issues.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    doc_id: Mapped[int | None] = mapped_column(ForeignKey("hot_docs.id"))
    other_issue_id: Mapped[int | None] = mapped_column(ForeignKey("hot_issues.id"))
    note: Mapped[str | None] = mapped_column(Text)
