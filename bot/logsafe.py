"""Identifiers fit for logs: a conversation's pseudonym instead of its chat or session id.

A web-chat session id is the page's secret (whoever knows it reads the chat) and a Telegram
chat id is personal data; logs and operator-group posts carry a short keyed hash instead,
stable for one conversation so log lines can still be followed.
"""

from __future__ import annotations

import hashlib
import hmac
import os

# Per process unless set: a pseudonym can't be reversed by hashing guessed chat ids.
_KEY = (os.environ.get("HOTLINE_LOG_PSEUDONYM_KEY") or os.urandom(16).hex()).encode()


def pseudonym(conversation_id: str) -> str:
    """``tg:#3f9a0c1d`` for ``tg:123456`` (channel kept, id hashed)."""
    channel, _, rest = conversation_id.partition(":")
    if not rest:
        channel, rest = "?", conversation_id
    digest = hmac.new(_KEY, rest.encode(), hashlib.sha256).hexdigest()[:10]
    return f"{channel}:#{digest}"
