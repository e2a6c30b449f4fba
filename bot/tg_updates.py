"""How the gateway's PTB Application processes updates: many chats at once, each in order.

PTB's default processes one update at a time, so every Telegram chat waits for every other
chat's Rasa round trip. :class:`PerChatProcessor` lets updates of different chats run
concurrently while one chat's updates (messages, button presses, edits) are handled strictly
in the order they arrived: a per-chat ``asyncio.Lock`` (FIFO) taken in arrival order.

After an update has been handled, ``after`` is awaited with it (the webhook inbox marks the
stored update done there). An update cancelled by shutdown is not reported: it was not
handled, and the inbox hands it out again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.logsafe import pseudonym
from hotline import channels, log_context

logger = logging.getLogger(__name__)

#: Updates handled at once across all chats; each waits mostly on Rasa and the database.
MAX_CONCURRENT = 64

After = Callable[[object], Awaitable[None]]


def _log_ref(chat: int | None) -> str | None:
    return pseudonym(channels.TELEGRAM.conversation(chat)) if chat is not None else None


def chat_key(update: object) -> int | None:
    """The chat an update belongs to; None for updates without one (handled one at a time)."""
    if isinstance(update, Update) and update.effective_chat is not None:
        return update.effective_chat.id
    return None


class PerChatProcessor(BaseUpdateProcessor):
    def __init__(self, max_concurrent_updates: int = MAX_CONCURRENT,
                 after: After | None = None) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int | None, asyncio.Lock] = {}
        self._waiting: dict[int | None, int] = {}
        self.after = after

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = chat_key(update)
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock:
                # Every line logged while handling it names the chat's pseudonym and the update.
                with log_context.request(_log_ref(key)):
                    await coroutine
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:  # no one else queued for this chat: forget its lock
                del self._waiting[key]
                del self._locks[key]
        if self.after is not None:
            try:
                await self.after(update)
            except Exception:  # noqa: BLE001 - reported; the update was handled anyway
                logger.exception("after-update hook failed")

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

