"""What the fake records (API calls, bot messages, user actions, webhook deliveries) and its
internal state records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .constants import _MEDIA_METHODS, ChatId
from .util import _button_action, _short


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


# ---------------------------------------------------------------- internal state


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
