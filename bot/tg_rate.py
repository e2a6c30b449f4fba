"""Every request of the gateway's Telegram bot passes here: PTB's rate-limiter hook.

The PTB Application is built with :class:`SharedRateLimiter`, so replies to enterprises,
outbox notices and operator-group posts — every sender holding the Application's bot — wait
for the send windows of :mod:`hotline.send_rate`, which all gateway replicas share through
Redis. PTB's own ``AIORateLimiter`` keeps its windows in one process's memory.

Only messages count (``send*`` except ``sendChatAction``, ``copyMessage``,
``forwardMessage``): a typing indicator, a button's answer or an edit goes out at once.
A 429 that Telegram answers anyway pauses the bot on every replica for the ``retry_after``
it named, and a message is sent again after it (Telegram refused it: nothing was sent);
after :attr:`SharedRateLimiter.max_retries` the ``RetryAfter`` reaches the caller (the
outbox then puts its row off, see :mod:`bot.outbox_delivery`).

With Redis down messages go out unthrottled: Telegram's own 429 still protects the bot, and
a reply that is late for want of a counter would be worse.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from redis.exceptions import RedisError
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot import metrics, tg_io
from hotline.send_rate import SendRate

logger = logging.getLogger(__name__)

UNCOUNTED_SENDS = frozenset({"sendChatAction"})
COUNTED_OTHERS = frozenset({"copyMessage", "copyMessages", "forwardMessage",
                            "forwardMessages"})


def counted(endpoint: str) -> bool:
    """Whether a Bot API method sends a message (and so counts against the limits)."""
    if endpoint in UNCOUNTED_SENDS:
        return False
    return endpoint.startswith("send") or endpoint in COUNTED_OTHERS


def bot_id_of(token: str) -> str:
    """The bot's id: the part of its token before the colon."""
    return token.split(":", 1)[0]


class SharedRateLimiter(BaseRateLimiter[None]):
    """PTB's hook (see the module docstring) over a :class:`~hotline.send_rate.SendRate`."""

    def __init__(self, rate: SendRate, *, max_retries: int = 2) -> None:
        self.rate = rate
        self.max_retries = max_retries
        self._warned_at = 0.0

    async def initialize(self) -> None:
        """Nothing to open: the Redis client belongs to the gateway."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    def _redis_down(self, exc: RedisError) -> None:
        now = time.monotonic()
        if now - self._warned_at > 60:  # once a minute, not once a message
            logger.warning("Telegram send limits not kept (Redis: %s): sending unthrottled", exc)
            self._warned_at = now

    async def _acquire(self, chat: Any) -> None:
        try:
            waited = await self.rate.acquire(chat)
        except RedisError as exc:
            self._redis_down(exc)
            return
        metrics.TELEGRAM_THROTTLED.observe(waited)

    async def _flood(self, exc: RetryAfter) -> float:
        metrics.TELEGRAM_FLOOD.inc()
        wait = tg_io.retry_after(exc).total_seconds()
        try:
            await self.rate.pause(wait)
        except RedisError as redis_exc:
            self._redis_down(redis_exc)
        return wait

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        is_message = counted(endpoint)
        chat = data.get("chat_id") if is_message else None
        for attempt in range(self.max_retries + 1):
            if is_message:
                await self._acquire(chat)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                wait = await self._flood(exc)
                if not is_message or attempt == self.max_retries or wait > tg_io.MAX_FLOOD_WAIT_S:
                    raise
                logger.warning("Telegram flood control on %s: sending again in %.0f s",
                               endpoint, wait)
                await asyncio.sleep(wait)  # the pause holds the other senders meanwhile
        raise AssertionError("unreachable")
