"""Long polling: ``getUpdates`` with offset confirmation, ``limit``, ``timeout``, sticky
``allowed_updates`` and Telegram's 409 Conflicts."""

from __future__ import annotations

import asyncio
import contextlib
import copy
from typing import Any

from starlette.requests import Request

from .constants import _CONFLICT_OTHER_POLL, _CONFLICT_WEBHOOK
from .core import FakeTelegramCore
from .records import UploadedFile
from .util import BotApiError, _allowed, _as_float, _as_int


class PollingMixin(FakeTelegramCore):
    """``getUpdates``, and how often each update reached the bot."""

    async def _m_get_updates(
        self, p: dict[str, Any], files: dict[str, UploadedFile], request: Request
    ) -> list[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        offset = _as_int(p.get("offset"), "offset", 0)
        limit = min(max(_as_int(p.get("limit"), "limit", 100), 1), 100)
        timeout = min(max(_as_float(p.get("timeout"), "timeout", 0.0), 0.0), 50.0)
        allowed = p.get("allowed_updates")
        with self._cond:
            if self._webhook is not None:
                raise BotApiError(409, _CONFLICT_WEBHOOK)
            if isinstance(allowed, list):
                self._allowed_updates = [str(a) for a in allowed] or None
            self._poll_generation += 1
            generation = self._poll_generation
            if offset > 0:
                self._pending = [u for u in self._pending if u["update_id"] >= offset]
            elif offset < 0:
                self._pending = self._pending[offset:]
            self._notify_locked()
        self._on_wake()  # an older waiting getUpdates now answers 409
        deadline = loop.time() + timeout
        while True:
            with self._cond:
                superseded = generation != self._poll_generation
                webhook_set = self._webhook is not None
                self._pending = [u for u in self._pending if _allowed(u, self._allowed_updates)]
                batch = copy.deepcopy(self._pending[:limit])
                event = self._poll_event
                closing = self._closing
            if superseded or webhook_set:
                gone = await request.is_disconnected()
                reason = _CONFLICT_OTHER_POLL if superseded else _CONFLICT_WEBHOOK
                raise BotApiError(409, reason, abandoned=gone)
            if batch or closing:
                if batch and not await request.is_disconnected():
                    with self._cond:
                        for update in batch:
                            uid = update["update_id"]
                            self._delivery_counts[uid] = self._delivery_counts.get(uid, 0) + 1
                return batch
            remaining = deadline - loop.time()
            if remaining <= 0 or event is None:
                return []
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    # ------------------------------------------------------------- reading

    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed (polling) / not yet posted (webhook)."""
        with self._lock:
            return copy.deepcopy(self._pending)

    def times_delivered(self, update_id: int) -> int:
        """How often the update reached the bot (getUpdates answers + webhook POSTs)."""
        with self._lock:
            return self._delivery_counts.get(update_id, 0)
