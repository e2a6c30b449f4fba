"""The state every part of :class:`~tests.fake_telegram.FakeTelegram` shares, and how they wait.

:class:`FakeTelegramCore` holds the configuration and all mutable state (guarded by one
re-entrant lock and its condition), hands out event sequence numbers, and wakes waiters: sync
ones on the condition, async ones through their loop, and the server loop's long polls and
webhook worker. The mixins of the other modules (``server``, ``polling``, ``webhook``,
``messages``, ``callbacks``, ``chats``, ``files``, ``users``, ``waiting``) each add one area
on top of it; :mod:`.fake` puts them together.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import uvicorn

from .constants import DEFAULT_TOKEN, ChatId
from .records import (
    ApiCall,
    PressedButton,
    SentMessage,
    UserAction,
    WebhookDelivery,
    _Chat,
    _Failure,
    _StoredFile,
    _Webhook,
)

if TYPE_CHECKING:
    from .flood import FloodRefusal, TelegramLimits

T = TypeVar("T")


class FakeTelegramCore:
    """Configuration, state and notification primitives (see the module docstring).

    Every ``*_locked`` method, here and in the mixins, expects the caller to hold
    ``self._lock`` (the lock of ``self._cond``). The constructor's arguments are documented on :class:`FakeTelegram`.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_first_name: str = "企业服务热线",
        bot_username: str = "hotline_test_bot",
        strict_chats: bool = True,
        webhook_timeout: float = 10.0,
        webhook_retry_s: float | None = None,
        host: str = "127.0.0.1",
        flood_limits: TelegramLimits | None = None,
    ) -> None:
        self.token = token
        prefix = token.split(":", 1)[0]
        self.bot_id = int(prefix) if prefix.isdigit() else 1
        self.bot_user: dict[str, Any] = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.strict_chats = strict_chats
        self.webhook_timeout = webhook_timeout
        self.webhook_retry_s = webhook_retry_s
        self.host = host
        self.flood_limits = flood_limits
        self.port = 0

        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._async_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self._handlers: dict[str, Callable[..., Any]] = self._builtin_handlers()
        self._canonical = {name.lower(): name for name in self._handlers}
        self._reset_state_locked()

        self._loop: asyncio.AbstractEventLoop | None = None
        self._poll_event: asyncio.Event | None = None
        self._delivery_event: asyncio.Event | None = None
        self._http: httpx.AsyncClient | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._closing = False

    def _reset_state_locked(self) -> None:
        self._seq = 0
        self._next_update_id = 1
        self._pending: list[dict[str, Any]] = []
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._webhook: _Webhook | None = None
        self._chats: dict[ChatId, _Chat] = {}
        self._calls: list[ApiCall] = []
        self._sent: list[SentMessage] = []
        self._sent_index: dict[tuple[ChatId, int], SentMessage] = {}
        # each chat's messages in order: sent(chat) is polled every few ms by the load harness,
        # and a scan of every message sent so far made it its own bottleneck at 64 chats
        self._sent_by_chat: dict[ChatId, list[SentMessage]] = {}
        self._actions: list[UserAction] = []
        self._last_action_seq = 0
        self._call_cursor: dict[str, int] = {}
        self._deliveries: list[WebhookDelivery] = []
        self._delivery_counts: dict[int, int] = {}
        self._callback_queries: dict[str, PressedButton] = {}
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._files: dict[str, _StoredFile] = {}
        self._failures: dict[str, list[_Failure]] = {}
        self._server_errors: list[str] = []
        self._counter = itertools.count(1)
        self._flood_log: dict[str, deque[float]] = {}
        self._flood_refusals: list[FloodRefusal] = []

    def _builtin_handlers(self) -> dict[str, Callable[..., Any]]:
        """The Bot API method table (``name -> handler(params, files, request)``)."""
        raise NotImplementedError  # FakeTelegram has it, where all the areas are known

    def mark(self) -> int:
        """The current event sequence number (for ``since=`` arguments)."""
        with self._lock:
            return self._seq

    def _next_seq_locked(self) -> int:
        self._seq += 1
        return self._seq

    def _notify_locked(self) -> None:
        self._cond.notify_all()
        for loop, event in self._async_waiters:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)

    def _wake_server(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._on_wake)

    def _on_wake(self) -> None:
        """In the server loop: wake every waiting long poll and the webhook worker."""
        if self._poll_event is not None:
            old, self._poll_event = self._poll_event, asyncio.Event()
            old.set()
        if self._delivery_event is not None:
            self._delivery_event.set()

    @staticmethod
    def _forbid_running_loop(name: str, async_name: str) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        raise RuntimeError(
            f"FakeTelegram.{name}() blocks the calling thread, but it was called inside a "
            "running event loop (it would freeze a bot running in that loop). "
            f"Use `await fake.{async_name}(...)` in async tests."
        )

    def _wait_sync(self, check: Callable[[], T | None], timeout: float) -> T | None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = check()
                if found is not None:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)

    async def _wait_async(self, check: Callable[[], T | None], timeout: float) -> T | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            waiter = (loop, asyncio.Event())
            with self._cond:
                found = check()
                if found is not None:
                    return found
                self._async_waiters.append(waiter)
            try:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiter[1].wait(), remaining)
            finally:
                with self._cond:
                    self._async_waiters.remove(waiter)
