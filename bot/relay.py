"""Channel-neutral relay: enterprise message → transcript → Rasa → transcript → replies.

Telegram and the web chat both call :class:`Relay`; nothing is lost when Rasa is down:
the inbound message is in the transcript before Rasa is asked.
"""

from __future__ import annotations

import asyncio
import logging

from redis.asyncio import Redis

from bot import messages
from bot.rasa_client import BotMessage, RasaClient, RasaUnavailable
from hotline import transcripts
from hotline.db import session_scope
from hotline.textnorm import is_traditional, to_traditional

logger = logging.getLogger(__name__)
MAX_CHARS = 2000  # what is sent to Rasa; the transcript keeps everything


def _record(
    db_url: str, conversation_id: str, channel: str, direction: str, author: str, text: str
) -> None:
    with session_scope(db_url) as session:
        transcripts.add(session, conversation_id, channel, direction, author, text)


def localize(message: BotMessage, traditional: bool) -> BotMessage:
    """Render a reply in the script the enterprise writes in."""
    if not traditional:
        return message
    custom = message.custom
    if custom:
        custom = {k: to_traditional(v) if isinstance(v, str) else v for k, v in custom.items()}
    return BotMessage(
        text=to_traditional(message.text),
        buttons=[
            {"title": to_traditional(b["title"]), "payload": b["payload"]} for b in message.buttons
        ],
        image=message.image,
        custom=custom,
    )


class Relay:
    def __init__(self, rasa: RasaClient, redis: Redis, db_url: str) -> None:
        self._rasa = rasa
        self._redis = redis
        self._db_url = db_url

    async def _traditional(self, conversation_id: str, text: str, is_payload: bool) -> bool:
        """The script of the enterprise's last typed message (a button press has none)."""
        key = f"hotline:script:{conversation_id}"
        if is_payload:
            return await self._redis.get(key) == b"t"
        traditional = is_traditional(text)
        await self._redis.set(key, b"t" if traditional else b"s", ex=30 * 86400)
        return traditional

    async def handle(
        self, conversation_id: str, channel: str, text: str, *, is_payload: bool = False
    ) -> list[BotMessage]:
        text = (text or "").strip()
        if not text:
            return [BotMessage(text=messages.EMPTY)]
        await asyncio.to_thread(_record, self._db_url, conversation_id, channel, "in", "enterprise", text)
        replies: list[BotMessage] = []
        to_rasa = text
        if not is_payload and len(text) > MAX_CHARS:
            to_rasa = text[:MAX_CHARS]
            replies.append(BotMessage(text=messages.TOO_LONG.format(limit=MAX_CHARS)))
        try:
            replies += await self._rasa.send(conversation_id, to_rasa, {"channel": channel})
        except RasaUnavailable as exc:
            logger.error("Rasa unavailable for %s: %s", conversation_id, exc)
            replies = [BotMessage(text=messages.RASA_BUSY)]
        traditional = await self._traditional(conversation_id, text, is_payload)
        replies = [localize(r, traditional) for r in replies]
        for reply in replies:
            shown = reply.text or (reply.custom or {}).get("html", "")
            if shown:
                await asyncio.to_thread(_record, self._db_url, conversation_id, channel, "out", "bot", shown)
        return replies
