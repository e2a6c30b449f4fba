"""What the bot sends: ``sendMessage`` and the media / location / contact / chat-action methods,
edits (``editMessageText`` / ``Caption`` / ``ReplyMarkup``), ``deleteMessage``, and reading
the bot's messages back (:meth:`~MessagesMixin.sent` & co)."""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from starlette.requests import Request

from .constants import _CHAT_ACTIONS, _NOT_MODIFIED, ChatId
from .core import FakeTelegramCore
from .markup import _validate_markup, render_text
from .records import ApiCall, SentMessage, UploadedFile, _Chat
from .util import (
    BotApiError,
    _as_bool,
    _as_float,
    _as_int,
    _bad,
    _norm_chat_id,
    _now,
    _utf16_len,
    _without_reply,
)


class MessagesMixin(FakeTelegramCore):
    """Sending, editing and deleting bot messages; reading them back."""

    def _chat_for_send_locked(self, p: Mapping[str, Any]) -> _Chat:
        chat_id = _norm_chat_id(p.get("chat_id"))
        if chat_id is None:
            raise _bad("chat_id is empty")
        chat = self._chats.get(chat_id)
        if chat is None:
            if self.strict_chats:
                raise _bad("chat not found")
            chat = self._ensure_chat_locked(chat_id, None, "private" if isinstance(chat_id, int) and chat_id > 0 else "channel")
        if chat.blocked:
            raise BotApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _new_bot_message_locked(
        self,
        method: str,
        chat: _Chat,
        p: dict[str, Any],
        files: dict[str, UploadedFile],
        content: dict[str, Any],
        raw_text: str | None,
        parse_mode: str | None,
    ) -> dict[str, Any]:
        markup = _validate_markup(p.get("reply_markup"))
        reply_parameters = p.get("reply_parameters") if isinstance(p.get("reply_parameters"), dict) else {}
        reply_to = p.get("reply_to_message_id") or reply_parameters.get("message_id")
        reply_target: dict[str, Any] | None = None
        if reply_to:
            reply_target = chat.messages.get(_as_int(reply_to, "reply_to_message_id", 0))
            allow = p.get("allow_sending_without_reply") or reply_parameters.get(
                "allow_sending_without_reply"
            )
            if reply_target is None and not _as_bool(allow):
                raise _bad("message to be replied not found")
        message_id = chat.next_message_id
        chat.next_message_id += 1
        message: dict[str, Any] = {
            "message_id": message_id,
            "from": dict(self.bot_user),
            "chat": dict(chat.chat),
            "date": _now(),
            **content,
        }
        if reply_target is not None:
            message["reply_to_message"] = _without_reply(reply_target)
        if markup and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        chat.messages[message_id] = message
        chat_key = chat.chat["id"]
        sent = SentMessage(
            seq=self._next_seq_locked(),
            method=method,
            chat_id=chat_key,
            message_id=message_id,
            params=p,
            message=message,
            text=raw_text,
            parse_mode=parse_mode,
            reply_markup=markup,
            files=files,
        )
        self._sent.append(sent)
        self._sent_by_chat.setdefault(chat_key, []).append(sent)
        self._sent_index[(chat_key, message_id)] = sent
        self._notify_locked()
        return copy.deepcopy(message)

    def _m_send_message(
        self, p: dict[str, Any], files: dict[str, UploadedFile], request: Request
    ) -> dict[str, Any]:
        with self._cond:
            chat = self._chat_for_send_locked(p)
            text = p.get("text")
            if text is None or str(text) == "":
                raise _bad("message text is empty")
            text = str(text)
            parse_mode = p.get("parse_mode") or None
            plain = render_text(text, parse_mode)
            if not plain.strip():
                raise _bad("message text is empty")
            if _utf16_len(plain) > 4096:
                raise _bad("message is too long")
            return self._new_bot_message_locked(
                "sendMessage", chat, p, files, {"text": plain}, text, parse_mode
            )

    def _media_handler(self, method: str, kind: str) -> Callable[..., dict[str, Any]]:
        def handler(
            p: dict[str, Any], files: dict[str, UploadedFile], request: Request
        ) -> dict[str, Any]:
            with self._cond:
                chat = self._chat_for_send_locked(p)
                value = p.get(kind)
                upload = files.get(kind)
                if isinstance(value, str) and value.startswith("attach://"):
                    upload = files.get(value.removeprefix("attach://"))
                if upload is not None:
                    stored = self._store_file_locked(
                        kind, upload.content, upload.filename, upload.content_type
                    )
                elif isinstance(value, str) and value in self._files:
                    stored = self._files[value]
                elif isinstance(value, str) and re.match(r"^https?://", value):
                    stored = self._store_file_locked(kind, b"", value.rsplit("/", 1)[-1], None)
                elif value:
                    raise _bad("wrong file identifier/HTTP URL specified")
                else:
                    raise _bad(f"there is no {kind} in the request")
                content: dict[str, Any] = self._media_content_locked(kind, stored)
                caption = p.get("caption")
                parse_mode = p.get("parse_mode") or None
                raw: str | None = None
                if caption not in (None, ""):
                    raw = str(caption)
                    plain = render_text(raw, parse_mode)
                    if _utf16_len(plain) > 1024:
                        raise _bad("message caption is too long")
                    content["caption"] = plain
                return self._new_bot_message_locked(method, chat, p, files, content, raw, parse_mode)

        return handler

    def _m_send_location(
        self, p: dict[str, Any], files: dict[str, UploadedFile], request: Request
    ) -> dict[str, Any]:
        with self._cond:
            chat = self._chat_for_send_locked(p)
            location = {
                "latitude": _as_float(p.get("latitude"), "latitude", 0.0),
                "longitude": _as_float(p.get("longitude"), "longitude", 0.0),
            }
            return self._new_bot_message_locked(
                "sendLocation", chat, p, files, {"location": location}, None, None
            )

    def _m_send_contact(
        self, p: dict[str, Any], files: dict[str, UploadedFile], request: Request
    ) -> dict[str, Any]:
        with self._cond:
            chat = self._chat_for_send_locked(p)
            if not p.get("phone_number") or not p.get("first_name"):
                raise _bad("phone number and first name must be non-empty")
            contact = {k: p[k] for k in ("phone_number", "first_name", "last_name", "vcard") if p.get(k)}
            return self._new_bot_message_locked(
                "sendContact", chat, p, files, {"contact": contact}, None, None
            )

    def _m_send_chat_action(
        self, p: dict[str, Any], files: dict[str, UploadedFile], request: Request
    ) -> bool:
        with self._cond:
            self._chat_for_send_locked(p)
        if p.get("action") not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    # ------------------------------------------------------------- editing

    def _bot_message_for_edit_locked(self, p: Mapping[str, Any]) -> tuple[_Chat, SentMessage]:
        if p.get("inline_message_id"):
            raise _bad("inline messages are not supported by FakeTelegram")
        chat_id = _norm_chat_id(p.get("chat_id"))
        if chat_id is None:
            raise _bad("chat_id is empty")
        chat = self._chats.get(chat_id)
        if chat is None:
            raise _bad("chat not found")
        message_id = _as_int(p.get("message_id"), "message_id", 0)
        message = chat.messages.get(message_id)
        if message is None:
            raise _bad("message to edit not found")
        sent = self._sent_index.get((chat.chat["id"], message_id))
        if sent is None:
            raise _bad("message can't be edited")
        return chat, sent

    def _apply_edit_locked(
        self,
        sent: SentMessage,
        call_params: dict[str, Any],
        method: str,
        field_name: str | None,
        new_plain: str | None,
        new_raw: str | None,
        parse_mode: str | None,
        markup: dict[str, Any] | None,
    ) -> dict[str, Any]:
        message = sent.message
        inline = markup if markup and "inline_keyboard" in markup else None
        unchanged_text = field_name is None or (
            message.get(field_name) == new_plain and sent.text == new_raw
        )
        if unchanged_text and message.get("reply_markup") == inline:
            raise _bad(_NOT_MODIFIED.removeprefix("Bad Request: "))
        if field_name is not None:
            message[field_name] = new_plain
            sent.text, sent.parse_mode = new_raw, parse_mode
        if inline is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = inline
        sent.reply_markup = inline
        message["edit_date"] = _now()
        edit = ApiCall(
            seq=self._next_seq_locked(),
            method=method,
            params=call_params,
            files={},
            encoding="",
            started=time.time(),
            finished=time.time(),
            status_code=200,
        )
        sent.history.append(edit)
        self._notify_locked()
        return copy.deepcopy(message)

    def _m_edit_message_text(
        self, p: dict[str, Any], files: dict[str, UploadedFile], request: Request
    ) -> dict[str, Any]:
        with self._cond:
            _, sent = self._bot_message_for_edit_locked(p)
            text = p.get("text")
            if text is None or str(text) == "":
                raise _bad("message text is empty")
            if "text" not in sent.message:
                raise _bad("there is no text in the message to edit")
            parse_mode = p.get("parse_mode") or None
            plain = render_text(str(text), parse_mode)
            if _utf16_len(plain) > 4096:
                raise _bad("MESSAGE_TOO_LONG")
            markup = _validate_markup(p.get("reply_markup"))
            return self._apply_edit_locked(
                sent, p, "editMessageText", "text", plain, str(text), parse_mode, markup
            )

    def _m_edit_message_caption(
        self, p: dict[str, Any], files: dict[str, UploadedFile], request: Request
    ) -> dict[str, Any]:
        with self._cond:
            _, sent = self._bot_message_for_edit_locked(p)
            if sent.method == "sendMessage":
                raise _bad("there is no caption in the message to edit")
            raw = str(p.get("caption") or "")
            parse_mode = p.get("parse_mode") or None
            plain = render_text(raw, parse_mode)
            markup = _validate_markup(p.get("reply_markup"))
            return self._apply_edit_locked(
                sent, p, "editMessageCaption", "caption", plain, raw or None, parse_mode, markup
            )

    def _m_edit_message_reply_markup(
        self, p: dict[str, Any], files: dict[str, UploadedFile], request: Request
    ) -> dict[str, Any]:
        with self._cond:
            _, sent = self._bot_message_for_edit_locked(p)
            markup = _validate_markup(p.get("reply_markup"))
            return self._apply_edit_locked(
                sent, p, "editMessageReplyMarkup", None, None, None, None, markup
            )

    def _m_delete_message(
        self, p: dict[str, Any], files: dict[str, UploadedFile], request: Request
    ) -> bool:
        with self._cond:
            chat_id = _norm_chat_id(p.get("chat_id"))
            chat = self._chats.get(chat_id) if chat_id is not None else None
            if chat is None:
                raise _bad("chat not found")
            message_id = _as_int(p.get("message_id"), "message_id", 0)
            if chat.messages.pop(message_id, None) is None:
                raise _bad("message to delete not found")
            sent = self._sent_index.get((chat.chat["id"], message_id))
            if sent is not None:
                sent.deleted = True
            self._notify_locked()
            return True

    # ------------------------------------------------------------- reading

    def sent(self, chat_id: ChatId | None = None) -> list[SentMessage]:
        """Messages the bot sent (to ``chat_id``, or to anyone), oldest first."""
        key = _norm_chat_id(chat_id) if chat_id is not None else None
        with self._lock:
            return list(self._sent if key is None else self._sent_by_chat.get(key, ()))

    def texts(self, chat_id: ChatId) -> list[str | None]:
        """The raw texts/captions the bot sent to ``chat_id`` (current, after edits)."""
        return [m.text for m in self.sent(chat_id)]

    def last_message(self, chat_id: ChatId) -> SentMessage | None:
        """The bot's latest message to ``chat_id``."""
        messages = self.sent(chat_id)
        return messages[-1] if messages else None

    def message(self, chat_id: ChatId, message_id: int) -> SentMessage:
        """One bot message by id (KeyError if the bot sent no such message)."""
        key = _norm_chat_id(chat_id)
        with self._lock:
            if key is None or (key, message_id) not in self._sent_index:
                raise KeyError(f"the bot sent no message {message_id} to chat {chat_id}")
            return self._sent_index[(key, message_id)]
