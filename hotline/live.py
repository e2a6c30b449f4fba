"""Live updates for the console: one Redis stream of "something changed in a chat".

The gateway appends an entry when an enterprise writes (or the bot answers) and the console
when an operator does; console pages follow the stream over server-sent events together
with the handoff events stream (:data:`hotline.handoff.EVENTS_KEY`). Entries only say
*which* conversation changed: the pages read the messages from the database.
"""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio as aioredis

from hotline import redis_keys

STREAM = redis_keys.LIVE_STREAM
MAXLEN = 50_000


def _append(target: Any, conversation_id: str, kind: str) -> Any:
    """One stream entry on ``target``: a client (sync or async) or a pipeline."""
    return target.xadd(STREAM, {"conversation": conversation_id, "kind": kind},
                       maxlen=MAXLEN, approximate=True)


def publish(r: redis.Redis, conversation_id: str, kind: str = "message") -> None:
    _append(r, conversation_id, kind)


async def apublish(r: aioredis.Redis, conversation_id: str, kind: str = "message") -> None:
    await _append(r, conversation_id, kind)


def queue_publish(pipe: aioredis.client.Pipeline, conversation_id: str,
                  kind: str = "message") -> None:
    """:func:`apublish` as one command of the caller's pipeline (sent with its others)."""
    _append(pipe, conversation_id, kind)
