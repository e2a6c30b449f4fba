"""Whether an enterprise's web-chat page is open: the console shows 在线/离线.

A counter per conversation (a page may be open in two tabs, or on two gateways), and an
entry on the console's live stream (:mod:`hotline.live`) when it changes.
"""

from __future__ import annotations

import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.logsafe import pseudonym
from hotline import live, redis_keys

logger = logging.getLogger(__name__)
TTL_S = 86400


async def set_present(redis: Redis, conversation_id: str, present: bool) -> None:
    """Count a page in or out. Best effort: with Redis down the console shows nothing, the
    chat goes on."""
    key = redis_keys.presence(conversation_id)
    try:
        async with redis.pipeline(transaction=False) as pipe:
            if present:
                pipe.incr(key).expire(key, TTL_S)
            else:
                pipe.decr(key)
            live.queue_publish(pipe, conversation_id, "presence")
            count = (await pipe.execute())[0]
        if not present and count <= 0:
            await redis.delete(key)
    except RedisError as exc:
        logger.warning("presence of %s not recorded (Redis: %s)", pseudonym(conversation_id),
                       exc)
