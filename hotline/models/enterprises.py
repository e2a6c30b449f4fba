"""Enterprises on file (逐户建档) and the chats linked to them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.models.base import Base, utcnow


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
