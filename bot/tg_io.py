"""Telegram's quirks, handled once for every sender of the gateway.

The enterprise chats (:mod:`bot.telegram`), the notification outbox
(:mod:`bot.outbox_delivery`) and the operators' group (:mod:`bot.operator_group`) all talk to
the same Bot API, with the same limits:

- flood control: a ``RetryAfter`` names how long to wait (an int in older PTB, a
  ``timedelta`` in PTB 22, which warns about the int form): :func:`retry_after` reads it,
  :func:`flood_retry` waits it out and sends again;
- a message holds at most :data:`TEXT_LIMIT` characters: :func:`send_text` splits a longer
  one and puts the keyboard under the last part;
- a file goes out as a photo only when Telegram shows it as one (no GIFs: they would be
  turned into an animation), else as a document: :func:`send_file`;
- ``callback_data`` holds at most :data:`CALLBACK_LIMIT` bytes: :func:`checked_callback`
  refuses longer ids, :class:`CallbackPayloads` keeps a longer payload in Redis and puts its
  key in the button; :func:`keyboard` lays the buttons out;
- Telegram may deliver an update twice (webhook retries, a crashed update handed out
  again): :func:`first_time` marks it taken in Redis under :func:`dedupe_key`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import warnings
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Message
from telegram.error import RetryAfter

from hotline import attachments, redis_keys
from hotline.channels import TELEGRAM

logger = logging.getLogger(__name__)

TEXT_LIMIT = cast(int, TELEGRAM.text_limit)  # characters in one message
CALLBACK_LIMIT = cast(int, TELEGRAM.callback_limit_bytes)  # bytes in one button's data
CALLBACK_TTL_S = 7 * 86400  # how long a long button payload is kept in Redis
DEDUPE_TTL_S = 86400  # how long an update stays marked as taken
SEND_ATTEMPTS = 3
MAX_FLOOD_WAIT_S = 60.0

T = TypeVar("T")


# --- flood control ----------------------------------------------------------------------


def retry_after(exc: RetryAfter) -> timedelta:
    """How long Telegram asked to wait."""
    with warnings.catch_warnings():  # PTB 22 warns that the int form is deprecated
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value if isinstance(value, timedelta) else timedelta(seconds=float(value))


async def flood_retry(send: Callable[[], Awaitable[T]], attempts: int = SEND_ATTEMPTS) -> T:
    """``send()``, waiting out Telegram's flood control (groups allow ~20 messages a minute)
    up to ``attempts`` times in all; each wait is capped at :data:`MAX_FLOOD_WAIT_S`."""
    for attempt in range(attempts):
        try:
            return await send()
        except RetryAfter as exc:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(min(retry_after(exc).total_seconds(), MAX_FLOOD_WAIT_S))
    raise AssertionError("unreachable")


# --- text and files ---------------------------------------------------------------------


def chunks(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """``text`` in pieces Telegram accepts (none for an empty text)."""
    return [text[i : i + limit] for i in range(0, len(text), limit)]


async def send_text(bot: Bot, chat_id: int, text: str, *,
                    reply_markup: InlineKeyboardMarkup | None = None, **kwargs: Any) -> None:
    """Send ``text`` in as many messages as it takes; the keyboard sits under the last."""
    parts = chunks(text)
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        await bot.send_message(chat_id, part, reply_markup=reply_markup if last else None,
                               **kwargs)


def shown_as_photo(mime: str | None) -> bool:
    return mime in attachments.IMAGES and mime != "image/gif"


async def send_file(bot: Bot, chat_id: int, data: bytes, *, filename: str, mime: str | None,
                    **kwargs: Any) -> Message:
    """Send a file as a photo (see :func:`shown_as_photo`) or else as a document."""
    upload = InputFile(data, filename=filename)
    if shown_as_photo(mime):
        return await bot.send_photo(chat_id, upload, **kwargs)
    return await bot.send_document(chat_id, upload, **kwargs)


# --- buttons ----------------------------------------------------------------------------


def checked_callback(data: str) -> str:
    """``data`` itself; ValueError when it is too long for a button."""
    if len(data.encode()) > CALLBACK_LIMIT:
        raise ValueError(f"callback data longer than {CALLBACK_LIMIT} bytes: {data}")
    return data


def keyboard(buttons: Sequence[tuple[str, str]], *,
             one_row: bool = False) -> InlineKeyboardMarkup | None:
    """``(title, callback data)`` buttons, one per row or all in ``one_row``; None for none."""
    keys = [InlineKeyboardButton(title, callback_data=data) for title, data in buttons]
    if not keys:
        return None
    return InlineKeyboardMarkup([keys] if one_row else [[key] for key in keys])


class CallbackPayloads:
    """Button payloads of any length: a longer one than :data:`CALLBACK_LIMIT` is kept in
    Redis for :data:`CALLBACK_TTL_S` and its button carries ``cb:<key>``."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def data_for(self, payload: str) -> str:
        """The callback data of ``payload`` (raises RedisError when it must be stored)."""
        if len(payload.encode()) <= CALLBACK_LIMIT:
            return payload
        key = hashlib.sha1(payload.encode()).hexdigest()[:20]
        await self._redis.set(redis_keys.callback_data(key), payload.encode(),
                              ex=CALLBACK_TTL_S)
        return f"cb:{key}"

    async def payload_of(self, data: str) -> str | None:
        """The payload behind a pressed button; None when its stored payload expired."""
        if not data.startswith("cb:"):
            return data
        value = await self._redis.get(redis_keys.callback_data(data[3:]))
        return value.decode() if value else None

    async def keyboard(self, buttons: Sequence[dict[str, str]]) -> InlineKeyboardMarkup | None:
        """One button a row; a button whose long payload cannot be stored is left out (the
        words still go)."""
        keys = []
        for button in buttons:
            try:
                keys.append((button["title"], await self.data_for(button["payload"])))
            except RedisError as exc:
                logger.warning("button %r dropped (Redis: %s)", button["title"], exc)
        return keyboard(keys)


# --- updates delivered twice ------------------------------------------------------------


def dedupe_key(handler: str, bot_id: int, update_id: int) -> str:
    """Redis key marking an update as taken by ``handler`` ("tg" enterprises, "opg" operators)."""
    return redis_keys.update_seen(handler, bot_id, update_id)


def dedupe_keys(bot_id: int, update_id: int) -> list[str]:
    """Every handler's mark for one update: cleared when a crashed update is handled again."""
    return [dedupe_key(handler, bot_id, update_id) for handler in ("tg", "opg")]


async def first_time(redis: Redis, handler: str, bot_id: int, update_id: int, *,
                     fail_open: bool = False) -> bool:
    """Mark the update taken by ``handler``; False when it already was.

    With Redis down this raises, or with ``fail_open`` says True (a rare duplicate beats a
    lost message)."""
    key = dedupe_key(handler, bot_id, update_id)
    try:
        return bool(await redis.set(key, b"1", nx=True, ex=DEDUPE_TTL_S))
    except RedisError as exc:
        if not fail_open:
            raise
        logger.warning("update %s handled without de-duplication (Redis: %s)", update_id, exc)
        return True
