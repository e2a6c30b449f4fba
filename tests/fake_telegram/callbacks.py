"""Inline buttons: the user presses one (:meth:`~CallbacksMixin.user_presses`, a
``callback_query`` update), the bot answers it (``answerCallbackQuery``)."""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request

from .constants import _QUERY_INVALID, ChatId
from .core import FakeTelegramCore
from .records import PressedButton, SentMessage, UploadedFile
from .util import _bad, _norm_chat_id, _utf16_len


class CallbacksMixin(FakeTelegramCore):
    """Button presses and their answers."""

    def user_presses(
        self,
        chat_id: ChatId,
        callback_data: str | None = None,
        *,
        button_text: str | None = None,
        message_id: int | None = None,
        user: Mapping[str, Any] | None = None,
        strict: bool = True,
    ) -> int:
        """The user presses an inline button. Returns the ``update_id`` of the callback query.

        The message is ``message_id`` or, by default, the bot's latest (not deleted)
        message in the chat that has an inline keyboard. The button is chosen by
        ``callback_data`` or ``button_text``; with neither, the message must have exactly
        one callback button. With ``strict`` (default) pressing a button that is not on
        the message raises AssertionError (a real user could not do it).
        """
        with self._cond:
            key = _norm_chat_id(chat_id)
            chat = self._chats.get(key) if key is not None else None
            if chat is None or key is None:
                raise AssertionError(f"chat {chat_id} has no messages; nothing to press")
            sent = self._target_message_locked(key, message_id)
            if button_text is not None:
                try:
                    button = sent.button(button_text)
                except KeyError as exc:
                    raise AssertionError(str(exc)) from None
                if "callback_data" not in button:
                    raise AssertionError(f"button {button_text!r} has no callback_data: {button}")
                callback_data = button["callback_data"]
            if callback_data is None:
                if len(sent.callback_data) != 1:
                    raise ValueError(
                        f"message {sent.message_id} has buttons {sent.callback_data}; "
                        "pass callback_data= or button_text="
                    )
                callback_data = sent.callback_data[0]
            if strict and callback_data not in sent.callback_data:
                raise AssertionError(
                    f"message {sent.message_id} in chat {key} has no inline button with "
                    f"callback_data {callback_data!r}; its buttons: {sent.describe()}"
                )
            if sent.deleted:
                raise AssertionError(f"message {sent.message_id} in chat {key} was deleted")
            query_id = str(4_000_000_000_000_000_000 + next(self._counter))
            sender = {**chat.user, **(user or {})}
            query = {
                "id": query_id,
                "from": sender,
                "message": sent.message,
                "chat_instance": str(-9_000_000_000_000_000_000 + zlib.crc32(str(key).encode())),
                "data": callback_data,
            }
            update_id = self._enqueue_locked(
                {"callback_query": query}, chat, "callback_query", f"press {callback_data!r}"
            )
            self._callback_queries[query_id] = PressedButton(
                query_id, update_id, key, sent.message_id, callback_data
            )
            return update_id

    def _target_message_locked(self, key: ChatId, message_id: int | None) -> SentMessage:
        if message_id is not None:
            sent = self._sent_index.get((key, message_id))
            if sent is None:
                raise AssertionError(f"the bot sent no message {message_id} to chat {key}")
            return sent
        for sent in reversed(self._sent):
            if sent.chat_id == key and not sent.deleted and sent.inline_keyboard:
                return sent
        listing = "\n".join(
            "  " + s.describe() for s in self._sent if s.chat_id == key
        ) or "  (none)"
        raise AssertionError(
            f"the bot has sent no message with an inline keyboard to chat {key}; "
            f"its messages:\n{listing}"
        )

    # ------------------------------------------------------------- Bot API

    def _m_answer_callback_query(
        self, p: dict[str, Any], files: dict[str, UploadedFile], request: Request
    ) -> bool:
        with self._cond:
            pressed = self._callback_queries.get(str(p.get("callback_query_id") or ""))
            if pressed is None or pressed.answer is not None:
                raise _bad(_QUERY_INVALID.removeprefix("Bad Request: "))
            if _utf16_len(str(p.get("text") or "")) > 200:
                raise _bad("MESSAGE_TOO_LONG")
            pressed.answer = dict(p)
            self._notify_locked()
            return True

    # ------------------------------------------------------------- reading

    @property
    def callback_queries(self) -> list[PressedButton]:
        """Button presses, oldest first (``.answer`` is filled by answerCallbackQuery)."""
        with self._lock:
            return list(self._callback_queries.values())
