"""Conversation transcripts: every message in and out, by whom, on which channel.

One writer for the gateway (enterprise and bot turns) and the outbox (notifications), so
operators and supervisors read one history.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.orm import Session

from hotline.models import Attachment, NotificationOutbox, TranscriptMessage, utcnow


def add(
    session: Session,
    conversation_id: str,
    channel: str,
    direction: str,
    author: str,
    text: str,
    at: datetime | None = None,
    attachment_id: int | None = None,
    source_ref: str | None = None,
) -> TranscriptMessage:
    """Add one message (``direction`` is ``in`` or ``out``) to the caller's transaction.

    With ``source_ref`` (the channel's id of the message) a message already recorded under it
    is returned instead of being added again: one handled twice after a crash stays one."""
    if source_ref is not None:
        existing = session.scalar(select(TranscriptMessage).where(
            TranscriptMessage.conversation_id == conversation_id,
            TranscriptMessage.source_ref == source_ref))
        if existing is not None:
            return existing
    message = TranscriptMessage(conversation_id=conversation_id, channel=channel,
                                direction=direction, author=author, text=text, at=at or utcnow(),
                                attachment_id=attachment_id, source_ref=source_ref)
    session.add(message)
    return message


class Line(NamedTuple):
    """One message for :func:`append_lines` (no ``source_ref``, no attachment)."""

    conversation_id: str
    channel: str
    direction: str
    author: str
    text: str
    at: datetime


def append_lines(connection: Connection, lines: Sequence[Line]) -> None:
    """Add ``lines`` in order with one ``INSERT`` on the caller's connection and transaction:
    no ORM objects, a third of :func:`add`'s time (the gateway records every message and
    reply so, several conversations' lines in one transaction)."""
    if lines:
        connection.execute(insert(TranscriptMessage), [line._asdict() for line in lines])


def history(session: Session, conversation_id: str, *, after_id: int = 0,
            limit: int = 500) -> list[TranscriptMessage]:
    """The conversation's messages after ``after_id``, oldest first (the last ``limit``)."""
    rows = session.scalars(
        select(TranscriptMessage)
        .where(TranscriptMessage.conversation_id == conversation_id,
               TranscriptMessage.id > after_id)
        .order_by(TranscriptMessage.id.desc()).limit(limit)
    ).all()
    return list(reversed(rows))


def purge(session: Session, older_than_days: int, now: datetime | None = None) -> int:
    """Delete messages (and their attachments) older than the retention; returns how many."""
    if older_than_days < 1:
        raise ValueError("retention must be at least one day")
    cutoff = (now or utcnow()) - timedelta(days=older_than_days)
    old = select(TranscriptMessage.id).where(TranscriptMessage.at < cutoff)
    attachment_ids = [a for a in session.scalars(
        select(TranscriptMessage.attachment_id).where(TranscriptMessage.at < cutoff,
                                                      TranscriptMessage.attachment_id.is_not(None)))]
    count = session.execute(delete(TranscriptMessage).where(TranscriptMessage.id.in_(old))).rowcount
    if attachment_ids:
        session.execute(update(NotificationOutbox).where(
            NotificationOutbox.attachment_id.in_(attachment_ids)).values(attachment_id=None))
        session.execute(delete(Attachment).where(Attachment.id.in_(attachment_ids)))
    return int(count or 0)
