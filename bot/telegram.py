"""Telegram channel: the PTB Application, relaying text and button presses to Rasa.

Rasa's own Telegram channel is not used: it crashes on non-text updates (rasa issue 5864).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from redis.asyncio import Redis
from redis.exceptions import RedisError
from telegram import LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import (
    Application,
    BaseRateLimiter,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    filters,
)

from bot import media, messages, tg_io
from bot.rasa_client import BotMessage
from bot.relay import Relay
from bot.tg_updates import PerChatProcessor
from hotline import channels

if TYPE_CHECKING:
    from bot.operator_group import OperatorGroup

logger = logging.getLogger(__name__)


def conversation_id(chat_id: int) -> str:
    return channels.TELEGRAM.conversation(chat_id)


class TelegramChannel:
    """Builds and feeds the PTB Application; the relay does the thinking."""

    def __init__(self, relay: Relay, redis: Redis, *,
                 operator_group: OperatorGroup | None = None) -> None:
        self._relay = relay
        self._redis = redis
        self._payloads = tg_io.CallbackPayloads(redis)
        self._operator_group = operator_group

    def build(
        self, token: str, base_url: str, *, polling: bool, base_file_url: str | None = None,
        processor: PerChatProcessor | None = None,
        rate_limiter: BaseRateLimiter[None] | None = None,
    ) -> Application:
        builder = (
            Application.builder()
            .token(token)
            .concurrent_updates(processor or PerChatProcessor())
            .base_url(base_url)
            .defaults(Defaults(tzinfo=ZoneInfo("Asia/Shanghai"),
                               link_preview_options=LinkPreviewOptions(is_disabled=True)))
        )
        if base_file_url:
            builder = builder.base_file_url(base_file_url)
        if rate_limiter is not None:  # every message of this bot within Telegram's limits
            builder = builder.rate_limiter(rate_limiter)
        if not polling:
            builder = builder.updater(None)
        app = builder.build()
        enterprises: filters.BaseFilter = filters.ALL
        if self._operator_group is not None:
            # The operators' group first (handler group -1, stops its own updates); the
            # enterprise handlers below never take an update from that chat.
            self._operator_group.register(app)
            enterprises = ~filters.Chat(self._operator_group.chat_id)
        app.add_handler(CommandHandler("start", self.on_start,
                                       filters=filters.UpdateType.MESSAGE & enterprises))
        # An edit of an earlier message is recorded as such, never relayed as a new message.
        app.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE & enterprises,
                                       self.on_edit))
        app.add_handler(MessageHandler(filters.TEXT & filters.UpdateType.MESSAGE & enterprises,
                                       self.on_text))  # after /start: other commands are text
        app.add_handler(CallbackQueryHandler(self.on_button))
        app.add_handler(MessageHandler(~filters.TEXT & ~filters.UpdateType.EDITED & enterprises,
                                       self.on_other))
        app.add_error_handler(self.on_error)
        return app

    async def _first_time(self, update: Update, bot_id: int) -> bool:
        """Telegram may deliver an update twice (webhook retries): handle it once.

        With Redis down the update is handled anyway (a rare duplicate beats a lost message)."""
        return await tg_io.first_time(self._redis, "tg", bot_id, update.update_id,
                                      fail_open=True)

    async def send(self, app_bot, chat_id: int, replies: list[BotMessage]) -> None:  # type: ignore[no-untyped-def]
        for reply in replies:
            markup = await self._payloads.keyboard(reply.buttons)
            html_text = (reply.custom or {}).get("html")
            if html_text:  # cut, not split: a split could break an HTML entity
                await app_bot.send_message(
                    chat_id, html_text[:tg_io.TEXT_LIMIT], parse_mode=ParseMode.HTML,
                    reply_markup=markup,
                )
            elif reply.text:
                await tg_io.send_text(app_bot, chat_id, reply.text, reply_markup=markup)
            elif reply.image:
                await app_bot.send_photo(chat_id, reply.image, reply_markup=markup)
            elif markup is not None:  # buttons without words still need a message to sit on
                await app_bot.send_message(chat_id, messages.CHOOSE, reply_markup=markup)

    async def on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_chat is None or not await self._first_time(update, context.bot.id):
            return
        chat_id = update.effective_chat.id
        replies = await self._relay.handle(conversation_id(chat_id), "telegram", "/greet",
                                           source_ref=_ref(update),
                                           is_payload=True)
        await self.send(context.bot, chat_id, replies)

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or update.effective_chat is None or not await self._first_time(update, context.bot.id):
            return
        chat_id = update.effective_chat.id
        await context.bot.send_chat_action(chat_id, "typing")
        text = message.text or ""
        # A leading "/" would be read by Rasa as an intent payload: only buttons may do that.
        replies = await self._relay.handle(conversation_id(chat_id), "telegram", text.lstrip("/"),
                                           source_ref=_ref(update))
        await self.send(context.bot, chat_id, replies)

    async def on_edit(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.edited_message
        if message is None or update.effective_chat is None or not await self._first_time(update, context.bot.id):
            return
        text = message.text or message.caption or ""
        chat_id = update.effective_chat.id
        replies = await self._relay.handle_edit(conversation_id(chat_id), "telegram", text)
        await self.send(context.bot, chat_id, replies)

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or update.effective_chat is None:
            return
        if self._operator_group is not None and self._operator_group.is_group(update):
            return
        await _cosmetic(query.answer(), update)
        if not await self._first_time(update, context.bot.id):
            return
        chat_id = update.effective_chat.id
        try:
            payload = await self._payloads.payload_of(query.data or "")
        except RedisError as exc:
            logger.error("button of update %s unreadable (Redis: %s)", update.update_id, exc)
            await context.bot.send_message(chat_id, messages.RASA_BUSY)
            return
        if payload is None:
            await context.bot.send_message(chat_id, messages.BUTTON_EXPIRED)
            return
        title = _button_title(query.message, query.data or "")
        if query.message is not None and title:
            # Remove the keyboard so the same choice cannot be pressed twice.
            await _cosmetic(query.edit_message_text(
                f"{query.message.text or ''}\n\n{messages.CHOSEN.format(title=title)}"[:tg_io.TEXT_LIMIT]
            ), update)
        replies = await self._relay.handle(conversation_id(chat_id), "telegram", payload,
                                           is_payload=True, source_ref=_ref(update))
        await self.send(context.bot, chat_id, replies)

    async def on_other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Photos and documents go to the operator (queued or human mode); stickers,
        locations, voice …: a polite reply instead of a crash."""
        message = update.effective_message
        if update.effective_chat is None or not await self._first_time(update, context.bot.id):
            return
        chat_id = update.effective_chat.id
        conversation = conversation_id(chat_id)
        if message is not None and media.has_file(message):
            try:
                name, mime, data = await media.download(message)
            except media.TooBig:
                reason = "文件超过 20 MB，请压缩后再发送。"
                await context.bot.send_message(chat_id, messages.FILE_REFUSED.format(reason=reason))
                return
            replies = await self._relay.handle_file(conversation, "telegram", name, mime, data,
                                                    message.caption)
            await self.send(context.bot, chat_id, replies)
            return
        await context.bot.send_message(chat_id, messages.NON_TEXT)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        # The update itself (names, phone numbers, messages) stays out of the log.
        update_id = update.update_id if isinstance(update, Update) else None
        logger.error("Telegram handler failed for update %s", update_id, exc_info=context.error)


def _button_title(message, data: str) -> str | None:  # type: ignore[no-untyped-def]
    markup = getattr(message, "reply_markup", None)
    if markup is None:
        return None
    for row in markup.inline_keyboard:
        for button in row:
            if button.callback_data == data:
                return str(button.text)
    return None


async def _cosmetic(call: Awaitable[object], update: Update) -> None:
    """Answer a button press / mark the choice on its message. Telegram refuses both when the
    press is handled again after a crash (query too old, message not modified): the choice
    itself must still reach the bot."""
    try:
        await call
    except BadRequest as exc:
        logger.warning("update %s: %s (the press is handled anyway)", update.update_id, exc)


def _ref(update: Update) -> str:
    """The transcript's ``source_ref`` of an update (unique per bot and chat)."""
    return f"tg-update:{update.update_id}"
