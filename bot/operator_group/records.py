"""What the operators' group reads from the core: transcripts, names, who owns a chat.

Blocking calls (database, the core's synchronous Redis client): callers run them in a thread.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis as sync_redis

from hotline import conversations, handoff, operator_chat, transcripts
from hotline.db import session_scope
from hotline.models import Attachment
from hotline.staff import staff_for_telegram

RECENT_MESSAGES = 5  # enterprise messages quoted in an announcement
FORWARD_MAX = 20  # at most this many messages forwarded at once (catch-up after a take)


@dataclass
class Line:
    """An enterprise message to forward: transcript id, words, ``(name, MIME, bytes)``."""

    id: int
    text: str
    file: tuple[str, str, bytes] | None = None


class Records:
    def __init__(self, db_url: str, redis: sync_redis.Redis) -> None:
        self.db_url = db_url
        self.redis = redis

    def facts(self, conversation: str) -> tuple[str | None, list[str], int]:
        """Enterprise name (if on file), its last few words, the last transcript id."""
        with session_scope(self.db_url) as session:
            name = conversations.enterprise_names(session, [conversation]).get(conversation)
            rows = transcripts.history(session, conversation, limit=50)
            said = [r.text for r in rows
                    if r.author == "enterprise" and not r.text.startswith("/")]
            return name, said[-RECENT_MESSAGES:], rows[-1].id if rows else 0

    def new_lines(self, conversation: str, after_id: int) -> list[Line]:
        """The enterprise's messages after ``after_id``: the last :data:`FORWARD_MAX`, the
        first of them saying how many older ones are left out."""
        with session_scope(self.db_url) as session:
            rows = [r for r in transcripts.history(session, conversation, after_id=after_id)
                    if r.author == "enterprise"]
            out: list[Line] = []
            for row in rows[-FORWARD_MAX:]:
                line = Line(row.id, row.text)
                if row.attachment_id:
                    att = session.get(Attachment, row.attachment_id)
                    if att is not None:
                        line.file = (att.filename, att.mime, bytes(att.data))
                out.append(line)
            if len(rows) > FORWARD_MAX:
                out[0].text = (f"（另有 {len(rows) - FORWARD_MAX} 条较早的消息未转发，"
                               f"请在控制台查看）\n{out[0].text}")
            return out

    def name(self, username: str) -> str:
        """The display name of whoever acted: group operator, console staff, the enterprise."""
        with session_scope(self.db_url) as session:
            return operator_chat.name_of(session, self.redis, username)

    def remember_name(self, username: str, name: str) -> None:
        operator_chat.remember_name(self.redis, username, name)

    def linked_staff(self, telegram_user_id: int) -> tuple[str, str] | None:
        """``(username, display name)`` of the console account bound to a Telegram user."""
        with session_scope(self.db_url) as session:
            staff = staff_for_telegram(session, telegram_user_id)
            return (staff.username, staff.display_name) if staff is not None else None

    def owner_of(self, conversation: str) -> str | None:
        return handoff.owner_of(self.redis, conversation)

    def owned_by(self, username: str) -> list[str]:
        return handoff.owned_by(self.redis, username)
