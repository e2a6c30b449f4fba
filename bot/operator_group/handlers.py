"""The PTB handlers of the operators' group: 接入, replies to the enterprise, commands.

They run in handler group -1 and stop every update from the group there (the enterprise
handlers, in group 0, never see them), so nothing an operator writes reaches Rasa. Each
action is the core's (:class:`hotline.operator_chat.OperatorChat`), as in the console.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from functools import wraps
from typing import Any

from redis.asyncio import Redis
from telegram import Update, User
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import media, tg_io
from bot.operator_group.links import TAKE_PREFIX, Links
from bot.operator_group.posts import OPERATOR_PREFIX, GroupPosts
from bot.operator_group.records import Records
from hotline import conversations
from hotline.operator_chat import ChatError, OperatorChat

logger = logging.getLogger(__name__)

NOT_LISTED = "您不在人工客服名单中，不能操作会话。如需开通请联系管理员（发送 /whoami 查看您的 Telegram 用户 ID）。"


def operator_of(user: User) -> tuple[str, str]:
    """``("tg-op-<id>", "First Last")``: how a group member acts in the state machine."""
    name = " ".join(x for x in (user.first_name, user.last_name) if x).strip()
    return f"{OPERATOR_PREFIX}{user.id}", (name or f"Telegram 用户 {user.id}")[:50]


Handler = Callable[["GroupHandlers", Update, ContextTypes.DEFAULT_TYPE],
                   Coroutine[Any, Any, None]]


def _group_only(handler: Handler) -> Handler:
    """Run ``handler`` for updates from the operator group only, once per update, and stop
    them there (the enterprise handlers, in group 0, never see them)."""

    @wraps(handler)
    async def wrapper(self: GroupHandlers, update: Update,
                      context: ContextTypes.DEFAULT_TYPE) -> None:
        if not self.is_group(update):
            return
        try:
            if await tg_io.first_time(self._redis, "opg", context.bot.id, update.update_id):
                await handler(self, update, context)
        except Exception:  # noqa: BLE001 - logged; the update must still stop here
            logger.exception("operator group: update %s failed", update.update_id)
        raise ApplicationHandlerStop

    return wrapper


class GroupHandlers:
    """``allowed_users``: when set, only these Telegram users (and members bound to a
    console account) may act; None lets every member of the group act."""

    def __init__(self, chat_id: int, redis: Redis, posts: GroupPosts, ops: OperatorChat,
                 allowed_users: frozenset[int] | None = None) -> None:
        self.chat_id = chat_id
        self._redis = redis
        self._posts = posts
        self._links: Links = posts.links
        self._records: Records = posts.records
        self._ops = ops
        self._allowed = allowed_users

    def register(self, app: Application, group: int = -1) -> None:  # type: ignore[type-arg]
        """Add the group's handlers to ``app`` in ``group`` (before the enterprise ones)."""
        chat = filters.Chat(self.chat_id)
        app.add_handler(CallbackQueryHandler(self.on_take, pattern=f"^{TAKE_PREFIX}"), group)
        app.add_handler(CommandHandler(["handback", "close", "whoami"], self.on_command,
                                       filters=chat & filters.UpdateType.MESSAGE), group)
        replies = (filters.TEXT & ~filters.COMMAND) | filters.PHOTO | filters.Document.ALL
        app.add_handler(MessageHandler(chat & filters.REPLY & filters.UpdateType.MESSAGE & replies,
                                       self.on_reply), group)
        app.add_handler(TypeHandler(Update, self.on_anything_else), group)

    def is_group(self, update: Update) -> bool:
        return update.effective_chat is not None and update.effective_chat.id == self.chat_id

    async def identity(self, user: User) -> tuple[str, str] | None:
        """Who a group member acts as: the linked console account, else ``tg-op-<id>``;
        None when an allow-list is set and the member is neither listed nor linked."""
        linked = await asyncio.to_thread(self._records.linked_staff, user.id)
        if linked is not None:
            return linked
        if self._allowed is not None and user.id not in self._allowed:
            return None
        return operator_of(user)

    async def _acting(self, user: User) -> tuple[str, str] | None:
        """:meth:`identity`, its name remembered for the posts and refusals that name it."""
        who = await self.identity(user)
        if who is not None:
            await asyncio.to_thread(self._records.remember_name, *who)
        return who

    @_group_only
    async def on_take(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        conversation = await self._links.conversation_named(
            (query.data or "").removeprefix(TAKE_PREFIX))
        if conversation is None or not conversations.valid_conversation(conversation):
            await query.answer("无效的会话。", show_alert=True)
            return
        who = await self._acting(query.from_user)
        if who is None:
            await query.answer("您不在人工客服名单中，不能接入会话。如需开通请联系管理员。",
                               show_alert=True)
            return
        username, name = who
        try:
            await self._ops.take(conversation, username, name)
        except ChatError as exc:
            await query.answer(str(exc)[:200], show_alert=True)
            return
        await query.answer("已接入，请回复群内的接入消息与企业对话。")
        self._posts.bot = self._posts.bot or context.bot
        announcement = query.message.message_id if query.message is not None else None
        await self._posts.open_thread(conversation, name, announcement)

    @_group_only
    async def on_reply(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or message.reply_to_message is None or message.from_user is None:
            return
        if message.from_user.is_bot:
            return
        conversation = await self._links.conversation_of(message.reply_to_message.message_id)
        if conversation is None:
            return  # operators talking among themselves
        who = await self._acting(message.from_user)
        if who is None:
            await message.reply_text(NOT_LISTED)
            return
        username, name = who
        file = None
        if media.has_file(message):
            try:
                file = await media.download(message)
            except media.TooBig:
                await message.reply_text("文件超过 20 MB，无法转发给企业。")
                return
        text = message.text or message.caption or ""
        try:
            await self._ops.reply(conversation, username, name, text, file)
        except ChatError as exc:
            await message.reply_text(str(exc))
            return

    @_group_only
    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or message.from_user is None or message.from_user.is_bot:
            return
        command = (message.text or "").split()[0].lstrip("/").split("@")[0].lower()
        if command == "whoami":
            await message.reply_text(
                f"您的 Telegram 用户 ID：{message.from_user.id}。请管理员在控制台“账号”页绑定到您的"
                "账号，之后您在值班群的接待会记在该账号名下。")
            return
        who = await self._acting(message.from_user)
        if who is None:  # the allow-list covers every command but /whoami
            await message.reply_text(NOT_LISTED)
            return
        username, _ = who
        conversation = None
        if message.reply_to_message is not None:
            conversation = await self._links.conversation_of(message.reply_to_message.message_id)
        if conversation is None:
            owned = await asyncio.to_thread(self._records.owned_by, username)
            if len(owned) != 1:
                await message.reply_text(f"请回复要操作的会话消息后再发送 /{command}。")
                return
            conversation = owned[0]
        had_thread = await self._links.thread_of(conversation) is not None
        action = self._ops.hand_back if command == "handback" else self._ops.close
        try:
            await action(conversation, username)
        except ChatError as exc:
            await message.reply_text(str(exc))
            return
        if not had_thread:  # with a thread, the follower posts the outcome there
            done = "已交回智能客服。" if command == "handback" else "会话已结束。"
            await message.reply_text(done)

    @_group_only
    async def on_anything_else(self, update: Update,
                               context: ContextTypes.DEFAULT_TYPE) -> None:
        """Every other update from the group: stopped here, never relayed to Rasa."""
        query = update.callback_query
        if query is not None:
            await query.answer()
