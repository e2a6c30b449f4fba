"""Waiting for the bot, with assertion messages that say what it did instead.

Each wait has a blocking form (``wait_for_*``, ``assert_no_reply``: not inside a running
event loop) and an ``await_*`` twin; both share the check and the failure report. Waiting
for a webhook delivery is in :mod:`.webhook`."""

from __future__ import annotations

from collections.abc import Callable

from .constants import ChatId
from .core import FakeTelegramCore
from .records import ApiCall, SentMessage
from .util import _norm_chat_id


class WaitingMixin(FakeTelegramCore):
    """Waiting for replies, for the absence of replies, and for API calls."""

    # ------------------------------------------------------------- replies

    def _chat_cursor_locked(self, key: ChatId) -> int:
        chat = self._chats.get(key)
        return chat.cursor_seq if chat else 0

    @staticmethod
    def _reply_matcher(
        predicate: Callable[[SentMessage], bool] | None,
        text: str | None,
        contains: str | None,
    ) -> tuple[Callable[[SentMessage], bool], str]:
        conditions: list[Callable[[SentMessage], bool]] = []
        descriptions: list[str] = []
        if text is not None:
            conditions.append(lambda m: text in (m.text, m.plain_text))
            descriptions.append(f"with text == {text!r}")
        if contains is not None:
            conditions.append(
                lambda m: contains in (m.text or "") or contains in (m.plain_text or "")
            )
            descriptions.append(f"containing {contains!r}")
        if predicate is not None:
            conditions.append(predicate)
            descriptions.append(f"matching {getattr(predicate, '__name__', repr(predicate))}")
        description = " and ".join(descriptions) or "(any message)"
        return (lambda m: all(cond(m) for cond in conditions)), description

    def _reply_check(
        self, key: ChatId, matcher: Callable[[SentMessage], bool], since: int | None
    ) -> Callable[[], SentMessage | None]:
        def check() -> SentMessage | None:
            start = since if since is not None else self._chat_cursor_locked(key)
            for message in self._sent:
                if message.seq > start and message.chat_id == key and matcher(message):
                    return message
            return None

        return check

    def _finish_reply(
        self,
        key: ChatId,
        found: SentMessage | None,
        description: str,
        timeout: float,
        since: int | None,
    ) -> SentMessage:
        with self._cond:
            if found is None:
                raise AssertionError(self._reply_failure_locked(key, description, timeout, since))
            chat = self._chats.get(key)
            if since is None and chat is not None:
                chat.cursor_seq = max(chat.cursor_seq, found.seq)
            return found

    def _reply_failure_locked(
        self, key: ChatId, description: str, timeout: float, since: int | None
    ) -> str:
        start = since if since is not None else self._chat_cursor_locked(key)
        chat = self._chats.get(key)
        action = next(
            (a for a in reversed(self._actions) if chat and a.seq == chat.last_action_seq), None
        )
        if since is not None:
            where = f"event #{since}"
        elif action is not None:
            where = f"the last user action (#{action.seq} {action.kind} {action.summary}, update {action.update_id})"
            if start != action.seq:
                where += f" and the previously returned reply (#{start})"
        else:
            where = "the start (no user action in this chat yet)"
        lines = [f"No bot message {description} in chat {key} within {timeout:g}s after {where}."]
        after = [m for m in self._sent if m.chat_id == key and m.seq > start]
        earlier = [m for m in self._sent if m.chat_id == key and m.seq <= start][-5:]
        if after:
            lines.append("Bot messages to this chat after that point:")
            lines += [f"  {m.describe()}" for m in after]
        else:
            lines.append("The bot sent nothing to this chat after that point.")
        if earlier:
            lines.append("Earlier bot messages to this chat (latest 5):")
            lines += [f"  {m.describe()}" for m in earlier]
        elsewhere = [m for m in self._sent if m.chat_id != key and m.seq > start]
        if elsewhere:
            lines.append("Bot messages to OTHER chats since then:")
            lines += [f"  chat {m.chat_id}: {m.describe()}" for m in elsewhere[-10:]]
        lines += self._diagnostics_locked(start)
        return "\n".join(lines)

    def _diagnostics_locked(self, start: int) -> list[str]:
        lines: list[str] = []
        failed = [
            c for c in self._calls if c.seq > start and c.done and not c.ok and not c.abandoned
        ]
        if failed:
            lines.append("Failed Bot API calls since then:")
            lines += [f"  {c}" for c in failed[-15:]]
        polled = any(c.method == "getUpdates" for c in self._calls if c.seq > start)
        webhook = self._webhook
        if webhook is not None:
            lines.append(f"Webhook mode: {webhook.url} (secret {'set' if webhook.secret_token else 'none'}).")
            recent = [d for d in self._deliveries if d.seq > start]
            lines += [
                f"  delivery of update {d.update_id}: {d.status_code or d.error}" for d in recent[-10:]
            ]
        elif not polled:
            lines.append("Note: the bot did not call getUpdates since then (is it polling?).")
        if self._pending:
            lines.append(f"Unconfirmed pending updates: {[u['update_id'] for u in self._pending]}")
        if self._server_errors:
            lines.append("FakeTelegram internal errors:")
            lines += [f"  {e.strip().splitlines()[-1]}" for e in self._server_errors[-3:]]
        return lines

    def wait_for_reply(
        self,
        chat_id: ChatId,
        predicate: Callable[[SentMessage], bool] | None = None,
        *,
        text: str | None = None,
        contains: str | None = None,
        timeout: float = 5.0,
        since: int | None = None,
    ) -> SentMessage:
        """Block until the bot sends a matching message to ``chat_id``; return it.

        Only messages sent after the chat's cursor count. The cursor moves to each user
        action in that chat and past every message returned here, so consecutive calls
        read consecutive replies. ``since`` (a :meth:`mark` value) overrides the cursor
        and leaves it alone. ``text`` must equal the raw or the plain (markup-free)
        text; ``contains`` is a substring of either. On timeout raises AssertionError
        listing what the bot did send (and failed API calls).
        """
        self._forbid_running_loop("wait_for_reply", "await_reply")
        key = _norm_chat_id(chat_id)
        assert key is not None
        matcher, description = self._reply_matcher(predicate, text, contains)
        found = self._wait_sync(self._reply_check(key, matcher, since), timeout)
        return self._finish_reply(key, found, description, timeout, since)

    async def await_reply(
        self,
        chat_id: ChatId,
        predicate: Callable[[SentMessage], bool] | None = None,
        *,
        text: str | None = None,
        contains: str | None = None,
        timeout: float = 5.0,
        since: int | None = None,
    ) -> SentMessage:
        """Async twin of :meth:`wait_for_reply` (does not block the event loop)."""
        key = _norm_chat_id(chat_id)
        assert key is not None
        matcher, description = self._reply_matcher(predicate, text, contains)
        found = await self._wait_async(self._reply_check(key, matcher, since), timeout)
        return self._finish_reply(key, found, description, timeout, since)

    def _no_reply_result(self, key: ChatId, found: SentMessage | None, within: float) -> None:
        if found is not None:
            with self._lock:
                start = self._chat_cursor_locked(key)
                after = [m for m in self._sent if m.chat_id == key and m.seq > start]
            listing = "\n".join(f"  {m.describe()}" for m in after)
            raise AssertionError(
                f"Expected no bot message in chat {key} within {within:g}s, but got:\n{listing}"
            )

    def assert_no_reply(self, chat_id: ChatId, *, within: float = 0.5, since: int | None = None) -> None:
        """Wait ``within`` seconds and fail if the bot sends anything to ``chat_id``
        after the cursor (see :meth:`wait_for_reply`)."""
        self._forbid_running_loop("assert_no_reply", "await_no_reply")
        key = _norm_chat_id(chat_id)
        assert key is not None
        found = self._wait_sync(self._reply_check(key, lambda m: True, since), within)
        self._no_reply_result(key, found, within)

    async def await_no_reply(
        self, chat_id: ChatId, *, within: float = 0.5, since: int | None = None
    ) -> None:
        """Async twin of :meth:`assert_no_reply`."""
        key = _norm_chat_id(chat_id)
        assert key is not None
        found = await self._wait_async(self._reply_check(key, lambda m: True, since), within)
        self._no_reply_result(key, found, within)

    # ----------------------------------------------------------- API calls

    def _call_check(
        self,
        method: str,
        predicate: Callable[[ApiCall], bool] | None,
        since: int | None,
        ok: bool | None,
    ) -> Callable[[], ApiCall | None]:
        def check() -> ApiCall | None:
            start = since
            if start is None:
                start = max(self._last_action_seq, self._call_cursor.get(method, 0))
            for call in self._calls:
                if (
                    call.seq > start
                    and call.method == method
                    and call.done
                    and (ok is None or call.ok == ok)
                    and (predicate is None or predicate(call))
                ):
                    return call
            return None

        return check

    def _finish_call_wait(
        self, method: str, found: ApiCall | None, timeout: float, since: int | None
    ) -> ApiCall:
        with self._cond:
            start = since
            if start is None:
                start = max(self._last_action_seq, self._call_cursor.get(method, 0))
            if found is None:
                action = self._actions[-1] if self._actions else None
                if since is not None or action is None or start != action.seq:
                    where = f"event #{start}"
                else:
                    where = f"the last user action (#{action.seq} {action.kind} {action.summary})"
                recent = [c for c in self._calls if c.seq > start and c.method != "getUpdates"]
                lines = [
                    f"No matching {method} call within {timeout:g}s after {where}.",
                    "Bot API calls since then (getUpdates omitted):",
                    *([f"  {c}" for c in recent[-20:]] or ["  (none)"]),
                    *self._diagnostics_locked(start),
                ]
                raise AssertionError("\n".join(lines))
            if since is None:
                self._call_cursor[method] = max(self._call_cursor.get(method, 0), found.seq)
            return found

    def wait_for_call(
        self,
        method: str,
        predicate: Callable[[ApiCall], bool] | None = None,
        *,
        timeout: float = 5.0,
        since: int | None = None,
        ok: bool | None = None,
    ) -> ApiCall:
        """Block until a (completed) call of ``method`` arrives after the last user action
        (any chat) and after the previously returned call of that method; return it.
        ``ok=True/False`` restricts to successful/failed calls."""
        self._forbid_running_loop("wait_for_call", "await_call")
        found = self._wait_sync(self._call_check(method, predicate, since, ok), timeout)
        return self._finish_call_wait(method, found, timeout, since)

    async def await_call(
        self,
        method: str,
        predicate: Callable[[ApiCall], bool] | None = None,
        *,
        timeout: float = 5.0,
        since: int | None = None,
        ok: bool | None = None,
    ) -> ApiCall:
        """Async twin of :meth:`wait_for_call`."""
        found = await self._wait_async(self._call_check(method, predicate, since, ok), timeout)
        return self._finish_call_wait(method, found, timeout, since)
