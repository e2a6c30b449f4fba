"""What the relay keeps in the database besides the lines of
:class:`bot.transcript_writer.TranscriptWriter`: a message with the channel's id, files, and
the ticket a chat filed. Sync functions, run in a worker thread by :class:`bot.relay.Relay`."""

from __future__ import annotations

from datetime import datetime

from hotline import attachments, tickets, transcripts
from hotline.db import session_scope


def record_once(db_url: str, conversation_id: str, channel: str, text: str,
                source_ref: str) -> None:
    """An enterprise's message the channel gave an id: recorded once however often it is
    handled (other lines go through :class:`bot.transcript_writer.TranscriptWriter`)."""
    with session_scope(db_url) as session:
        transcripts.add(session, conversation_id, channel, "in", "enterprise", text,
                        source_ref=source_ref)


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
