"""What every console page needs at run time, built by the process that serves the console.

The gateway builds one :class:`ConsoleContext` at start-up (the console runs inside the
gateway process, next to the channels it relays to) and tests build their own.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import redis
import redis.asyncio as aioredis
from fastapi import Request

from hotline import channels
from hotline.operator_chat import Effects, OperatorChat
from hotline.settings import Settings

logger = logging.getLogger(__name__)

Deliver = Callable[[str], None]  # "send this conversation's pending outbox rows now"
HandBack = Callable[[str], Awaitable[None]]  # tell the dialogue engine a chat is the bot's again


@dataclass
class ConsoleContext:
    settings: Settings
    db_url: str
    redis: redis.Redis  # sync client: pages run in the thread pool
    aredis: aioredis.Redis  # async client: live updates (server-sent events)
    deliver: Deliver = lambda _conversation: None
    hand_back_to_bot: HandBack | None = None
    extra: dict[str, object] = field(default_factory=dict)
    #: The operator actions with their effects; the gateway passes the one it shares with
    #: the operators' Telegram group, a console on its own builds it from the fields above.
    operators: OperatorChat | None = None

    @property
    def operator_chat(self) -> OperatorChat:
        if self.operators is None:
            self.operators = OperatorChat(
                self.db_url, self.redis,
                Effects(self.redis, deliver=self.deliver, resume_bot=self.hand_back_to_bot),
                attachment_max_bytes=self.settings.attachment_max_mb * 1024 * 1024)
        return self.operators

    def deliver_now(self, conversation: str | None) -> None:
        """Send the outbox rows a committed change queued for ``conversation`` at once. A
        failure is only logged: the change is committed and the outbox retries."""
        if conversation is None or channels.channel_of(conversation) is None:
            return
        try:
            self.deliver(conversation)
        except Exception:  # the gateway's delivery loop will send them later
            logger.exception("immediate delivery to %s failed", conversation)

    async def resume_bot(self, conversation: str) -> None:
        """Tell the dialogue engine a chat is the bot's again (hand-back, release)."""
        if self.hand_back_to_bot is None:
            return
        try:
            await self.hand_back_to_bot(conversation)
        except Exception:  # noqa: BLE001 - the chat is the bot's again either way
            logger.warning("Rasa not told of hand-back of %s", conversation, exc_info=True)


def get_ctx(request: Request) -> ConsoleContext:
    provider = request.app.state.console_ctx
    return provider() if callable(provider) else provider
