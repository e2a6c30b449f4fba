"""Which button payloads the bot offered a web-chat conversation.

A web page can send any frame, so a ``payload`` frame is only believed when the bot showed
that button in that conversation (a reply, or a notice pushed by the outbox). Telegram needs
no such check: its servers accept only the callback data of buttons the bot sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from hotline import channels, redis_keys

PREFIX = redis_keys.OFFERED
TTL_S = 30 * 86400  # a rating may be pressed long after the notice came
ALWAYS = frozenset({"/greet"})  # what the page itself sends on a first visit
MAX_REMEMBERED = 500
#: The channels (transcript names) whose buttons are checked so: the web chat's.
CHECKED = frozenset({channels.WEB.name})


def payloads_of(frame: Mapping[str, Any]) -> list[str]:
    """The button payloads of a frame sent to the page (``{"messages": [{"buttons": …}]}``)."""
    return of_buttons(button for message in frame.get("messages") or []
                      for button in (message.get("buttons") or [])
                      if isinstance(button, Mapping))


def of_buttons(buttons: Iterable[Mapping[str, Any]]) -> list[str]:
    """The payloads of buttons, as :func:`payloads_of` reads them from a frame."""
    return [str(button.get("payload", "")).strip() for button in buttons]


async def remember(redis: Redis, conversation_id: str, payloads: Iterable[str]) -> None:
    async with redis.pipeline(transaction=True) as pipe:
        if not queue_remember(pipe, conversation_id, payloads):
            return
        *_, size = await pipe.execute()
    await bound(redis, conversation_id, size)


def queue_remember(pipe: Pipeline, conversation_id: str, payloads: Iterable[str]) -> bool:
    """:func:`remember`'s commands on the caller's pipeline, the set's size last (give it to
    :func:`bound`); False when there is nothing to remember (nothing queued)."""
    wanted = [p for p in payloads if p]
    if not wanted:
        return False
    key = redis_keys.offered(conversation_id)
    pipe.sadd(key, *wanted)
    pipe.expire(key, TTL_S)
    pipe.scard(key)
    return True


async def bound(redis: Redis, conversation_id: str, size: int) -> None:
    """A very long chat: forget arbitrary old payloads, keep the set bounded."""
    if size > MAX_REMEMBERED:
        await redis.spop(redis_keys.offered(conversation_id), size - MAX_REMEMBERED)


async def was_offered(redis: Redis, conversation_id: str, payload: str) -> bool:
    payload = payload.strip()
    if payload in ALWAYS:
        return True
    return bool(await redis.sismember(redis_keys.offered(conversation_id), payload))
