"""The operators' group assembled: Redis links, posts, the stream follower, the handlers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import redis as sync_redis
from redis.asyncio import Redis
from telegram import Bot, Update
from telegram.ext import Application

from bot.operator_group.follower import StreamFollower
from bot.operator_group.handlers import GroupHandlers
from bot.operator_group.links import Links
from bot.operator_group.posts import GroupPosts
from bot.operator_group.records import Records
from hotline.operator_chat import Effects, OperatorChat


class OperatorGroup:
    """Announcer task + handlers of the operators' group (see :mod:`bot.operator_group`).

    ``deliver(conversation)`` sends the conversation's outbox rows now (the gateway's
    ``_deliver_now``); ``resume_bot(conversation)`` tells Rasa the chat is the bot's again.
    """

    def __init__(
        self,
        chat_id: int,
        redis_url: str,
        db_url: str,
        *,
        deliver: Callable[[str], None] | None = None,
        resume_bot: Callable[[str], Awaitable[None]] | None = None,
        attachment_max_bytes: int = 10 * 1024 * 1024,
        block_ms: int = 5000,
        allowed_users: frozenset[int] | None = None,
        operator_chat: OperatorChat | None = None,
    ) -> None:
        self.chat_id = chat_id
        self._redis = Redis.from_url(redis_url)
        self._sync = sync_redis.Redis.from_url(redis_url)
        # The operator actions, as the console does them (one implementation, one effects).
        ops = operator_chat or OperatorChat(
            db_url, self._sync,
            Effects(self._sync, deliver=deliver or (lambda _c: None), resume_bot=resume_bot),
            attachment_max_bytes=attachment_max_bytes)
        self._posts = GroupPosts(chat_id, Links(self._redis, chat_id),
                                 Records(db_url, self._sync))
        self._follower = StreamFollower(self._redis, self._posts, block_ms=block_ms)
        self._handlers = GroupHandlers(chat_id, self._redis, self._posts, ops,
                                       allowed_users=allowed_users)

    def register(self, app: Application, group: int = -1) -> None:  # type: ignore[type-arg]
        """Add the group's handlers to ``app`` in ``group`` (before the enterprise ones)."""
        self._handlers.register(app, group)

    def is_group(self, update: Update) -> bool:
        return self._handlers.is_group(update)

    async def start(self, bot: Bot) -> asyncio.Task[None]:
        """Follow the handoff events and the live stream from now on, posting with ``bot``."""
        self._posts.bot = bot
        return await self._follower.start()

    async def stop(self) -> None:
        """Stop following (the handlers keep working until :meth:`aclose`)."""
        await self._follower.stop()

    async def aclose(self) -> None:
        await self.stop()
        await self._redis.aclose()
        self._sync.close()
