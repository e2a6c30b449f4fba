"""What the web-chat page may send over its websocket, and what is refused.

The page sends JSON text frames ``{"text": "…", "payload": true|false}``; a plain text frame
(not JSON) is taken as words typed. A binary frame, JSON that does not parse, or JSON of
another shape is refused with an error frame the page can show; the connection stays open.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from bot import messages
from bot.rasa_client import BotMessage

MAX_FRAME_CHARS = 20_000


@dataclass(frozen=True)
class Frame:
    text: str
    is_payload: bool


class BadFrame(ValueError):
    """A frame the gateway can't read; ``message`` is for the enterprise."""

    def __init__(self, message: str, code: str = "bad_frame") -> None:
        super().__init__(code)
        self.code = code
        self.message = message

    def reply(self) -> dict[str, Any]:
        """The error frame: shown by the page like any message."""
        return {"error": self.code, "messages": [asdict(BotMessage(text=self.message))]}


def parse(received: Mapping[str, Any]) -> Frame:
    """A frame from an ASGI ``websocket.receive`` message; raises :class:`BadFrame`."""
    raw = received.get("text")
    if raw is None:
        raise BadFrame(messages.FRAME_BINARY)
    if not raw.lstrip().startswith(("{", "[")):
        return Frame(raw[:MAX_FRAME_CHARS], False)
    try:
        data = json.loads(raw[: MAX_FRAME_CHARS * 2])
    except (ValueError, RecursionError):  # RecursionError: "[[[[…" nested thousands deep
        raise BadFrame(messages.FRAME_MALFORMED) from None
    if not isinstance(data, dict):
        raise BadFrame(messages.FRAME_MALFORMED)
    text, payload = data.get("text", ""), data.get("payload", False)
    if not isinstance(text, str) or not isinstance(payload, bool) or not _encodable(text):
        raise BadFrame(messages.FRAME_MALFORMED)
    return Frame(text[:MAX_FRAME_CHARS], payload)


def _encodable(text: str) -> bool:
    """False for a lone surrogate such as JSON's ``"\\ud800"``: no database or Redis takes it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def session_id(raw: str) -> str | None:
    """The canonical spelling of a page's session id (lower-case, hyphenated), None if it is
    not a UUID: ``{…}``, ``urn:uuid:…``, upper case or bare hex are the same visitor."""
    try:
        return str(uuid.UUID(raw.strip()))
    except (ValueError, AttributeError):
        return None
