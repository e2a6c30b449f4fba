"""What passes through a conversation: transcript lines, attachments, the notification
outbox, received webhook updates, ratings of human service."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hotline.models.base import Base, utcnow


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
