"""Telegram's flood control, when the fake is asked to keep it (``flood_limits=``).

Telegram answers 429 ``Too Many Requests: retry after N`` (``parameters.retry_after``) to a
bot sending more than about 30 messages a second in all, more than about one a second to
one chat (short bursts pass) or more than 20 a minute to one group. The fake models each as
a sliding window — at most ``count`` messages in any ``seconds`` — on its own clock, counts
only the messages it accepted, and keeps every refusal in :attr:`FloodMixin.flood_refusals`.
Only message sends count (``send*`` but ``sendChatAction``, copies and forwards).
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .core import FakeTelegramCore
from .util import BotApiError


@dataclass(frozen=True)
class TelegramLimits:
    """The windows the fake keeps: ``(count, seconds)`` each."""

    per_bot: tuple[int, float] = (30, 1.0)
    per_chat: tuple[int, float] = (3, 3.0)  # one a second, short bursts of three
    per_group: tuple[int, float] = (20, 60.0)


@dataclass(frozen=True)
class FloodRefusal:
    """A message the fake refused with 429."""

    method: str
    chat_id: Any
    scope: str  # "bot", "chat" or "group": the window that was full
    retry_after: int
    at: float = field(default_factory=time.monotonic)


def _counted(method: str) -> bool:
    if method == "sendChatAction":
        return False
    return method.startswith("send") or method in {
        "copyMessage", "copyMessages", "forwardMessage", "forwardMessages"}


def _is_group(chat: Any) -> bool:
    if isinstance(chat, str):
        return chat.startswith(("@", "-"))
    return isinstance(chat, int) and chat < 0


class FloodMixin(FakeTelegramCore):
    """Enforces ``flood_limits`` (a :class:`TelegramLimits`; None, the default: no limits)."""

    def _check_flood(self, method: str, params: dict[str, Any]) -> None:
        """Raise 429 when this message would overflow a window; else count it."""
        limits = self.flood_limits
        if limits is None or not _counted(method):
            return
        chat = params.get("chat_id")
        windows = [("bot", "bot", limits.per_bot)]
        if chat is not None:
            windows.append(("chat", f"chat:{chat}", limits.per_chat))
            if _is_group(chat):
                windows.append(("group", f"group:{chat}", limits.per_group))
        now = time.monotonic()
        with self._lock:
            worst: tuple[float, str] = (0.0, "")
            for scope, key, (count, seconds) in windows:
                log = self._flood_log.setdefault(key, deque())
                while log and log[0] <= now - seconds:
                    log.popleft()
                if len(log) >= count:
                    free_in = log[len(log) - count] + seconds - now
                    worst = max(worst, (free_in, scope))
            if worst[0] > 0:
                retry = max(1, math.ceil(worst[0]))
                self._flood_refusals.append(FloodRefusal(method, chat, worst[1], retry))
                raise BotApiError(429, f"Too Many Requests: retry after {retry}",
                                  {"retry_after": retry})
            for _, key, _ in windows:
                self._flood_log[key].append(now)

    @property
    def flood_refusals(self) -> list[FloodRefusal]:
        """Every 429 the fake's flood control answered (a snapshot list)."""
        with self._lock:
            return list(self._flood_refusals)
