"""Conversation transcripts: every message in and out, by whom, on which channel.

One writer for the gateway (enterprise and bot turns) and the outbox (notifications), so
operators and supervisors read one history.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from hotline.models import TranscriptMessage, utcnow


def add(
    session: Session,
    conversation_id: str,
    channel: str,
    direction: str,
    author: str,
    text: str,
    at: datetime | None = None,
) -> TranscriptMessage:
    """Add one message (``direction`` is ``in`` or ``out``) to the caller's transaction."""
    message = TranscriptMessage(conversation_id=conversation_id, channel=channel,
                                direction=direction, author=author, text=text, at=at or utcnow())
    session.add(message)
    return message
