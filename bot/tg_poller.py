"""One poller of Telegram's ``getUpdates`` among several gateways.

Telegram answers a second concurrent ``getUpdates`` of one bot with 409 Conflict, and two
pollers would split the updates between them at random. So in polling mode a gateway polls
only while it holds a lease in Redis (:data:`hotline.redis_keys.TELEGRAM_POLLER`), renewed
every few seconds; if its holder dies, another gateway takes it over once it runs out.

The holder's name is the gateway's host and port, stable across restarts: a gateway that the
supervisor restarts takes its own lease back at once instead of waiting for it to run out.
(By webhook no lease is needed: every gateway takes updates, the inbox leases each one.)
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from hotline import redis_keys

logger = logging.getLogger(__name__)

# Take the lease if it is free or already ours; keep it for ttl ms. Returns 1 if held.
_ACQUIRE = """
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
# Give the lease up, if it is still ours.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def holder_name(port: int) -> str:
    return f"{socket.gethostname()[:40]}:{port}"


class PollerLease:
    """Runs ``start()`` when this gateway gets the lease and ``stop()`` when it loses it."""

    def __init__(self, redis: Redis, holder: str, *, ttl_s: float = 15.0,
                 renew_s: float = 4.0) -> None:
        self._redis = redis
        self.holder = holder
        self._ttl_ms = int(ttl_s * 1000)
        self._renew_s = renew_s
        self.polling = False

    async def _held(self) -> bool:
        try:
            return bool(await self._redis.eval(  # type: ignore[misc]
                _ACQUIRE, 1, redis_keys.TELEGRAM_POLLER, self.holder, self._ttl_ms))
        except RedisError as exc:
            # Without Redis the lease can't be checked; keep doing what we did (a lost lease
            # runs out on its own, and its new holder's getUpdates ends ours with 409).
            logger.warning("Telegram poller lease not renewed (Redis: %s)", exc)
            return self.polling

    async def step(self, start: Callable[[], Awaitable[None]],
                   stop: Callable[[], Awaitable[None]]) -> None:
        held = await self._held()
        if held and not self.polling:
            await start()
            self.polling = True
            logger.info("Telegram: polling (lease held by %s)", self.holder)
        elif not held and self.polling:
            await stop()
            self.polling = False
            logger.warning("Telegram: another gateway holds the poller lease; polling stopped")

    async def run(self, start: Callable[[], Awaitable[None]],
                  stop: Callable[[], Awaitable[None]]) -> None:
        """Until cancelled; the lease is given up when cancelled (a clean stop)."""
        try:
            while True:
                try:
                    await self.step(start, stop)
                except (RedisError, OSError, RuntimeError) as exc:
                    logger.warning("Telegram poller lease step failed: %s", exc)
                await asyncio.sleep(self._renew_s)
        finally:
            try:
                await self._redis.eval(  # type: ignore[misc]
                    _RELEASE, 1, redis_keys.TELEGRAM_POLLER, self.holder)
            except (RedisError, OSError):
                pass
