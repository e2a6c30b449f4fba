"""What the relay keeps in the database: each message in the transcript (an enterprise's as it
arrives, the bot's replies to it in one transaction), files, and the ticket a chat filed.
Sync functions, run in a worker thread by :class:`bot.relay.Relay`."""

from __future__ import annotations

from datetime import datetime

from hotline import attachments, tickets, transcripts
from hotline.db import get_engine, session_scope


def record(
    db_url: str, conversation_id: str, channel: str, direction: str, author: str, text: str,
    source_ref: str | None = None,
) -> None:
    if source_ref is None:  # nothing to look up first: one INSERT
        with get_engine(db_url).begin() as connection:
            transcripts.append(connection, conversation_id, channel, direction, author, [text])
        return
    with session_scope(db_url) as session:
        transcripts.add(session, conversation_id, channel, direction, author, text,
                        source_ref=source_ref)


def record_replies(db_url: str, conversation_id: str, channel: str, texts: list[str]) -> None:
    with get_engine(db_url).begin() as connection:
        transcripts.append(connection, conversation_id, channel, "out", "bot", texts)


def record_file(
    db_url: str, conversation_id: str, channel: str, filename: str | None, mime: str | None,
    data: bytes, caption: str | None, max_bytes: int,
) -> str:
    """Keep the file and a transcript line pointing at it; returns the shown file name."""
    with session_scope(db_url) as session:
        row = attachments.save(session, conversation_id, filename, mime, data, "enterprise",
                               max_bytes=max_bytes)
        label = "[图片]" if attachments.is_image(row.mime) else "[文件]"
        text = f"{label} {row.filename}" + (f"\n{caption}" if caption else "")
        transcripts.add(session, conversation_id, channel, "in", "enterprise", text,
                        attachment_id=row.id)
        return row.filename


def ticket_since(db_url: str, conversation_id: str, since: datetime) -> tuple[str, str] | None:
    """``(number, department)`` of a ticket the conversation filed since ``since``."""
    with session_scope(db_url) as session:
        ticket = tickets.created_since(session, conversation_id, since)
        if ticket is None:
            return None
        return ticket.number, ticket.department.name if ticket.department else "待分派"
