"""The script an enterprise writes in (Simplified or Traditional Chinese): remembered per
conversation in Redis, and the relay's replies rendered in it."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from bot.rasa_client import BotMessage
from hotline import redis_keys
from hotline.textnorm import script_of, to_traditional

SCRIPT_TTL_S = 30 * 86400


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


def queue_note(pipe: Pipeline, conversation_id: str, text: str, is_payload: bool) -> str | None:
    """Queue on ``pipe`` the script of the enterprise's last message written in words: a
    button press, a code, a phone or a ticket number keeps the script it had
    (``textnorm.script_of``); then the stored one is read instead. Returns the script
    written, or None when read; :func:`traditional` takes it with that command's result."""
    key = redis_keys.script(conversation_id)
    script = None if is_payload else script_of(text)
    if script is None:
        pipe.get(key)
    else:
        pipe.set(key, script.encode(), ex=SCRIPT_TTL_S)
    return script


def traditional(written: str | None, result: object) -> bool:
    """Whether replies go out in Traditional script, from :func:`queue_note`'s return value
    and the result of the command it queued."""
    return written == "t" if written is not None else result == b"t"


async def note(redis: Redis, conversation_id: str, text: str, is_payload: bool) -> bool:
    """:func:`queue_note` in a round trip of its own: whether replies go in Traditional."""
    async with redis.pipeline(transaction=False) as pipe:
        written = queue_note(pipe, conversation_id, text, is_payload)
        result = (await pipe.execute())[0]
    return traditional(written, result)
