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

With ``flood_limits=TelegramLimits()`` the fake keeps Telegram's send limits (30 messages a
second, about one a second per chat, 20 a minute per group) and answers 429 with
``retry_after`` beyond them (:mod:`.flood`); by default it sends without limit.

Deliberate simplifications: webhook deliveries are made once unless ``webhook_retry_s``
is set (each result is recorded in :attr:`FakeTelegram.deliveries`), webhook URLs may be plain
``http``, inline mode / payments / groups administration are not implemented
(unknown methods answer 400; :meth:`FakeTelegram.add_method` adds more).

Sync vs async: blocking helpers (``wait_for_*``, ``assert_no_reply``,
``post_to_webhook``) refuse to run inside a running event loop, because they would
freeze a bot running in that loop; use the ``await_*`` / ``apost_to_webhook`` twins in
``async def`` tests. The non-blocking helpers (``user_says`` & co, ``sent``, ``calls``)
work everywhere.

Package layout (one area a module; :class:`FakeTelegram` is their mixins put together):

* ``core`` — configuration, the shared state and its lock, sequence numbers, waking waiters;
* ``server`` — the uvicorn/Starlette thread, URLs, request parsing, the Bot API envelope,
  recorded calls, :meth:`~FakeTelegram.fail_next` and :meth:`~FakeTelegram.add_method`;
* ``polling`` (``getUpdates``) and ``webhook`` (``setWebhook`` & co, the delivery worker,
  :meth:`~FakeTelegram.wait_for_delivery`, :meth:`~FakeTelegram.post_to_webhook`);
* ``messages`` (send, edit, delete, :meth:`~FakeTelegram.sent`), ``callbacks`` (button
  presses and ``answerCallbackQuery``), ``chats`` (known and blocked chats, ``getChat``,
  commands), ``files`` (stored files, ``getFile``, downloads);
* ``users`` — the user's side: :meth:`~FakeTelegram.user_says`, ``user_sends``,
  ``user_edits``, ``user_update``;
* ``waiting`` — :meth:`~FakeTelegram.wait_for_reply`, ``assert_no_reply``,
  ``wait_for_call`` and their ``await_*`` twins, with their failure reports;
* ``records`` (:class:`SentMessage`, :class:`ApiCall`, :class:`WebhookDelivery`...),
  ``markup`` (:func:`render_text`, keyboard checks), ``constants``, ``util``, ``fake`` (the
  class and its method table) and ``fixtures`` (``fake_telegram``, ``fake_telegram_factory``).
"""

from __future__ import annotations

from .constants import (
    DEFAULT_FIRST_NAME,
    DEFAULT_GROUP_USER_ID,
    DEFAULT_LANGUAGE_CODE,
    DEFAULT_LOCATION,
    DEFAULT_TOKEN,
    SECRET_HEADER,
    USER_SEND_KINDS,
    WEBHOOK_SECRET,
    ChatId,
    MethodHandler,
)
from .fake import FakeTelegram
from .fixtures import fake_telegram, fake_telegram_factory
from .flood import FloodRefusal, TelegramLimits
from .markup import render_text
from .records import (
    ApiCall,
    PressedButton,
    SentMessage,
    UploadedFile,
    UserAction,
    WebhookDelivery,
)
from .util import BotApiError

__all__ = [
    "DEFAULT_FIRST_NAME",
    "DEFAULT_GROUP_USER_ID",
    "DEFAULT_LANGUAGE_CODE",
    "DEFAULT_LOCATION",
    "DEFAULT_TOKEN",
    "SECRET_HEADER",
    "USER_SEND_KINDS",
    "WEBHOOK_SECRET",
    "ApiCall",
    "BotApiError",
    "ChatId",
    "FakeTelegram",
    "FloodRefusal",
    "MethodHandler",
    "PressedButton",
    "SentMessage",
    "TelegramLimits",
    "UploadedFile",
    "UserAction",
    "WebhookDelivery",
    "fake_telegram",
    "fake_telegram_factory",
    "render_text",
]
