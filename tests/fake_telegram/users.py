"""The user's side: updates the test creates (text, media, edits, raw updates) and queues for
the bot, by long polling or webhook. Button presses are in :mod:`.callbacks`."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from .constants import DEFAULT_FIRST_NAME, DEFAULT_LOCATION, USER_SEND_KINDS, ChatId
from .core import FakeTelegramCore
from .records import UserAction, _Chat
from .util import _command_entities, _norm_chat_id, _now, _short, _update_type, _without_reply


class UserActionsMixin(FakeTelegramCore):
    """``user_says``, ``user_sends``, ``user_edits``, ``user_update`` and the update queue."""

    def _enqueue_locked(
        self,
        payload: dict[str, Any],
        chat: _Chat | None,
        kind: str,
        summary: str,
    ) -> int:
        update_id = self._next_update_id
        self._next_update_id += 1
        update = {"update_id": update_id, **copy.deepcopy(payload)}
        self._pending.append(update)
        seq = self._next_seq_locked()
        self._actions.append(
            UserAction(seq, update_id, chat.chat["id"] if chat else None, kind, update, summary)
        )
        self._last_action_seq = seq
        if chat is not None:
            chat.last_action_seq = chat.cursor_seq = seq
        self._notify_locked()
        self._wake_server()
        return update_id

    def _user_message(
        self,
        chat_id: ChatId,
        content: dict[str, Any],
        *,
        kind: str,
        summary: str,
        user: Mapping[str, Any] | None,
        reply_to: int | None,
        chat_type: str,
        extra: Mapping[str, Any] | None,
    ) -> int:
        with self._cond:
            chat = self._ensure_chat_locked(chat_id, user, chat_type)
            sender = {**chat.user, **(user or {})}
            message_id = chat.next_message_id
            chat.next_message_id += 1
            message: dict[str, Any] = {
                "message_id": message_id,
                "from": sender,
                "chat": dict(chat.chat),
                "date": _now(),
                **content,
            }
            if reply_to is not None:
                target = chat.messages.get(reply_to)
                if target is None:
                    raise ValueError(f"reply_to: no message {reply_to} in chat {chat_id}")
                message["reply_to_message"] = _without_reply(target)
            if extra:
                message.update(extra)
            chat.messages[message_id] = message
            return self._enqueue_locked({"message": message}, chat, kind, summary)

    # -------------------------------------------------------- user actions

    def user_says(
        self,
        chat_id: ChatId,
        text: str,
        *,
        user: Mapping[str, Any] | None = None,
        reply_to: int | None = None,
        entities: list[dict[str, Any]] | None = None,
        chat_type: str = "private",
        extra: Mapping[str, Any] | None = None,
    ) -> int:
        """The user sends a text message. Returns its ``update_id``.

        ``/commands`` get a ``bot_command`` entity automatically (unless ``entities``
        is given). ``user`` overrides fields of the sender (``{"first_name": "李四"}``);
        on a chat's first action it also becomes the chat's default user.
        ``reply_to`` is the message_id the user replies to; ``extra`` is merged into the
        Message object.
        """
        content: dict[str, Any] = {"text": text}
        found = _command_entities(text) if entities is None else entities
        if found:
            content["entities"] = found
        return self._user_message(
            chat_id, content, kind="text", summary=_short(text, 80), user=user,
            reply_to=reply_to, chat_type=chat_type, extra=extra,
        )  # fmt: skip

    def user_sends(
        self,
        chat_id: ChatId,
        kind: str = "sticker",
        *,
        caption: str | None = None,
        content: bytes | None = None,
        file_name: str | None = None,
        mime_type: str | None = None,
        payload: Any = None,
        user: Mapping[str, Any] | None = None,
        reply_to: int | None = None,
        chat_type: str = "private",
        extra: Mapping[str, Any] | None = None,
    ) -> int:
        """The user sends a non-text message. Returns its ``update_id``.

        ``kind``: one of :data:`USER_SEND_KINDS` (sticker, photo, document, voice, audio,
        video, animation, video_note, location, contact). Media get a stored file
        (``content`` bytes, default ``b"fake <kind>"``) that the bot can fetch with
        ``getFile`` + download. ``payload`` replaces the generated value of the
        ``kind`` field entirely (e.g. ``{"latitude": 1.0, "longitude": 2.0}``).
        """
        if kind not in USER_SEND_KINDS:
            raise ValueError(f"unknown kind {kind!r}; expected one of {USER_SEND_KINDS}")
        with self._cond:
            chat = self._ensure_chat_locked(chat_id, user, chat_type)
            if payload is not None:
                message_content: dict[str, Any] = {kind: payload}
            elif kind == "location":
                message_content = {"location": dict(DEFAULT_LOCATION)}
            elif kind == "contact":
                sender = {**chat.user, **(user or {})}
                message_content = {
                    "contact": {
                        "phone_number": "+8613800138000",
                        "first_name": sender.get("first_name", DEFAULT_FIRST_NAME),
                        "user_id": sender["id"],
                    }
                }
            else:
                data = content if content is not None else f"fake {kind}".encode()
                stored = self._store_file_locked(kind, data, file_name, mime_type)
                message_content = self._media_content_locked(kind, stored)
            if caption is not None:
                message_content["caption"] = caption
        return self._user_message(
            chat_id, message_content, kind=kind,
            summary=f"<{kind}>" + (f" caption={caption!r}" if caption else ""),
            user=user, reply_to=reply_to, chat_type=chat_type, extra=extra,
        )  # fmt: skip

    def user_edits(
        self,
        chat_id: ChatId,
        message_id: int,
        text: str,
        *,
        user: Mapping[str, Any] | None = None,
    ) -> int:
        """The user edits one of their earlier text messages (``edited_message`` update)."""
        with self._cond:
            key = _norm_chat_id(chat_id)
            chat = self._chats.get(key) if key is not None else None
            message = chat.messages.get(message_id) if chat else None
            if chat is None or message is None or message["from"].get("is_bot"):
                raise ValueError(f"no user message {message_id} in chat {chat_id}")
            message["text"] = text
            message["edit_date"] = _now()
            if user:
                message["from"] = {**message["from"], **user}
            return self._enqueue_locked(
                {"edited_message": message}, chat, "edited_message", _short(text, 80)
            )

    def user_update(self, update: Mapping[str, Any], *, chat_id: ChatId | None = None) -> int:
        """Queue any raw update (``update_id`` is assigned). ``chat_id`` moves that chat's
        reply cursor, as the other user actions do."""
        with self._cond:
            payload = {k: v for k, v in update.items() if k != "update_id"}
            key = _norm_chat_id(chat_id) if chat_id is not None else None
            chat = self._chats.get(key) if key is not None else None
            if key is not None and chat is None:
                chat = self._ensure_chat_locked(key, None, "private")
            return self._enqueue_locked(payload, chat, "raw", _update_type(payload))

    # ------------------------------------------------------ forged updates

    def build_text_update(
        self, chat_id: ChatId, text: str, *, user: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """A well-formed text-message update that is NOT queued (for forged webhook POSTs)."""
        with self._cond:
            chat = self._ensure_chat_locked(chat_id, user, "private")
            update_id = self._next_update_id
            self._next_update_id += 1
            message_id = chat.next_message_id
            chat.next_message_id += 1
            return {
                "update_id": update_id,
                "message": {
                    "message_id": message_id,
                    "from": {**chat.user, **(user or {})},
                    "chat": dict(chat.chat),
                    "date": _now(),
                    "text": text,
                },
            }

    # ------------------------------------------------------------- reading

    @property
    def actions(self) -> list[UserAction]:
        """Updates created by the test, oldest first."""
        with self._lock:
            return list(self._actions)
