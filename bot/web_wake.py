"""Waking web-chat pages on whichever gateway holds them.

A web page's notices (ticket progress, an operator's reply) can only be delivered by the
gateway that holds its websocket, but the change that queued them may be committed on any
gateway (the console is behind the same load balancer) or in the action server. So a wake-up
is a Redis pub/sub message on :data:`hotline.redis_keys.WEB_WAKE`, and every gateway listens
and wakes its own pages (:func:`bot.webchat.wake`). The listener sets the page's event on the
event loop, which also makes a wake-up from a console request's worker thread safe.

Pub/sub is fire-and-forget: a wake-up lost while Redis is away costs only latency, because
every connected page also polls its outbox (``bot.outbox_web.pump_web``).
"""

from __future__ import annotations

import asyncio
import logging

from redis import Redis as SyncRedis
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot import webchat
from bot.logsafe import pseudonym
from hotline import redis_keys

logger = logging.getLogger(__name__)
CHANNEL = redis_keys.WEB_WAKE


def publish(sync: SyncRedis, conversation: str) -> None:
    """Ask every gateway to deliver ``conversation``'s pending rows to its page now."""
    try:
        sync.publish(CHANNEL, conversation)
    except RedisError as exc:
        logger.warning("wake-up of %s not published (Redis: %s); its page polls",
                       pseudonym(conversation), exc)


async def listen(redis: Redis, *, retry_s: float = 1.0,
                 subscribed: asyncio.Event | None = None) -> None:
    """Wake this gateway's pages for every published conversation, until cancelled;
    reconnects after a Redis failure. ``subscribed`` is set once the subscription holds."""
    while True:
        pubsub = redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(CHANNEL)
            if subscribed is not None:
                subscribed.set()
            async for message in pubsub.listen():
                data = message.get("data")
                if isinstance(data, bytes):
                    webchat.wake(data.decode("utf-8", "replace"))
        except asyncio.CancelledError:
            raise
        except (RedisError, OSError) as exc:
            logger.warning("web wake-up listener lost Redis (%s); retrying", exc)
            await asyncio.sleep(retry_s)
        finally:
            try:
                await pubsub.aclose()
            except (RedisError, OSError):
                pass
