"""Identifiers fit for logs: a conversation's pseudonym instead of its chat or session id.

A web-chat session id is the page's secret (whoever knows it reads the chat) and a Telegram
chat id is personal data; logs and operator-group posts carry a short keyed hash instead,
stable for one conversation so log lines can still be followed.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import uuid

from hotline import channels

# Per process unless set: a pseudonym can't be reversed by hashing guessed chat ids.
_KEY = (os.environ.get("HOTLINE_LOG_PSEUDONYM_KEY") or os.urandom(16).hex()).encode()


def pseudonym(conversation_id: str) -> str:
    """``tg:#3f9a0c1d`` for ``tg:123456`` (channel kept, id hashed)."""
    channel, _, rest = conversation_id.partition(":")
    if not rest:
        channel, rest = "?", conversation_id
    digest = hmac.new(_KEY, rest.encode(), hashlib.sha256).hexdigest()[:10]
    return f"{channel}:#{digest}"


# A web session id in a URL, however it is spelt (see bot.webframes.session_id).
_SESSION = re.compile(
    r"(?:%7B|\{)?\b[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\b(?:%7D|\})?",
    re.IGNORECASE)


def _hide(match: re.Match[str]) -> str:
    raw = match.group(0).replace("%7B", "").replace("%7D", "").strip("{}")
    return pseudonym(channels.WEB.conversation(uuid.UUID(raw)))


def redact(text: str) -> str:
    """``text`` with every web session id replaced by its pseudonym."""
    return _SESSION.sub(_hide, text)


class RedactSessionIds(logging.Filter):
    """Log filter: session ids in the message or its string arguments become pseudonyms
    (uvicorn's access log prints request paths such as ``/ws/chat/<session id>``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install(names: tuple[str, ...] = ("uvicorn.access", "uvicorn.error")) -> None:
    """Add the filter to the loggers that print request paths (once)."""
    for name in names:
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactSessionIds) for f in target.filters):
            target.addFilter(RedactSessionIds())
