"""Tickets (诉求工单), their audit trail, ratings and reply checks, and departments."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.models.base import Base, utcnow
from hotline.models.enterprises import Enterprise


class TicketStatus(str, enum.Enum):
    RECEIVED = "received"
    DISPATCHED = "dispatched"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    RATED = "rated"
    REOPENED = "reopened"

    @property
    def zh(self) -> str:
        return STATUS_ZH[self]


STATUS_ZH = {
    TicketStatus.RECEIVED: "已受理",
    TicketStatus.DISPATCHED: "已分派",
    TicketStatus.IN_PROGRESS: "办理中",
    TicketStatus.RESOLVED: "已办结",
    TicketStatus.RATED: "已评价",
    TicketStatus.REOPENED: "重办中",
}
OPEN_STATUSES = (
    TicketStatus.RECEIVED,
    TicketStatus.DISPATCHED,
    TicketStatus.IN_PROGRESS,
    TicketStatus.REOPENED,
)


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    phone: Mapped[str | None] = mapped_column(String(40))


class Ticket(Base):
    """诉求工单."""

    __tablename__ = "tickets"
    __table_args__ = (Index("ix_tickets_status_deadline", "status", "deadline"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    topic: Mapped[str] = mapped_column(String(40), index=True)
    act: Mapped[str] = mapped_column(String(10), default="appeal")
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=TicketStatus.RECEIVED.value)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    conversation_id: Mapped[str | None] = mapped_column(String(100), index=True)
    contact_name: Mapped[str | None] = mapped_column(String(50))
    contact_phone: Mapped[str | None] = mapped_column(String(30))
    limit_days: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deadline: Mapped[datetime] = mapped_column()
    resolved_at: Mapped[datetime | None] = mapped_column()
    # Kept apart from resolved_at (the latest resolution): handling time is measured to
    # the first answer, which a reopen must not erase.
    first_resolved_at: Mapped[datetime | None] = mapped_column()
    reply: Mapped[str | None] = mapped_column(Text)
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    # Whether the filing chat was verified for the enterprise when the ticket was opened.
    applicant_verified: Mapped[bool] = mapped_column(Boolean, default=False)

    enterprise: Mapped[Enterprise | None] = relationship()
    department: Mapped[Department | None] = relationship()
    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id"
    )


class TicketEvent(Base):
    """Audit trail: every change of a ticket (who, when, from, to, note)."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)

    ticket: Mapped[Ticket] = relationship(back_populates="events")


class TicketSequence(Base):
    """Per-day counter behind ticket numbers ``T20261122-0042``."""

    __tablename__ = "ticket_sequences"
    __table_args__ = (UniqueConstraint("day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[str] = mapped_column(String(8))
    last: Mapped[int] = mapped_column(Integer, default=0)


class RatingLevel(str, enum.Enum):
    """The enterprise's verdict on one resolution (一事一评)."""

    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    DISSATISFIED = "dissatisfied"

    @property
    def zh(self) -> str:
        return RATING_ZH[self]

    @property
    def code(self) -> str:
        """One letter for button payloads (Telegram allows 64 bytes of callback data)."""
        return RATING_CODES[self]


RATING_ZH = {
    RatingLevel.SATISFIED: "满意",
    RatingLevel.BASICALLY_SATISFIED: "基本满意",
    RatingLevel.DISSATISFIED: "不满意",
}
RATING_CODES = {
    RatingLevel.SATISFIED: "s",
    RatingLevel.BASICALLY_SATISFIED: "b",
    RatingLevel.DISSATISFIED: "d",
}


class Rating(Base):
    """One rating per resolution round: ``round`` is the ticket's ``reopen_count`` when it
    was resolved, so a reopened and re-resolved ticket can be rated again, but never twice
    for the same answer (the unique constraint holds even if two presses race)."""

    __tablename__ = "ratings"
    __table_args__ = (UniqueConstraint("ticket_id", "round", name="uq_ratings_ticket_round"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    round: Mapped[int] = mapped_column(Integer, default=0)
    level: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str | None] = mapped_column(Text)  # raw; escape when rendering
    actor: Mapped[str] = mapped_column(String(100))
    conversation_id: Mapped[str | None] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    ticket: Mapped[Ticket] = relationship()


class ReplyCheck(Base):
    """What the reply check found in a department's 办结 reply, kept with the reply.

    One row per resolution round (``round`` = the ticket's reopen count when resolved).
    ``warnings`` are the codes of :mod:`hotline.reply_check`; ``shown`` says the writer saw
    them before sending (the console asks first), so "sent with warnings" is a choice."""

    __tablename__ = "reply_checks"
    __table_args__ = (UniqueConstraint("ticket_id", "round", name="uq_reply_checks_round"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    round: Mapped[int] = mapped_column(Integer, default=0)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    warnings: Mapped[list[str]] = mapped_column(JSON)
    missing_terms: Mapped[list[str] | None] = mapped_column(JSON)
    shown: Mapped[bool] = mapped_column(Boolean, default=False)
