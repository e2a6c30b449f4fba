"""What the knowledge base learns from use: feedback on answers, declined questions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hotline.models.base import Base, utcnow


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
