"""Which button payloads the bot offered a web-chat conversation.

A web page can send any frame, so a ``payload`` frame is only believed when the bot showed
that button in that conversation (a reply, or a notice pushed by the outbox). Telegram needs
no such check: its servers accept only the callback data of buttons the bot sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from redis.asyncio import Redis

from hotline import redis_keys

PREFIX = redis_keys.OFFERED
TTL_S = 30 * 86400  # a rating may be pressed long after the notice came
ALWAYS = frozenset({"/greet"})  # what the page itself sends on a first visit
MAX_REMEMBERED = 500


def payloads_of(frame: Mapping[str, Any]) -> list[str]:
    """The button payloads of a frame sent to the page (``{"messages": [{"buttons": …}]}``)."""
    return [
        str(button.get("payload", "")).strip()
        for message in frame.get("messages") or []
        for button in (message.get("buttons") or [])
        if isinstance(button, Mapping)
    ]


async def remember(redis: Redis, conversation_id: str, payloads: Iterable[str]) -> None:
    wanted = [p for p in payloads if p]
    if not wanted:
        return
    key = redis_keys.offered(conversation_id)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.sadd(key, *wanted)
        pipe.expire(key, TTL_S)
        pipe.scard(key)
        *_, size = await pipe.execute()
    if size > MAX_REMEMBERED:  # a very long chat: forget arbitrary old ones, keep it bounded
        await redis.spop(key, size - MAX_REMEMBERED)


async def was_offered(redis: Redis, conversation_id: str, payload: str) -> bool:
    payload = payload.strip()
    if payload in ALWAYS:
        return True
    return bool(await redis.sismember(redis_keys.offered(conversation_id), payload))
