"""Database tables (SQLAlchemy 2 declarative, typed). Schema changes go through Alembic."""

from __future__ import annotations

import enum
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores instants as UTC and gives them back timezone-aware.

    SQLite keeps no offset: without this a deadline of 23:59:59+08:00 would come back as a
    naive 23:59:59 and be read as UTC, eight hours late.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime}


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


class Enterprise(Base):
    """An enterprise on file (逐户建档), keyed by its 统一社会信用代码."""

    __tablename__ = "enterprises"

    id: Mapped[int] = mapped_column(primary_key=True)
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    contact_name: Mapped[str | None] = mapped_column(String(50))
    contact_phone: Mapped[str | None] = mapped_column(String(30))
    district: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    identities: Mapped[list[ChannelIdentity]] = relationship(back_populates="enterprise")


class ChannelIdentity(Base):
    """A chat identity (``tg:123``, ``web:<uuid>``) linked to an enterprise."""

    __tablename__ = "channel_identities"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(100), unique=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A link is a claim until verified (one-time code to a verified chat, or staff):
    # only a verified chat acts as the enterprise (its other tickets, ratings, contacts).
    verified_at: Mapped[datetime | None] = mapped_column()
    verified_by: Mapped[str | None] = mapped_column(String(100))  # otp | staff:<username>

    enterprise: Mapped[Enterprise] = relationship(back_populates="identities")


class EnterpriseEvent(Base):
    """Audit trail of an enterprise's file: claims, codes sent, verifications, changes."""

    __tablename__ = "enterprise_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(30))
    conversation_id: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)


class EnterpriseChange(Base):
    """A change of an enterprise's file proposed by a chat; staff approve or reject it."""

    __tablename__ = "enterprise_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    conversation_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str | None] = mapped_column(String(200))
    contact_name: Mapped[str | None] = mapped_column(String(50))
    contact_phone: Mapped[str | None] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending|approved|rejected
    proposed_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column()

    enterprise: Mapped[Enterprise] = relationship()


class IdentityChallenge(Base):
    """A one-time code sent to an enterprise's verified chats for another chat to type."""

    __tablename__ = "identity_challenges"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(100), index=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    code_hash: Mapped[str] = mapped_column(String(64))
    salt: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None] = mapped_column()


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


class TranscriptMessage(Base):
    """Every message of every conversation, in and out."""

    __tablename__ = "transcript_messages"
    __table_args__ = (
        Index("ux_transcript_source", "conversation_id", "source_ref", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(100), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    author: Mapped[str] = mapped_column(String(100))  # enterprise | bot | operator:<name>
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    attachment_id: Mapped[int | None] = mapped_column(ForeignKey("attachments.id"))
    #: The channel's own id of an inbound message (e.g. ``tg-update:<id>``): a message handled
    #: again after a crash is not recorded twice.
    source_ref: Mapped[str | None] = mapped_column(String(60))


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


class OutboxStatus(str, enum.Enum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # gave up after the maximum attempts; kept for operators to requeue


class NotificationOutbox(Base):
    """A message to an enterprise, written in the same transaction as the change it reports.

    Delivery claims a row with a lease (``claimed_by``/``claimed_until``) so two gateway
    processes never send it concurrently, and a crashed sender's row is picked up again
    when the lease runs out.
    """

    __tablename__ = "notification_outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "channel", "next_attempt_at"),
        Index("ix_outbox_conversation", "conversation_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(10))  # tg | web
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    text: Mapped[str] = mapped_column(Text)
    buttons: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), default=OutboxStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column()
    attachment_id: Mapped[int | None] = mapped_column(ForeignKey("attachments.id"))
    author: Mapped[str | None] = mapped_column(String(100))  # transcript author; None: bot:notify


class KbFeedback(Base):
    """Was a knowledge-base answer useful? One row per press, for tuning the answers."""

    __tablename__ = "kb_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[str] = mapped_column(String(100), index=True)
    conversation_id: Mapped[str | None] = mapped_column(String(100))
    useful: Mapped[bool] = mapped_column(Boolean)
    comment: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class KbDeclined(Base):
    """A policy question the knowledge base declined to answer: what staff should add."""

    __tablename__ = "kb_declined"

    id: Mapped[int] = mapped_column(primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    #: Normalized (simplified, trimmed) text: identical questions group under it.
    normalized: Mapped[str] = mapped_column(String(200), index=True)
    topic: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(60))
    best_entry_id: Mapped[str | None] = mapped_column(String(100))
    missing: Mapped[str | None] = mapped_column(String(200))
    conversation_id: Mapped[str | None] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Attachment(Base):
    """A photo or document sent in a chat (by the enterprise or an operator).

    Kept in the database next to the transcript, so a conversation's history is one backup;
    the size is capped by :mod:`hotline.attachments`.
    """

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(100), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    mime: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(String(100))  # enterprise | operator:<name>
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StaffRole(str, enum.Enum):
    OPERATOR = "operator"  # 话务员: takes escalated chats
    DEPARTMENT = "department"  # 承办部门工作人员: its department's tickets only
    SUPERVISOR = "supervisor"  # 督办: everything, read and figures
    ADMIN = "admin"  # 管理员: accounts

    @property
    def zh(self) -> str:
        return {"operator": "话务员", "department": "部门工作人员", "supervisor": "督办人员",
                "admin": "管理员"}[self.value]


class Staff(Base):
    """A console account; the password is an argon2 hash (never the password)."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    display_name: Mapped[str] = mapped_column(String(50))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column()
    # Links the account to a member of the Telegram operator group (acts there as this staff).
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)

    department: Mapped[Department | None] = relationship()


class ServiceRating(Base):
    """The enterprise's verdict on one spell of human service (after hand-back or close).

    ``session_key`` is the handoff event that ended the service, so each spell is rated
    once however often the button is pressed.
    """

    __tablename__ = "service_ratings"
    __table_args__ = (UniqueConstraint("conversation_id", "session_key",
                                       name="uq_service_ratings_session"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(100), index=True)
    session_key: Mapped[str] = mapped_column(String(40))
    operator: Mapped[str] = mapped_column(String(100))  # the console username
    level: Mapped[str] = mapped_column(String(20))  # RatingLevel value
    at: Mapped[datetime] = mapped_column(default=utcnow)


class TelegramInbox(Base):
    """A Telegram update received by webhook, stored before Telegram is told it arrived.

    Telegram forgets an update once the webhook answers 200; the row keeps it until it has been
    handled (``done_at``). A gateway that dies in between leaves the row claimed with a lease
    (``claimed_until``) that runs out, and any gateway handles it again."""

    __tablename__ = "telegram_inbox"
    __table_args__ = (
        UniqueConstraint("bot_id", "update_id", name="uq_telegram_inbox_update"),
        Index("ix_telegram_inbox_pending", "done_at", "claimed_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bot_id: Mapped[int] = mapped_column(BigInteger)
    update_id: Mapped[int] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    done_at: Mapped[datetime | None] = mapped_column()


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
