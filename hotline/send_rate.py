"""Outbound rate limits of a Telegram bot, shared by every gateway replica through Redis.

Why this module exists: Telegram answers 429 ("Too Many Requests: retry after N") to a bot
that sends more than about 30 messages a second in all, more than about one a second to one
chat (short bursts pass), or more than 20 a minute to one group. Replies, outbox notices and
operator-group posts leave from several gateway processes at once, so a limit kept in one
process's memory would let N replicas send N times too much. Each limit here is a sliding
window — at most ``count`` sends in any ``seconds`` — kept as a sorted set of send times in
Redis and checked and recorded for all windows of a send by one atomic Lua script, on
Redis's own clock (replicas' clocks may differ).

A send to a chat passes the bot's window and the chat's; a send to a group (negative chat id
or ``@name``) also the group's per-minute window. Every window is lengthened by
``margin_s``: two sends a window apart here may reach Telegram closer together than that.
When Telegram answers 429 anyway, :meth:`SendRate.pause` holds every send of the bot, on
every replica, for the ``retry_after`` it named.

Telegram's adapter (``bot/tg_rate.py``) calls :meth:`SendRate.acquire` before each message;
the outbox asks :meth:`SendRate.peek` first, to put a row off rather than wait on one chat.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, replace

from redis.asyncio import Redis

from hotline import redis_keys
from hotline.settings import Settings

ChatRef = int | str

# KEYS[1]: the bot's pause key; KEYS[2..]: windows. ARGV[1]: this send's member, ARGV[2]: "1"
# to only look; then per window key j (from 2): ARGV[2j-1] its count, ARGV[2j] its length (µs).
# Returns 0 when the send may go (and, unless looking, records it), else the µs to wait.
_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local paused = redis.call('PTTL', KEYS[1])
if paused > 0 then return paused * 1000 end
local wait = 0
for j = 2, #KEYS do
  local limit = tonumber(ARGV[2 * j - 1])
  local window = tonumber(ARGV[2 * j])
  redis.call('ZREMRANGEBYSCORE', KEYS[j], '-inf', now - window)
  local count = redis.call('ZCARD', KEYS[j])
  if count >= limit then
    local nth = redis.call('ZRANGE', KEYS[j], count - limit, count - limit, 'WITHSCORES')
    local free_in = tonumber(nth[2]) + window - now + 1
    if free_in > wait then wait = free_in end
  end
end
if wait > 0 or ARGV[2] == '1' then return wait end
for j = 2, #KEYS do
  redis.call('ZADD', KEYS[j], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[j], math.ceil(tonumber(ARGV[2 * j]) / 1000) + 1000)
end
return 0
"""


@dataclass(frozen=True)
class Window:
    """At most ``count`` sends in any ``seconds``."""

    count: int
    seconds: float


@dataclass(frozen=True)
class SendLimits:
    """Telegram's limits as this product keeps them (see the module docstring)."""

    per_bot: Window = Window(30, 1.0)
    per_chat: Window = Window(3, 3.0)  # one a second, bursts of three
    per_group: Window = Window(20, 60.0)
    margin_s: float = 0.25

    @classmethod
    def from_settings(cls, settings: Settings) -> SendLimits:
        burst = settings.telegram_chat_burst
        return cls(per_bot=Window(settings.telegram_msgs_per_s, 1.0),
                   per_chat=Window(burst, float(burst)),
                   per_group=Window(settings.telegram_group_msgs_per_min, 60.0),
                   margin_s=settings.telegram_rate_margin_s)

    def kept(self, window: Window) -> Window:
        return replace(window, seconds=window.seconds + self.margin_s)


def is_group(chat: ChatRef) -> bool:
    """Groups and channels have negative ids or are named ``@name``; private chats don't."""
    if isinstance(chat, str):
        return chat.startswith(("@", "-"))
    return chat < 0


class SendRate:
    """The send windows of one bot (``bot_id``) in ``redis``."""

    def __init__(self, redis: Redis, bot_id: int | str, limits: SendLimits | None = None) -> None:
        self.redis = redis
        self.bot_id = bot_id
        self.limits = limits or SendLimits()
        self._script = redis.register_script(_SCRIPT)

    def _windows(self, chat: ChatRef | None) -> list[tuple[str, Window]]:
        limits = self.limits
        windows = [(redis_keys.tg_rate(self.bot_id, "bot"), limits.kept(limits.per_bot))]
        if chat is not None:
            key = redis_keys.tg_rate(self.bot_id, f"chat:{chat}")
            windows.append((key, limits.kept(limits.per_chat)))
            if is_group(chat):
                windows.append((redis_keys.tg_rate(self.bot_id, f"group:{chat}"),
                                limits.kept(limits.per_group)))
        return windows

    async def _check(self, chat: ChatRef | None, *, record: bool) -> float:
        windows = self._windows(chat)
        args: list[str | int] = [uuid.uuid4().hex, "0" if record else "1"]
        for _, window in windows:
            args += [window.count, int(window.seconds * 1_000_000)]
        keys = [redis_keys.tg_rate_pause(self.bot_id), *(key for key, _ in windows)]
        wait_us = await self._script(keys=keys, args=args)
        return int(wait_us) / 1_000_000

    async def reserve(self, chat: ChatRef | None) -> float:
        """Record a send to ``chat`` now and return 0, or return the seconds to wait first
        (nothing recorded). ``chat`` None counts against the bot's window alone."""
        return await self._check(chat, record=True)

    async def peek(self, chat: ChatRef | None) -> float:
        """The seconds a send to ``chat`` would wait now (0: it could go), recording nothing."""
        return await self._check(chat, record=False)

    async def acquire(self, chat: ChatRef | None) -> float:
        """Wait until a send to ``chat`` may go and record it; returns the seconds waited."""
        waited = 0.0
        while (wait := await self.reserve(chat)) > 0:
            await asyncio.sleep(wait)
            waited += wait
        return waited

    async def pause(self, seconds: float) -> None:
        """Hold every send of the bot, on every replica, for ``seconds`` (never shortened)."""
        ms = max(1, int(seconds * 1000))
        key = redis_keys.tg_rate_pause(self.bot_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.pttl(key)
            pipe.set(key, b"1", px=ms, nx=True)
            left, _ = await pipe.execute()
        if 0 < int(left) < ms:
            await self.redis.set(key, b"1", px=ms)
