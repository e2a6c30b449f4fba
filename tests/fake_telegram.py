"""A fake Telegram Bot API server for end-to-end tests ("the enterprise's phone").

:class:`FakeTelegram` is a real HTTP server on ``127.0.0.1`` (free port), running
uvicorn + Starlette in its own thread with its own event loop. A real bot — for
example a python-telegram-bot (PTB) 22 ``Application`` in the test's event loop,
in another thread or in another process — talks to it over HTTP exactly as it
would talk to ``api.telegram.org``::

    Application.builder().token(fake.token)
        .base_url(fake.base_url)            # f"{fake.url}/bot"
        .base_file_url(fake.base_file_url)  # f"{fake.url}/file/bot"

Tests play the user: :meth:`FakeTelegram.user_says`, :meth:`~FakeTelegram.user_sends`,
:meth:`~FakeTelegram.user_presses` create updates, which the bot receives either by
long polling (``getUpdates``) or — after ``setWebhook`` — by an HTTP POST to its
webhook (with the ``X-Telegram-Bot-Api-Secret-Token`` header). Tests then read what
the bot sent with :meth:`~FakeTelegram.wait_for_reply` (sync) / :meth:`~FakeTelegram.await_reply`
(async), :meth:`~FakeTelegram.sent`, :meth:`~FakeTelegram.wait_for_call` and :attr:`~FakeTelegram.calls`.

Behaviour that mirrors the real Bot API (so that bugs show up here, not in production):

* responses are ``{"ok": true, "result": ...}`` / ``{"ok": false, "error_code": ...,
  "description": ...}``; parameters are accepted as query string, JSON body,
  ``application/x-www-form-urlencoded`` (what PTB 22 sends: every non-string value
  JSON-encoded) or ``multipart/form-data`` (PTB, when uploading files);
* method names are case-insensitive; wrong token -> 401 ``Unauthorized``; unknown
  method -> 400 ``Bad Request: method not found`` (the real API answers 404 here);
* ``getUpdates`` long polling with ``offset`` confirmation (updates stay pending until
  confirmed), ``limit``, ``timeout``, sticky ``allowed_updates``; a newer
  ``getUpdates`` terminates an older waiting one with 409 Conflict, as does an active
  webhook;
* ``sendMessage`` validates ``parse_mode`` markup (HTML tags, MarkdownV2 reserved
  characters, legacy Markdown) and answers ``can't parse entities`` like Telegram;
  empty / too long texts, ``callback_data`` longer than 64 bytes, unknown chats
  (``chat not found``, see ``strict_chats``), blocked users (403) and
  ``message is not modified`` edits are rejected with the real error texts.

Deliberate simplifications: webhook deliveries are made once (no retries; the
result is recorded in :attr:`FakeTelegram.deliveries`), webhook URLs may be plain
``http``, inline mode / payments / groups administration are not implemented
(unknown methods answer 400; :meth:`FakeTelegram.add_method` adds more).

Sync vs async: blocking helpers (``wait_for_*``, ``assert_no_reply``,
``post_to_webhook``) refuse to run inside a running event loop, because they would
freeze a bot running in that loop; use the ``await_*`` / ``apost_to_webhook`` twins in
``async def`` tests. The non-blocking helpers (``user_says`` & co, ``sent``, ``calls``)
work everywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import inspect
import itertools
import json
import re
import socket
import threading
import time
import traceback
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, Final, TypeVar

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = [
    "DEFAULT_TOKEN",
    "SECRET_HEADER",
    "USER_SEND_KINDS",
    "WEBHOOK_SECRET",
    "ApiCall",
    "BotApiError",
    "FakeTelegram",
    "PressedButton",
    "SentMessage",
    "UploadedFile",
    "UserAction",
    "WebhookDelivery",
    "fake_telegram",
    "fake_telegram_factory",
    "render_text",
]

T = TypeVar("T")
ChatId = int | str
"""A chat id as the bot uses it: an integer, or ``"@username"`` for public chats."""
MethodHandler = Callable[[dict[str, Any]], Any]
"""Signature of a custom method added with :meth:`FakeTelegram.add_method`."""

DEFAULT_TOKEN: Final = "123456789:AAFakeHotlineTestToken_0123456789abcde"
SECRET_HEADER: Final = "X-Telegram-Bot-Api-Secret-Token"
DEFAULT_FIRST_NAME: Final = "测试用户"
DEFAULT_LANGUAGE_CODE: Final = "zh-hans"
DEFAULT_GROUP_USER_ID: Final = 700000001
"""``from.id`` of user messages in non-private chats when no ``user`` is given."""
DEFAULT_LOCATION: Final = {"latitude": 31.230416, "longitude": 121.473701}

_NOT_DEFAULT_UPDATE_TYPES: Final = frozenset(
    {"chat_member", "message_reaction", "message_reaction_count"}
)
_CONFLICT_WEBHOOK: Final = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
_CONFLICT_OTHER_POLL: Final = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
_NOT_MODIFIED: Final = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
_QUERY_INVALID: Final = (
    "Bad Request: query is too old and response timeout expired or query ID is invalid"
)
_CHAT_ACTIONS: Final = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice",
        "upload_voice", "upload_document", "choose_sticker", "find_location",
        "record_video_note", "upload_video_note",
    }
)  # fmt: skip
# Top-level parameters that are strings in the Bot API. In form/multipart requests
# every other value is JSON-decoded (PTB JSON-encodes all non-string values).
_STRING_PARAMS: Final = frozenset(
    {
        "text", "caption", "parse_mode", "url", "secret_token", "callback_query_id",
        "inline_message_id", "inline_query_id", "action", "emoji", "ip_address",
        "language_code", "file_id", "photo", "document", "audio", "voice", "video",
        "animation", "sticker", "video_note", "thumbnail", "title", "description",
        "short_description", "name", "phone_number", "first_name", "last_name", "vcard",
        "address", "foursquare_id", "foursquare_type", "google_place_id",
        "google_place_type", "business_connection_id", "message_effect_id", "question",
        "certificate", "file_name", "performer", "switch_pm_text", "switch_pm_parameter",
        "next_offset", "start_parameter", "payload", "provider_token", "currency",
    }
)  # fmt: skip
_BUTTON_ACTIONS: Final = frozenset(
    {
        "url", "callback_data", "web_app", "login_url", "switch_inline_query",
        "switch_inline_query_current_chat", "switch_inline_query_chosen_chat",
        "copy_text", "callback_game", "pay",
    }
)  # fmt: skip
_MEDIA_METHODS: Final = {
    "sendPhoto": "photo",
    "sendDocument": "document",
    "sendAudio": "audio",
    "sendVoice": "voice",
    "sendVideo": "video",
    "sendAnimation": "animation",
    "sendSticker": "sticker",
    "sendVideoNote": "video_note",
}
_FILE_LAYOUT: Final = {  # kind -> (directory, extension, mime type)
    "photo": ("photos", ".jpg", "image/jpeg"),
    "document": ("documents", ".bin", "application/octet-stream"),
    "audio": ("music", ".mp3", "audio/mpeg"),
    "voice": ("voice", ".oga", "audio/ogg"),
    "video": ("videos", ".mp4", "video/mp4"),
    "animation": ("animations", ".mp4", "video/mp4"),
    "sticker": ("stickers", ".webp", "image/webp"),
    "video_note": ("video_notes", ".mp4", "video/mp4"),
}
USER_SEND_KINDS: Final = (*_FILE_LAYOUT, "location", "contact")
"""Kinds accepted by :meth:`FakeTelegram.user_sends`."""


class _UseWebhookSecret:
    """Type of :data:`WEBHOOK_SECRET`."""

    def __repr__(self) -> str:
        return "WEBHOOK_SECRET"


WEBHOOK_SECRET: Final = _UseWebhookSecret()
"""Default of ``secret=`` in :meth:`FakeTelegram.post_to_webhook`: send the secret
configured with ``setWebhook`` (if any)."""


class BotApiError(Exception):
    """A Bot API error answer. Raise it from a custom method (:meth:`FakeTelegram.add_method`)."""

    def __init__(
        self,
        error_code: int,
        description: str,
        parameters: dict[str, Any] | None = None,
        *,
        abandoned: bool = False,
    ) -> None:
        super().__init__(f"{error_code} {description}")
        self.error_code = error_code
        self.description = description
        self.parameters = parameters
        self.abandoned = abandoned


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class UploadedFile:
    """One file part of a multipart request."""

    field: str
    filename: str | None
    content_type: str | None
    content: bytes


@dataclass
class ApiCall:
    """One HTTP request to the Bot API (recorded when it arrives, completed when answered)."""

    seq: int
    method: str  # canonical spelling, e.g. "sendMessage" (as requested if unknown)
    params: dict[str, Any]
    files: dict[str, UploadedFile]
    encoding: str  # "json" | "form" | "multipart" | "query" | "empty"
    started: float
    finished: float | None = None
    status_code: int | None = None
    result: Any = None
    error: str | None = None  # the error description when not ok
    abandoned: bool = False  # a long poll whose client had gone away

    @property
    def done(self) -> bool:
        """Whether the server has answered the call."""
        return self.finished is not None

    @property
    def ok(self) -> bool:
        """Whether the answer was ``{"ok": true}``."""
        return self.status_code == 200

    def __str__(self) -> str:
        shown = {k: v for k, v in self.params.items() if k != "reply_markup"}
        args = ", ".join(f"{k}={_short(v)}" for k, v in shown.items())
        if "reply_markup" in self.params:
            args += ", reply_markup=…"
        if not self.done:
            outcome = "(pending)"
        elif self.ok:
            outcome = "-> ok"
        else:
            outcome = f"-> {self.status_code} {self.error}"
            if self.abandoned:
                outcome += " (client gone)"
        return f"#{self.seq} {self.method}({args}) {outcome}"


@dataclass
class UserAction:
    """An update created by the test (the user's side)."""

    seq: int
    update_id: int
    chat_id: ChatId | None
    kind: str  # "text", "sticker", "photo", ..., "callback_query", "edited_message", "raw"
    update: dict[str, Any]
    summary: str


@dataclass
class SentMessage:
    """A message the bot sent (sendMessage, sendPhoto, ...), kept up to date by edits.

    ``text`` is the raw text (or caption) as the bot sent it, markup included;
    :attr:`plain_text` is what the user sees. ``message`` is the Message object
    returned to the bot (current state).
    """

    seq: int
    method: str
    chat_id: ChatId
    message_id: int
    params: dict[str, Any]
    message: dict[str, Any]
    text: str | None
    parse_mode: str | None
    reply_markup: dict[str, Any] | None
    files: dict[str, UploadedFile] = field(default_factory=dict)
    history: list[ApiCall] = field(default_factory=list)  # successful edits, oldest first
    deleted: bool = False

    @property
    def kind(self) -> str:
        """``"text"`` for sendMessage, else the media kind (``"photo"``, ``"location"``...)."""
        if self.method == "sendMessage":
            return "text"
        return _MEDIA_METHODS.get(self.method) or self.method.removeprefix("send").lower()

    @property
    def caption(self) -> str | None:
        """The raw caption of a media message (``None`` for text messages)."""
        return None if self.method == "sendMessage" else self.text

    @property
    def plain_text(self) -> str | None:
        """The text / caption as displayed: markup removed, entities decoded."""
        return self.message.get("text", self.message.get("caption"))

    @property
    def inline_keyboard(self) -> list[list[dict[str, Any]]]:
        """Rows of inline keyboard buttons (``[]`` if there is no inline keyboard)."""
        return list((self.reply_markup or {}).get("inline_keyboard") or [])

    @property
    def buttons(self) -> list[list[str]]:
        """Button texts of the inline keyboard, or else of the reply keyboard."""
        markup = self.reply_markup or {}
        rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
        return [[b if isinstance(b, str) else str(b.get("text")) for b in row] for row in rows]

    @property
    def callback_data(self) -> list[str]:
        """All ``callback_data`` values of the inline keyboard, row by row."""
        return [
            b["callback_data"]
            for row in self.inline_keyboard
            for b in row
            if isinstance(b, dict) and "callback_data" in b
        ]

    def button(self, text: str) -> dict[str, Any]:
        """The inline/reply keyboard button with exactly this text (KeyError otherwise)."""
        markup = self.reply_markup or {}
        for row in markup.get("inline_keyboard") or markup.get("keyboard") or []:
            for b in row:
                b_dict = {"text": b} if isinstance(b, str) else b
                if b_dict.get("text") == text:
                    return b_dict
        raise KeyError(f"no button {text!r} on message {self.message_id}; buttons: {self.buttons}")

    def describe(self) -> str:
        """One line for assertion messages."""
        line = f"#{self.seq} {self.method} message_id={self.message_id} text={_short(self.text, 120)}"
        if self.parse_mode:
            line += f" parse_mode={self.parse_mode}"
        if self.reply_markup:
            if "inline_keyboard" in self.reply_markup:
                described = [
                    [f"{b.get('text')}({_button_action(b)})" for b in row]
                    for row in self.inline_keyboard
                ]
                line += f" inline_keyboard={described}"
            else:
                line += f" reply_markup={_short(self.reply_markup, 100)}"
        if self.history:
            line += f" (edited {len(self.history)}x)"
        if self.deleted:
            line += " [deleted]"
        return line


@dataclass
class WebhookDelivery:
    """One POST of an update to the bot's webhook."""

    seq: int
    update_id: int | None
    url: str
    secret: str | None  # the header value sent (None = no header)
    status_code: int | None  # None when the HTTP request itself failed
    error: str | None
    response_text: str
    via: str  # "queue" (a user action) or "manual" (post_to_webhook)

    @property
    def ok(self) -> bool:
        """2xx answer."""
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass
class PressedButton:
    """A callback query created by :meth:`FakeTelegram.user_presses`."""

    query_id: str
    update_id: int
    chat_id: ChatId
    message_id: int
    data: str
    answer: dict[str, Any] | None = None  # answerCallbackQuery params once answered


@dataclass
class _Chat:
    chat: dict[str, Any]
    user: dict[str, Any]
    next_message_id: int = 1
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    blocked: bool = False
    last_action_seq: int = 0
    cursor_seq: int = 0


@dataclass
class _Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    allowed_updates: list[str] | None
    ip_address: str | None
    has_custom_certificate: bool
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes
    file_name: str | None
    mime_type: str | None


@dataclass
class _Failure:
    error_code: int
    description: str
    parameters: dict[str, Any] | None
    remaining: int


@dataclass
class _Described:
    value: Any
    description: str


# --------------------------------------------------------------------------- helpers


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _button_action(button: Mapping[str, Any]) -> str:
    for key in _BUTTON_ACTIONS:
        if key in button:
            return f"{key}={button[key]!r}"
    return "no action"


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _now() -> int:
    return int(time.time())


def _bad(description: str) -> BotApiError:
    return BotApiError(400, f"Bad Request: {description}")


def _coerce_form_value(name: str, value: str) -> Any:
    if name in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _norm_chat_id(value: Any) -> ChatId | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _bad("chat_id must be an Integer or a String")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = str(value).strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return text


def _as_int(value: Any, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _bad(f"wrong parameter {name} specified") from None


def _as_float(value: Any, name: str, default: float) -> float:
    if value is None or value == "":
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _bad(f"wrong parameter {name} specified") from None


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in {"true", "1"}
    return bool(value)


def _update_type(update: Mapping[str, Any]) -> str:
    return next((k for k in update if k != "update_id"), "")


def _allowed(update: Mapping[str, Any], allowed_updates: list[str] | None) -> bool:
    kind = _update_type(update)
    if allowed_updates:
        return kind in allowed_updates
    return kind not in _NOT_DEFAULT_UPDATE_TYPES


def _bind_free_socket(host: str) -> socket.socket:
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose
    # proto is IPPROTO_TCP; with proto 0, Nagle + delayed ACK add ~40 ms per response.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _error_response(
    code: int, description: str, parameters: dict[str, Any] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return JSONResponse(body, status_code=code)


def _command_entities(text: str) -> list[dict[str, Any]]:
    if not text.startswith("/") or len(text) < 2:
        return []
    command = text.split(maxsplit=1)[0]
    return [{"type": "bot_command", "offset": 0, "length": _utf16_len(command)}]


def _without_reply(message: Mapping[str, Any]) -> dict[str, Any]:
    """A message as embedded in ``reply_to_message`` (Telegram does not nest further)."""
    return {k: copy.deepcopy(v) for k, v in message.items() if k != "reply_to_message"}


# ------------------------------------------------------------------ markup rendering


def _entity_error(message: str) -> BotApiError:
    return _bad(f"can't parse entities: {message}")


_HTML_TAGS: Final = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler",
     "a", "code", "pre", "blockquote", "tg-emoji"}
)  # fmt: skip


class _TelegramHtml(HTMLParser):
    """Validates Telegram's HTML subset and collects the plain text."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self._source = source
        self._line_starts = [0] + [i + 1 for i, ch in enumerate(source) if ch == "\n"]
        self.parts: list[str] = []
        self.stack: list[str] = []

    def _offset(self) -> int:
        line, column = self.getpos()
        index = self._line_starts[line - 1] + column
        return len(self._source[:index].encode())

    def _unsupported(self, tag: str) -> BotApiError:
        return _entity_error(f'Unsupported start tag "{tag}" at byte offset {self._offset()}')

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _HTML_TAGS or (tag == "span" and ("class", "tg-spoiler") not in attrs):
            raise self._unsupported(tag)
        self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raise self._unsupported(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack:
            raise _entity_error(f"Unexpected end tag at byte offset {self._offset()}")
        if self.stack[-1] != tag:
            raise _entity_error(
                f'Unmatched end tag at byte offset {self._offset()}, expected '
                f'"</{self.stack[-1]}>", found "</{tag}>"'
            )
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _render_html(text: str) -> str:
    parser = _TelegramHtml(text)
    parser.feed(text)
    parser.close()
    if parser.stack:
        raise _entity_error(
            f'Can\'t find end tag corresponding to start tag "{parser.stack[-1]}"'
        )
    return "".join(parser.parts)


_MDV2_RESERVED: Final = frozenset("_*[]()~`>#+-=|{}.!")
_MDV2_ENTITY: Final = {
    "*": "Bold", "_": "Italic", "__": "Underline", "~": "Strikethrough", "||": "Spoiler",
}  # fmt: skip


def _render_markdown_v2(text: str) -> str:
    """Approximates Telegram's MarkdownV2 parser: checks escaping and entity balance."""

    def boff(index: int) -> int:
        return len(text[:index].encode())

    out: list[str] = []
    open_markers: dict[str, int] = {}
    link_start: int | None = None
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            if i + 1 < n:
                out.append(text[i + 1])
            i += 2
            continue
        if c == "`":
            fence = "```" if text.startswith("```", i) else "`"
            j, buf = i + len(fence), []
            while j < n and not text.startswith(fence, j):
                if text[j] == "\\" and j + 1 < n:
                    buf.append(text[j + 1])
                    j += 2
                else:
                    buf.append(text[j])
                    j += 1
            if j >= n:
                entity = "Pre" if fence == "```" else "Code"
                raise _entity_error(f"Can't find end of {entity} entity at byte offset {boff(i)}")
            content = "".join(buf)
            if fence == "```" and "\n" in content:
                first, rest = content.split("\n", 1)
                if first and not first[0].isspace() and " " not in first:
                    content = rest  # language tag
            out.append(content)
            i = j + len(fence)
            continue
        at_line_start = i == 0 or text[i - 1] == "\n"
        if at_line_start and text.startswith("**>", i):
            i += 3
            continue
        if at_line_start and c == ">":
            i += 1
            continue
        marker = text[i : i + 2] if text.startswith(("__", "||"), i) else c
        if marker in _MDV2_ENTITY:
            if marker in open_markers:
                del open_markers[marker]
            else:
                open_markers[marker] = i
            i += len(marker)
            continue
        if c == "!" and text.startswith("[", i + 1):
            i += 1
            continue
        if c == "[" and link_start is None:
            link_start = i
            i += 1
            continue
        if c == "]" and link_start is not None:
            link_start = None
            i += 1
            if i < n and text[i] == "(":
                j = i + 1
                while j < n and text[j] != ")":
                    j += 2 if text[j] == "\\" else 1
                if j >= n:
                    raise _entity_error(f"Can't find end of a URL at byte offset {boff(i)}")
                i = j + 1
            continue
        if c in _MDV2_RESERVED:
            raise _entity_error(
                f"Character '{c}' is reserved and must be escaped with the preceding '\\'"
            )
        out.append(c)
        i += 1
    if open_markers:
        marker, start = min(open_markers.items(), key=lambda item: item[1])
        raise _entity_error(
            f"Can't find end of {_MDV2_ENTITY[marker]} entity at byte offset {boff(start)}"
        )
    if link_start is not None:
        raise _entity_error(f"Can't find end of TextUrl entity at byte offset {boff(link_start)}")
    return "".join(out)


def _render_markdown(text: str) -> str:
    """Approximates Telegram's legacy Markdown parser."""

    def fail(index: int) -> BotApiError:
        offset = len(text[:index].encode())
        return _entity_error(f"Can't find end of the entity starting at byte offset {offset}")

    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            out.append(text[i + 1])
            i += 2
        elif c in "*_`":
            fence = "```" if text.startswith("```", i) else c
            end = text.find(fence, i + len(fence))
            if end < 0:
                raise fail(i)
            out.append(text[i + len(fence) : end])
            i = end + len(fence)
        elif c == "[":
            close = text.find("](", i + 1)
            end = text.find(")", close + 2) if close >= 0 else -1
            if end < 0:
                raise fail(i)
            out.append(text[i + 1 : close])
            i = end + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def render_text(text: str, parse_mode: str | None) -> str:
    """The plain text Telegram would show for ``text`` in ``parse_mode``.

    Raises :class:`BotApiError` (400 ``can't parse entities: ...``) like Telegram.
    """
    if not parse_mode:
        return text
    mode = parse_mode.lower()
    if mode == "html":
        return _render_html(text)
    if mode == "markdownv2":
        return _render_markdown_v2(text)
    if mode == "markdown":
        return _render_markdown(text)
    raise _bad("unsupported parse_mode")


def _validate_markup(markup: Any) -> dict[str, Any] | None:
    if markup is None or markup == "":
        return None
    if isinstance(markup, str):
        try:
            markup = json.loads(markup)
        except ValueError:
            raise _bad("can't parse reply keyboard markup JSON object") from None
    if not isinstance(markup, dict):
        raise _bad("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad(
                "can't parse inline keyboard button: field \"inline_keyboard\" of the "
                "InlineKeyboardMarkup must be an Array of Arrays"
            )
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise _bad('can\'t parse inline keyboard button: Field "text" must be of type String')
                if not _BUTTON_ACTIONS & set(button):
                    raise _bad(
                        "can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard"
                    )
                data = button.get("callback_data")
                if "callback_data" in button and (
                    not isinstance(data, str) or not 1 <= len(data.encode()) <= 64
                ):
                    raise _bad("BUTTON_DATA_INVALID")
                url = button.get("url")
                if "url" in button and not (
                    isinstance(url, str) and re.match(r"^(https?|tg)://\S+$", url)
                ):
                    raise _bad(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")
    return markup


# --------------------------------------------------------------------------- server


class FakeTelegram:
    """A fake Telegram Bot API server. Use as a context manager or via the fixtures.

    Args:
        token: the bot token the server accepts (others get 401). The part before
            ``:`` (if numeric) becomes the bot's user id.
        bot_first_name, bot_username: the bot's ``getMe`` identity.
        strict_chats: when true (default), sending to a chat no user has written from
            (and that was not :meth:`register_chat`-ed) fails with ``chat not found``,
            as on Telegram.
        webhook_timeout: seconds the server waits for the bot's webhook to answer.
        webhook_retry_s: when set, an update the webhook did not accept (no 2xx, or no
            answer) is offered again after this many seconds, before any later update, as
            Telegram does; by default it is delivered once.
        host: interface to bind (port is chosen freely).
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
        self.port = 0

        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._async_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self._custom_methods: dict[str, MethodHandler] = {}
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

    # ----------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder.base_url`` / ``Bot(base_url=)``: ``{url}/bot``."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``ApplicationBuilder.base_file_url``: ``{url}/file/bot``."""
        return f"{self.url}/file/bot"

    def api_url(self, method: str, token: str | None = None) -> str:
        """Full URL of a Bot API method, e.g. for raw httpx calls."""
        return f"{self.base_url}{token if token is not None else self.token}/{method}"

    def start(self) -> FakeTelegram:
        """Bind a free port and serve in a background thread. Returns ``self``."""
        if self._thread is not None:
            raise RuntimeError("FakeTelegram already started")
        sock = _bind_free_socket(self.host)
        self.port = sock.getsockname()[1]
        app = Starlette(
            routes=[
                Route("/bot{token}/{method}", self._handle_api, methods=["GET", "POST"]),
                Route("/file/bot{token}/{file_path:path}", self._handle_file, methods=["GET"]),
                Route("/{rest:path}", self._handle_not_found, methods=["GET", "POST", "PUT"]),
            ]
        )
        config = uvicorn.Config(
            app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._thread_main, args=(sock,), name=f"fake-telegram-{self.port}", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("FakeTelegram did not start within 10 s")
        if self._startup_error is not None:
            raise RuntimeError("FakeTelegram failed to start") from self._startup_error
        return self

    def stop(self) -> None:
        """Stop the server (wakes long polls, closes connections) and join its thread."""
        if self._thread is None:
            return
        with self._cond:
            self._closing = True
            self._notify_locked()
        self._wake_server()
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _thread_main(self, sock: socket.socket) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve(sock))
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._startup_error = exc
        finally:
            self._ready.set()
            loop.close()
            sock.close()

    async def _serve(self, sock: socket.socket) -> None:
        assert self._server is not None
        self._loop = asyncio.get_running_loop()
        self._poll_event = asyncio.Event()
        self._delivery_event = asyncio.Event()
        self._http = httpx.AsyncClient(timeout=self.webhook_timeout)
        worker = asyncio.create_task(self._delivery_worker())
        serving = asyncio.create_task(self._server.serve(sockets=[sock]))
        try:
            while not self._server.started and not serving.done():
                await asyncio.sleep(0.002)
            self._ready.set()
            await serving
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
            await self._http.aclose()

    def reset(self) -> None:
        """Forget all state (chats, updates, calls, webhook, commands...), keep the server."""
        with self._cond:
            self._reset_state_locked()
            self._notify_locked()
        self._wake_server()

    # --------------------------------------------------------- notifications

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

    # --------------------------------------------------------- HTTP layer

    async def _handle_not_found(self, request: Request) -> Response:
        return _error_response(404, "Not Found")

    async def _handle_file(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return _error_response(401, "Unauthorized")
        path = request.path_params["file_path"]
        with self._lock:
            stored = next((f for f in self._files.values() if f.file_path == path), None)
        if stored is None:
            return _error_response(404, "Not Found")
        return Response(stored.content, media_type=stored.mime_type or "application/octet-stream")

    async def _read_params(
        self, request: Request
    ) -> tuple[dict[str, Any], dict[str, UploadedFile], str]:
        params: dict[str, Any] = {
            k: _coerce_form_value(k, v) for k, v in request.query_params.multi_items()
        }
        files: dict[str, UploadedFile] = {}
        encoding = "query" if params else "empty"
        if request.method != "POST":
            return params, files, encoding
        content_type = request.headers.get("content-type", "").lower()
        if content_type.startswith("application/json"):
            body = await request.body()
            if body.strip():
                try:
                    data = json.loads(body)
                except ValueError:
                    raise _bad("can't parse JSON object") from None
                if not isinstance(data, dict):
                    raise _bad("JSON object expected")
                params.update(data)
                encoding = "json"
        elif content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form(max_part_size=50 * 1024 * 1024)
            try:
                for key, value in form.multi_items():
                    if isinstance(value, UploadFile):
                        content = await value.read()
                        files[key] = UploadedFile(key, value.filename, value.content_type, content)
                    else:
                        params[key] = _coerce_form_value(key, value)
            finally:
                await form.close()
            encoding = "multipart" if content_type.startswith("multipart/") else "form"
        return params, files, encoding

    async def _handle_api(self, request: Request) -> Response:
        requested = request.path_params["method"]
        method = self._canonical.get(requested.lower(), requested)
        try:
            params, files, encoding = await self._read_params(request)
        except BotApiError as exc:
            return _error_response(exc.error_code, exc.description)
        with self._cond:
            call = ApiCall(
                seq=self._next_seq_locked(),
                method=method,
                params=params,
                files=files,
                encoding=encoding,
                started=time.time(),
            )
            self._calls.append(call)
            self._notify_locked()
        description: str | None = None
        try:
            if request.path_params["token"] != self.token:
                raise BotApiError(401, "Unauthorized")
            self._check_injected_failure(method)
            handler = self._handlers.get(method)
            if handler is None:
                raise _bad("method not found")
            result = handler(params, files, request)
            if inspect.isawaitable(result):
                result = await result
            if isinstance(result, _Described):
                result, description = result.value, result.description
        except BotApiError as exc:
            self._finish_call(call, exc.error_code, None, exc.description, exc.abandoned)
            return _error_response(exc.error_code, exc.description, exc.parameters)
        except Exception as exc:  # a bug in the fake (or a custom method): make it loud
            with self._cond:
                self._server_errors.append(f"{method}: {traceback.format_exc()}")
            self._finish_call(call, 500, None, f"Internal Server Error: {exc!r}")
            return _error_response(500, f"Internal Server Error: fake_telegram: {exc!r}")
        self._finish_call(call, 200, result, None)
        body: dict[str, Any] = {"ok": True, "result": result}
        if description:
            body["description"] = description
        return JSONResponse(body)

    def _finish_call(
        self,
        call: ApiCall,
        status: int,
        result: Any,
        error: str | None,
        abandoned: bool = False,
    ) -> None:
        with self._cond:
            call.status_code = status
            call.result = copy.deepcopy(result)
            call.error = error
            call.abandoned = abandoned
            call.finished = time.time()
            self._notify_locked()

    def _check_injected_failure(self, method: str) -> None:
        with self._lock:
            queue = self._failures.get(method)
            if not queue:
                return
            failure = queue[0]
            failure.remaining -= 1
            if failure.remaining <= 0:
                queue.pop(0)
        raise BotApiError(failure.error_code, failure.description, failure.parameters)

    def _builtin_handlers(self) -> dict[str, Callable[..., Any]]:
        handlers: dict[str, Callable[..., Any]] = {
            "getMe": lambda p, f, r: dict(
                self.bot_user,
                can_join_groups=True,
                can_read_all_group_messages=False,
                supports_inline_queries=False,
                can_connect_to_business=False,
                has_main_web_app=False,
            ),
            "logOut": lambda p, f, r: True,
            "close": lambda p, f, r: True,
            "getUpdates": self._m_get_updates,
            "setWebhook": self._m_set_webhook,
            "deleteWebhook": self._m_delete_webhook,
            "getWebhookInfo": lambda p, f, r: self.webhook_info(),
            "sendMessage": self._m_send_message,
            "sendLocation": self._m_send_location,
            "sendContact": self._m_send_contact,
            "sendChatAction": self._m_send_chat_action,
            "editMessageText": self._m_edit_message_text,
            "editMessageCaption": self._m_edit_message_caption,
            "editMessageReplyMarkup": self._m_edit_message_reply_markup,
            "deleteMessage": self._m_delete_message,
            "answerCallbackQuery": self._m_answer_callback_query,
            "setMyCommands": self._m_set_my_commands,
            "deleteMyCommands": self._m_delete_my_commands,
            "getMyCommands": self._m_get_my_commands,
            "getChat": self._m_get_chat,
            "getFile": self._m_get_file,
        }
        for method, kind in _MEDIA_METHODS.items():
            handlers[method] = self._media_handler(method, kind)
        return handlers

    # --------------------------------------------------------- updates / webhook

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

    def _m_set_webhook(
        self, p: dict[str, Any], files: dict[str, UploadedFile], request: Request
    ) -> _Described:
        url = str(p.get("url") or "")
        if not url:
            return self._m_delete_webhook(p, files, request)
        if not re.match(r"^https?://[^/\s]+", url):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = p.get("secret_token")
        if secret is not None and secret != "":
            secret = str(secret)
            if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
                raise _bad("bad webhook: secret token contains unallowed characters")
        else:
            secret = None
        allowed = p.get("allowed_updates")
        with self._cond:
            old = self._webhook
            new = _Webhook(
                url=url,
                secret_token=secret,
                max_connections=_as_int(p.get("max_connections"), "max_connections", 40),
                allowed_updates=[str(a) for a in allowed] if isinstance(allowed, list) else None,
                ip_address=p.get("ip_address") or None,
                has_custom_certificate="certificate" in files or bool(p.get("certificate")),
            )
            if new.allowed_updates is None and old is not None:
                new.allowed_updates = old.allowed_updates
            same = old is not None and (old.url, old.secret_token) == (new.url, new.secret_token)
            self._webhook = new
            if _as_bool(p.get("drop_pending_updates")):
                self._pending.clear()
            self._notify_locked()
        self._wake_server()
        return _Described(True, "Webhook is already set" if same else "Webhook was set")

    def _m_delete_webhook(
        self, p: dict[str, Any], files: dict[str, UploadedFile], request: Request
    ) -> _Described:
        with self._cond:
            existed = self._webhook is not None
            self._webhook = None
            if _as_bool(p.get("drop_pending_updates")):
                self._pending.clear()
            self._notify_locked()
        self._wake_server()
        return _Described(True, "Webhook was deleted" if existed else "Webhook is already deleted")

    async def _delivery_worker(self) -> None:
        """Posts pending updates to the webhook, one at a time, in order."""
        while True:
            with self._cond:
                if self._closing:
                    return
                job: tuple[dict[str, Any], str, str | None] | None = None
                webhook = self._webhook
                while webhook is not None and self._pending and job is None:
                    update = self._pending.pop(0)
                    if _allowed(update, webhook.allowed_updates):
                        job = (update, webhook.url, webhook.secret_token)
                if job is None:
                    assert self._delivery_event is not None
                    self._delivery_event.clear()
                    event = self._delivery_event
            if job is None:
                await event.wait()
                continue
            update, url, secret = job
            delivery = await self._post_update(url, update, secret, via="queue")
            if not delivery.ok and self.webhook_retry_s is not None:
                with self._cond:  # first in line again, as Telegram keeps the order
                    self._pending.insert(0, update)
                await asyncio.sleep(self.webhook_retry_s)

    async def _post_update(
        self, url: str, update: Mapping[str, Any], secret: str | None, *, via: str
    ) -> WebhookDelivery:
        assert self._http is not None
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SECRET_HEADER] = secret
        body = json.dumps(update, ensure_ascii=False).encode()
        status: int | None = None
        error: str | None = None
        text = ""
        try:
            response = await self._http.post(url, content=body, headers=headers)
            status, text = response.status_code, response.text[:2000]
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        update_id = update.get("update_id")
        with self._cond:
            delivery = WebhookDelivery(
                seq=self._next_seq_locked(),
                update_id=update_id if isinstance(update_id, int) else None,
                url=url,
                secret=secret,
                status_code=status,
                error=error,
                response_text=text,
                via=via,
            )
            self._deliveries.append(delivery)
            if delivery.update_id is not None and via == "queue":
                counts = self._delivery_counts
                counts[delivery.update_id] = counts.get(delivery.update_id, 0) + 1
            if not delivery.ok and via == "queue" and self._webhook is not None:
                self._webhook.last_error_date = _now()
                self._webhook.last_error_message = (
                    f"Wrong response from the webhook: {status}" if status else str(error)
                )
            self._notify_locked()
        return delivery

    def webhook_info(self) -> dict[str, Any]:
        """The ``getWebhookInfo`` result (``url`` is ``""`` in polling mode)."""
        with self._lock:
            webhook = self._webhook
            info: dict[str, Any] = {
                "url": webhook.url if webhook else "",
                "has_custom_certificate": bool(webhook and webhook.has_custom_certificate),
                "pending_update_count": len(self._pending),
            }
            if webhook is not None:
                info["max_connections"] = webhook.max_connections
                if webhook.ip_address:
                    info["ip_address"] = webhook.ip_address
                if webhook.allowed_updates:
                    info["allowed_updates"] = list(webhook.allowed_updates)
                if webhook.last_error_date:
                    info["last_error_date"] = webhook.last_error_date
                    info["last_error_message"] = webhook.last_error_message
            return info

    @property
    def webhook_url(self) -> str | None:
        """The webhook URL set by the bot (``None`` in polling mode)."""
        with self._lock:
            return self._webhook.url if self._webhook else None

    @property
    def webhook_secret(self) -> str | None:
        """The ``secret_token`` given with ``setWebhook`` (``None`` if none / polling)."""
        with self._lock:
            return self._webhook.secret_token if self._webhook else None

    # --------------------------------------------------------- sending

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

    # --------------------------------------------------------- editing

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

    # --------------------------------------------------------- commands, chats, files

    @staticmethod
    def _commands_key(scope: Any, language_code: Any) -> tuple[str, str]:
        scope = scope if isinstance(scope, dict) else {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(language_code or "")

    def _m_set_my_commands(
        self, p: dict[str, Any], files: dict[str, UploadedFile], request: Request
    ) -> bool:
        commands = p.get("commands")
        if not isinstance(commands, list):
            raise _bad("parameter \"commands\" is required")
        if len(commands) > 100:
            raise _bad("too many commands")
        for command in commands:
            if not isinstance(command, dict) or not re.fullmatch(
                r"[a-z0-9_]{1,32}", str(command.get("command", ""))
            ):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description") or "")) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        with self._cond:
            key = self._commands_key(p.get("scope"), p.get("language_code"))
            self._commands[key] = [
                {"command": c["command"], "description": c["description"]} for c in commands
            ]
            self._notify_locked()
        return True

    def _m_delete_my_commands(
        self, p: dict[str, Any], files: dict[str, UploadedFile], request: Request
    ) -> bool:
        with self._cond:
            self._commands.pop(self._commands_key(p.get("scope"), p.get("language_code")), None)
            self._notify_locked()
        return True

    def _m_get_my_commands(
        self, p: dict[str, Any], files: dict[str, UploadedFile], request: Request
    ) -> list[dict[str, Any]]:
        return self.commands(p.get("scope"), str(p.get("language_code") or ""))

    def _m_get_chat(
        self, p: dict[str, Any], files: dict[str, UploadedFile], request: Request
    ) -> dict[str, Any]:
        with self._lock:
            chat_id = _norm_chat_id(p.get("chat_id"))
            chat = self._chats.get(chat_id) if chat_id is not None else None
            if chat is None:
                raise _bad("chat not found")
            return {
                **chat.chat,
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            }

    def _m_get_file(
        self, p: dict[str, Any], files: dict[str, UploadedFile], request: Request
    ) -> dict[str, Any]:
        with self._lock:
            stored = self._files.get(str(p.get("file_id") or ""))
            if stored is None:
                raise _bad("invalid file_id")
            return {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_size": len(stored.content),
                "file_path": stored.file_path,
            }

    def _store_file_locked(
        self, kind: str, content: bytes, file_name: str | None, mime_type: str | None
    ) -> _StoredFile:
        n = next(self._counter)
        directory, extension, default_mime = _FILE_LAYOUT.get(kind, _FILE_LAYOUT["document"])
        if file_name and "." in file_name:
            extension = "." + file_name.rsplit(".", 1)[-1]
        stored = _StoredFile(
            file_id=f"FAKE{kind.upper()}{n:08d}AgADBAADfakefileid",
            file_unique_id=f"AQAD{n:08d}",
            file_path=f"{directory}/file_{n}{extension}",
            content=content,
            file_name=file_name,
            mime_type=mime_type or default_mime,
        )
        self._files[stored.file_id] = stored
        return stored

    def _media_content_locked(self, kind: str, stored: _StoredFile) -> dict[str, Any]:
        base = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
        }
        if kind == "photo":
            thumb = self._store_file_locked("photo", stored.content[:64], None, stored.mime_type)
            sizes = [
                {"file_id": thumb.file_id, "file_unique_id": thumb.file_unique_id,
                 "file_size": len(thumb.content), "width": 90, "height": 67},
                {**base, "width": 1280, "height": 960},
            ]  # fmt: skip
            return {"photo": sizes}
        if kind == "sticker":
            return {"sticker": {**base, "type": "regular", "width": 512, "height": 512,
                                "is_animated": False, "is_video": False, "emoji": "👍"}}  # fmt: skip
        if kind == "video_note":
            return {"video_note": {**base, "length": 240, "duration": 3}}
        media: dict[str, Any] = {**base, "mime_type": stored.mime_type}
        if kind in {"video", "animation"}:
            media.update(width=640, height=360, duration=3)
        if kind in {"audio", "voice"}:
            media["duration"] = 3
        if kind in {"document", "animation", "audio", "video"} and stored.file_name:
            media["file_name"] = stored.file_name
        content = {kind: media}
        if kind == "animation":
            content["document"] = dict(media)
        return content

    # ================================================================ test-side API

    # ---------------------------------------------------------- user actions

    def register_chat(
        self,
        chat_id: ChatId,
        *,
        user: Mapping[str, Any] | None = None,
        chat_type: str = "private",
        title: str | None = None,
    ) -> dict[str, Any]:
        """Make a chat known (so the bot may message it before the user writes). Returns the Chat."""
        with self._cond:
            return dict(self._ensure_chat_locked(chat_id, user, chat_type, title).chat)

    def _ensure_chat_locked(
        self,
        chat_id: ChatId,
        user: Mapping[str, Any] | None,
        chat_type: str,
        title: str | None = None,
    ) -> _Chat:
        key = _norm_chat_id(chat_id)
        if key is None:
            raise ValueError("chat_id must not be empty")
        chat = self._chats.get(key)
        if chat is not None:
            return chat
        private = chat_type == "private"
        default_user: dict[str, Any] = {
            "id": key if private and isinstance(key, int) else DEFAULT_GROUP_USER_ID,
            "is_bot": False,
            "first_name": DEFAULT_FIRST_NAME,
            "language_code": DEFAULT_LANGUAGE_CODE,
        }
        default_user.update(user or {})
        if private:
            chat_json: dict[str, Any] = {"id": key, "type": "private"}
            for name in ("first_name", "last_name", "username"):
                if default_user.get(name):
                    chat_json[name] = default_user[name]
        else:
            chat_json = {"id": key, "type": chat_type, "title": title or "测试群"}
        chat = _Chat(chat=chat_json, user=default_user)
        self._chats[key] = chat
        return chat

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

    def block(self, chat_id: ChatId, blocked: bool = True) -> None:
        """The user blocks (or unblocks) the bot: sends to the chat answer 403."""
        with self._cond:
            self._ensure_chat_locked(chat_id, None, "private").blocked = blocked

    def fail_next(
        self,
        method: str,
        *,
        error_code: int = 400,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail (e.g. 429 with retry_after, 502)."""
        parameters: dict[str, Any] | None = None
        if retry_after is not None:
            parameters = {"retry_after": retry_after}
            error_code = 429 if error_code == 400 else error_code
        if description is None:
            description = {
                400: "Bad Request: injected failure",
                403: "Forbidden: bot was blocked by the user",
                429: f"Too Many Requests: retry after {retry_after or 1}",
                502: "Bad Gateway",
            }.get(error_code, f"Error {error_code}: injected failure")
        canonical = self._canonical.get(method.lower(), method)
        with self._cond:
            self._failures.setdefault(canonical, []).append(
                _Failure(error_code, description, parameters, times)
            )

    def add_method(self, name: str, handler: MethodHandler) -> None:
        """Serve an extra Bot API method: ``handler(params) -> result`` (raise BotApiError)."""

        def adapter(p: dict[str, Any], files: dict[str, UploadedFile], request: Request) -> Any:
            return handler(p)

        with self._cond:
            self._handlers[name] = adapter
            self._canonical[name.lower()] = name

    # ---------------------------------------------------------- reading state

    def mark(self) -> int:
        """The current event sequence number (for ``since=`` arguments)."""
        with self._lock:
            return self._seq

    @property
    def calls(self) -> list[ApiCall]:
        """Every Bot API request so far, in arrival order (a snapshot list)."""
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[ApiCall]:
        """The calls of one method (canonical name, e.g. ``"sendMessage"``)."""
        with self._lock:
            return [c for c in self._calls if c.method == method]

    def sent(self, chat_id: ChatId | None = None) -> list[SentMessage]:
        """Messages the bot sent (to ``chat_id``, or to anyone), oldest first."""
        key = _norm_chat_id(chat_id) if chat_id is not None else None
        with self._lock:
            return [m for m in self._sent if key is None or m.chat_id == key]

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

    @property
    def actions(self) -> list[UserAction]:
        """Updates created by the test, oldest first."""
        with self._lock:
            return list(self._actions)

    @property
    def callback_queries(self) -> list[PressedButton]:
        """Button presses, oldest first (``.answer`` is filled by answerCallbackQuery)."""
        with self._lock:
            return list(self._callback_queries.values())

    @property
    def deliveries(self) -> list[WebhookDelivery]:
        """Webhook POSTs made so far, oldest first."""
        with self._lock:
            return list(self._deliveries)

    def times_delivered(self, update_id: int) -> int:
        """How often the update reached the bot (getUpdates answers + webhook POSTs)."""
        with self._lock:
            return self._delivery_counts.get(update_id, 0)

    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed (polling) / not yet posted (webhook)."""
        with self._lock:
            return copy.deepcopy(self._pending)

    def commands(self, scope: Mapping[str, Any] | None = None, language_code: str = "") -> list[dict[str, Any]]:
        """Commands set with setMyCommands for that scope (default scope) and language."""
        with self._lock:
            key = self._commands_key(dict(scope) if scope else None, language_code)
            return copy.deepcopy(self._commands.get(key, []))

    def file_content(self, file_id: str) -> bytes:
        """Bytes of a stored file (user media, or uploads by the bot)."""
        with self._lock:
            return self._files[file_id].content

    @property
    def server_errors(self) -> list[str]:
        """Tracebacks of exceptions inside the fake (500 answers). Should stay empty."""
        with self._lock:
            return list(self._server_errors)

    # ---------------------------------------------------------- waiting: replies

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

    # ---------------------------------------------------------- waiting: calls

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

    # ---------------------------------------------------------- waiting: webhook

    def _delivery_check(self, update_id: int | None) -> Callable[[], WebhookDelivery | None]:
        def check() -> WebhookDelivery | None:
            target = update_id
            if target is None:
                target = self._actions[-1].update_id if self._actions else None
            return next(
                (d for d in self._deliveries if d.update_id == target and d.via == "queue"), None
            )

        return check

    def _finish_delivery(
        self, update_id: int | None, found: WebhookDelivery | None, timeout: float
    ) -> WebhookDelivery:
        if found is not None:
            return found
        with self._lock:
            webhook = self._webhook
            state = f"webhook {webhook.url!r}" if webhook else "NO webhook set (polling mode)"
            listing = "\n".join(
                f"  update {d.update_id} -> {d.status_code or d.error}" for d in self._deliveries[-10:]
            ) or "  (none)"
            raise AssertionError(
                f"Update {update_id if update_id is not None else '(last)'} was not posted to "
                f"the webhook within {timeout:g}s; {state}; pending "
                f"{[u['update_id'] for u in self._pending]}.\nRecent deliveries:\n{listing}"
            )

    def wait_for_delivery(self, update_id: int | None = None, *, timeout: float = 5.0) -> WebhookDelivery:
        """Block until the update (default: the last user action's) was POSTed to the
        webhook; return the delivery (``status_code``, ``response_text``...)."""
        self._forbid_running_loop("wait_for_delivery", "await_delivery")
        found = self._wait_sync(self._delivery_check(update_id), timeout)
        return self._finish_delivery(update_id, found, timeout)

    async def await_delivery(
        self, update_id: int | None = None, *, timeout: float = 5.0
    ) -> WebhookDelivery:
        """Async twin of :meth:`wait_for_delivery`."""
        found = await self._wait_async(self._delivery_check(update_id), timeout)
        return self._finish_delivery(update_id, found, timeout)

    def _manual_post_future(
        self,
        update: Mapping[str, Any] | None,
        secret: str | None | _UseWebhookSecret,
        url: str | None,
    ) -> Any:
        loop = self._loop
        if loop is None or self._thread is None:
            raise RuntimeError("FakeTelegram is not running")
        with self._lock:
            webhook = self._webhook
            target = url or (webhook.url if webhook else None)
            if target is None:
                raise ValueError("no webhook is set; pass url=")
            if isinstance(secret, _UseWebhookSecret):
                secret = webhook.secret_token if webhook else None
        body = dict(update) if update is not None else self.build_text_update(424242, "forged update")
        return asyncio.run_coroutine_threadsafe(
            self._post_update(target, body, secret, via="manual"), loop
        )

    def post_to_webhook(
        self,
        update: Mapping[str, Any] | None = None,
        *,
        secret: str | None | _UseWebhookSecret = WEBHOOK_SECRET,
        url: str | None = None,
    ) -> WebhookDelivery:
        """POST an update straight to the webhook (not queued, no user action) and return
        the result. ``secret=None`` sends no secret header, a string sends that value,
        the default sends the configured one. ``update`` defaults to a forged text
        message from chat 424242. Blocking: in async tests use :meth:`apost_to_webhook`."""
        self._forbid_running_loop("post_to_webhook", "apost_to_webhook")
        future = self._manual_post_future(update, secret, url)
        return future.result(timeout=self.webhook_timeout + 5)

    async def apost_to_webhook(
        self,
        update: Mapping[str, Any] | None = None,
        *,
        secret: str | None | _UseWebhookSecret = WEBHOOK_SECRET,
        url: str | None = None,
    ) -> WebhookDelivery:
        """Async twin of :meth:`post_to_webhook`."""
        future = self._manual_post_future(update, secret, url)
        return await asyncio.wrap_future(future)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    """A running :class:`FakeTelegram` (default token) for one test."""
    with FakeTelegram() as fake:
        yield fake
        errors = fake.server_errors
    if errors:
        pytest.fail("FakeTelegram internal errors:\n" + "\n".join(errors))


@pytest.fixture
def fake_telegram_factory() -> Iterator[Callable[..., FakeTelegram]]:
    """``make(**FakeTelegram kwargs) -> FakeTelegram`` (started); all stopped at teardown."""
    created: list[FakeTelegram] = []

    def make(**kwargs: Any) -> FakeTelegram:
        fake = FakeTelegram(**kwargs).start()
        created.append(fake)
        return fake

    yield make
    for fake in created:
        fake.stop()
