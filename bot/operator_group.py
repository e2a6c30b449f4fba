"""The operators' Telegram group: a second console for escalated chats (optional).

When ``HOTLINE_OPERATOR_CHAT_ID`` is set, the gateway runs an :class:`OperatorGroup` next to
the outbox delivery. It is the same state machine as the web console, reached from Telegram:

- every transition to ``queued`` (:data:`hotline.handoff.EVENTS_KEY`) is announced in the
  group: channel, enterprise (if on file), reason, the enterprise's last few messages and a
  接入 button (callback ``opg:take:<conversation>``). When the chat is taken — from the
  console or from the group — the announcement is edited to say by whom and loses its
  button; when the enterprise stops waiting it says 企业已取消排队;
- pressing 接入 runs :func:`hotline.operator_chat.take` as operator ``tg-op-<user id>``
  (display name: the Telegram first + last name), so the enterprise gets the same
  "人工客服（X）已接入" notice; a second operator gets an alert naming the owner. The bot then
  posts a thread message in the group; replies to it (or to the announcement, or to any
  message the bot posted for that chat) go to the enterprise through
  :func:`hotline.operator_chat.reply`, owner only; ``/handback`` and ``/close`` as replies
  do what the console's buttons do;
- while a group operator owns a chat, the enterprise's new messages (the live stream,
  :data:`hotline.live.STREAM`) are posted into the group as replies to the thread message.

Which group message belongs to which conversation is kept in Redis (``hotline:opgroup:…``,
30 days). The handlers are registered in handler group -1 and stop every update from the
operator group there, so nothing an operator writes reaches Rasa.

Telegram delivers to a bot in a group (with privacy mode on) only commands and replies to
the bot's own messages — which is all this module needs.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import warnings
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from functools import wraps
from typing import Any

import redis as sync_redis
from redis.asyncio import Redis
from sqlalchemy.orm import Session
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    ReplyParameters,
    Update,
    User,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, RetryAfter
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

from bot import media
from bot.logsafe import pseudonym
from bot.tg_updates import dedupe_key
from hotline import attachments, conversations, handoff, live, operator_chat, transcripts
from hotline.db import session_scope
from hotline.handoff import Mode
from hotline.models import Attachment
from hotline.operator_chat import ChatError, Effects, OperatorChat
from hotline.staff import staff_for_telegram

logger = logging.getLogger(__name__)

TAKE_PREFIX = "opg:take:"  # callback data of the 接入 button: opg:take:<conversation>
OPERATOR_PREFIX = operator_chat.GROUP_OPERATOR_PREFIX  # an operator acting from the group
KEY_PREFIX = "hotline:opgroup"
KEY_TTL_S = 30 * 86400  # how long a group message stays linked to its conversation
DEDUPE_TTL_S = 86400
RECENT_MESSAGES = 5  # enterprise messages quoted in an announcement
QUOTE_CHARS = 80  # each one cut to this many characters
FORWARD_MAX = 20  # at most this many messages forwarded at once (catch-up after a take)
FORWARD_CHARS = 2000  # a longer enterprise message is cut (the console shows all of it)
CAPTION_CHARS = 400
NOT_LISTED = "您不在人工客服名单中，不能操作会话。如需开通请联系管理员（发送 /whoami 查看您的 Telegram 用户 ID）。"
CALLBACK_LIMIT = 64
SEND_ATTEMPTS = 3

THREAD_HELP = "回复本消息即可与企业对话；发送 /handback 交回智能客服，/close 结束会话。"


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


def _short(text: str, limit: int = QUOTE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…（全文请在控制台查看）"


def operator_of(user: User) -> tuple[str, str]:
    """``("tg-op-<id>", "First Last")``: how a group member acts in the state machine."""
    name = " ".join(x for x in (user.first_name, user.last_name) if x).strip()
    return f"{OPERATOR_PREFIX}{user.id}", (name or f"Telegram 用户 {user.id}")[:50]


def public_ref(conversation: str) -> str:
    """How the group names a conversation: a web chat's session id is the page's secret
    (whoever knows it reads the chat), so the group sees its pseudonym; a Telegram chat
    keeps its id."""
    return pseudonym(conversation) if conversation.startswith("web:") else conversation


def take_data(conversation: str) -> str:
    data = TAKE_PREFIX + public_ref(conversation)
    if len(data.encode()) > CALLBACK_LIMIT:
        raise ValueError(f"callback data longer than {CALLBACK_LIMIT} bytes: {data}")
    return data


Handler = Callable[["OperatorGroup", Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]


def _group_only(handler: Handler) -> Handler:
    """Run ``handler`` for updates from the operator group only, once per update, and stop
    them there (the enterprise handlers, in group 0, never see them)."""

    @wraps(handler)
    async def wrapper(self: OperatorGroup, update: Update,
                      context: ContextTypes.DEFAULT_TYPE) -> None:
        if not self.is_group(update):
            return
        try:
            if await self._first_time(update, context.bot.id):
                await handler(self, update, context)
        except Exception:  # noqa: BLE001 - logged; the update must still stop here
            logger.exception("operator group: update %s failed", update.update_id)
        raise ApplicationHandlerStop

    return wrapper


class OperatorGroup:
    """Announcer task + handlers of the operators' group (see the module docstring).

    ``deliver(conversation)`` sends the conversation's outbox rows now (the gateway's
    ``_deliver_now``); ``resume_bot(conversation)`` tells Rasa the chat is the bot's again.
    """

    def __init__(
        self,
        chat_id: int,
        redis_url: str,
        db_url: str,
        *,
        deliver: Callable[[str], None] | None = None,
        resume_bot: Callable[[str], Awaitable[None]] | None = None,
        attachment_max_bytes: int = 10 * 1024 * 1024,
        block_ms: int = 5000,
        allowed_users: frozenset[int] | None = None,
        operator_chat: OperatorChat | None = None,
    ) -> None:
        self.chat_id = chat_id
        self._allowed = allowed_users
        self._db_url = db_url
        self._redis = Redis.from_url(redis_url)
        self._sync = sync_redis.Redis.from_url(redis_url)
        # The operator actions, as the console does them (one implementation, one effects).
        self._ops = operator_chat or OperatorChat(
            db_url, self._sync,
            Effects(self._sync, deliver=deliver or (lambda _c: None), resume_bot=resume_bot),
            attachment_max_bytes=attachment_max_bytes)
        self._block_ms = block_ms
        self._bot: Bot | None = None
        self._task: asyncio.Task[None] | None = None
        self._locks: dict[str, asyncio.Lock] = {}

    # --- wiring ---------------------------------------------------------------------

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

    def _linked(self, user: User) -> tuple[str, str] | None:
        with session_scope(self._db_url) as session:
            staff = staff_for_telegram(session, user.id)
            return (staff.username, staff.display_name) if staff is not None else None

    async def identity(self, user: User) -> tuple[str, str] | None:
        """Who a group member acts as: the linked console account, else ``tg-op-<id>``;
        None when an allow-list is set and the member is neither listed nor linked."""
        linked = await asyncio.to_thread(self._linked, user)
        if linked is not None:
            return linked
        if self._allowed is not None and user.id not in self._allowed:
            return None
        return operator_of(user)

    def is_group(self, update: Update) -> bool:
        return update.effective_chat is not None and update.effective_chat.id == self.chat_id

    async def start(self, bot: Bot) -> asyncio.Task[None]:
        """Follow the handoff events and the live stream from now on (XREAD from "$",
        resolved to concrete ids before returning, so nothing after start is missed)."""
        self._bot = bot
        if self._task is None or self._task.done():
            ids = {handoff.EVENTS_KEY: await self._last_id(handoff.EVENTS_KEY),
                   live.STREAM: await self._last_id(live.STREAM)}
            self._task = asyncio.create_task(self._follow(ids), name="operator-group")
        return self._task

    async def stop(self) -> None:
        """Stop following (the handlers keep working until :meth:`aclose`)."""
        if self._task is None:
            return
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        except Exception:  # noqa: BLE001
            logger.exception("operator group follower ended with an error")
        self._task = None

    async def aclose(self) -> None:
        await self.stop()
        await self._redis.aclose()
        self._sync.close()

    # --- Redis bookkeeping ------------------------------------------------------------

    def _key(self, *parts: object) -> str:
        return ":".join((KEY_PREFIX, str(self.chat_id), *(str(p) for p in parts)))

    async def _first_time(self, update: Update, bot_id: int) -> bool:
        key = dedupe_key("opg", bot_id, update.update_id)
        return bool(await self._redis.set(key, b"1", nx=True, ex=DEDUPE_TTL_S))

    async def _conversation_named(self, ref: str) -> str | None:
        """The conversation behind a :func:`public_ref` (None when forgotten)."""
        if ref.startswith("web:"):
            raw = await self._redis.get(self._key("ref", ref))
            return raw.decode() if raw else None
        return ref

    async def _link(self, message_id: int, conversation: str) -> None:
        await self._redis.set(self._key("msg", message_id), conversation, ex=KEY_TTL_S)

    async def conversation_of(self, message_id: int) -> str | None:
        raw = await self._redis.get(self._key("msg", message_id))
        return _s(raw) if raw else None

    async def thread_of(self, conversation: str) -> int | None:
        raw = await self._redis.get(self._key("thread", conversation))
        return int(raw) if raw else None

    async def _last_id(self, stream: str) -> str:
        last = await self._redis.xrevrange(stream, count=1)
        return _s(last[0][0]) if last else "0-0"

    async def _remember_name(self, username: str, name: str) -> None:
        await asyncio.to_thread(operator_chat.remember_name, self._sync, username, name)

    def _name_sync(self, session: Session, username: str) -> str:
        """The display name of whoever acted: group operator, console staff, the enterprise."""
        return operator_chat.name_of(session, self._sync, username)

    def _name(self, username: str) -> str:
        with session_scope(self._db_url) as session:
            return self._name_sync(session, username)

    def _lock(self, conversation: str) -> asyncio.Lock:
        return self._locks.setdefault(conversation, asyncio.Lock())

    # --- sending ----------------------------------------------------------------------

    async def _call(self, send: Callable[[], Awaitable[Message]]) -> Message:
        """Send, waiting out Telegram's flood control (groups allow ~20 messages a minute)."""
        for attempt in range(SEND_ATTEMPTS):
            try:
                return await send()
            except RetryAfter as exc:
                if attempt == SEND_ATTEMPTS - 1:
                    raise
                with warnings.catch_warnings():  # PTB 22 warns that the int form is deprecated
                    warnings.simplefilter("ignore")
                    wait = exc.retry_after
                seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
                await asyncio.sleep(min(seconds, 60.0))
        raise AssertionError("unreachable")

    async def _post(self, text: str, *, reply_to: int | None = None,
                    markup: InlineKeyboardMarkup | None = None,
                    conversation: str | None = None) -> Message:
        """Post HTML ``text`` in the group (as a reply when ``reply_to``); link it to the
        conversation so replies to it reach the enterprise. Callers keep ``text`` short
        (cutting HTML here could split an entity)."""
        assert self._bot is not None, "start() first"
        bot = self._bot
        params = (ReplyParameters(reply_to, allow_sending_without_reply=True)
                  if reply_to else None)
        message = await self._call(lambda: bot.send_message(
            self.chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup,
            reply_parameters=params))
        if conversation is not None:
            await self._link(message.message_id, conversation)
        return message

    # --- following the streams ----------------------------------------------------------

    async def _follow(self, ids: dict[str, str]) -> None:
        while True:
            try:
                found = await self._redis.xread(ids, block=self._block_ms, count=100)  # type: ignore[arg-type]
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - Redis briefly away: try again
                logger.warning("operator group: reading the streams failed", exc_info=True)
                await asyncio.sleep(1.0)
                continue
            for key, entries in found or []:
                stream = _s(key)
                for entry_id, raw in entries:
                    ids[stream] = _s(entry_id)
                    fields = {_s(k): _s(v) for k, v in raw.items()}
                    try:
                        await self._on_entry(stream, ids[stream], fields)
                    except asyncio.CancelledError:
                        raise
                    except Exception:  # noqa: BLE001 - one bad entry must not stop the rest
                        logger.exception("operator group: %s entry %s failed", stream,
                                         ids[stream])

    async def _on_entry(self, stream: str, entry_id: str, fields: dict[str, str]) -> None:
        conversation = fields.get("conversation", "")
        if not conversations.valid_conversation(conversation):
            return
        if stream == live.STREAM:
            if fields.get("kind") == "message":
                await self.forward_new(conversation)
            return
        # Two gateways follow the same stream: only one of them acts on each transition.
        if not await self._redis.set(self._key("done", entry_id), b"1", nx=True,
                                     ex=DEDUPE_TTL_S):
            return
        before, after = fields.get("from", ""), fields.get("to", "")
        who, reason = fields.get("who", ""), fields.get("reason", "")
        if after == Mode.QUEUED:
            await self.announce(conversation, reason)
        elif before == Mode.QUEUED:
            await self._settle_announcement(conversation, after, who)
        if before == Mode.HUMAN and after != Mode.HUMAN:
            await self._end_thread(conversation, after, who)

    # --- announcements ----------------------------------------------------------------

    def _facts(self, conversation: str) -> tuple[str | None, list[str], int]:
        """Enterprise name (if on file), its last few words, the last transcript id."""
        with session_scope(self._db_url) as session:
            name = conversations.enterprise_names(session, [conversation]).get(conversation)
            rows = transcripts.history(session, conversation, limit=50)
            said = [r.text for r in rows
                    if r.author == "enterprise" and not r.text.startswith("/")]
            return name, said[-RECENT_MESSAGES:], rows[-1].id if rows else 0

    async def announce(self, conversation: str, reason: str) -> Message:
        name, said, last_id = await asyncio.to_thread(self._facts, conversation)
        channel = conversations.CHANNEL_ZH.get(conversations.channel_of(conversation), "未知")
        lines = [
            "🔔 <b>新的人工服务请求</b>",
            f"渠道：{_esc(channel)}",
            f"企业：{_esc(name) if name else '（未登记）'}",
            f"原因：{_esc(conversations.REASON_ZH.get(reason, reason or '未说明'))}",
            f"会话：<code>{_esc(public_ref(conversation))}</code>",
        ]
        if said:
            lines.append("最近消息：")
            lines += [f"• {_esc(_short(text))}" for text in said]
        text = "\n".join(lines)
        markup = InlineKeyboardMarkup(
            [[InlineKeyboardButton("接入", callback_data=take_data(conversation))]])
        if public_ref(conversation) != conversation:  # the 接入 button names the pseudonym
            await self._redis.set(self._key("ref", public_ref(conversation)), conversation,
                                  ex=KEY_TTL_S)
        message = await self._post(text, markup=markup, conversation=conversation)
        await self._redis.set(self._key("ann", conversation),
                              json.dumps({"id": message.message_id, "html": text}), ex=KEY_TTL_S)
        # What the announcement showed; after a take the rest is forwarded to the thread.
        await self._redis.set(self._key("seen", conversation), last_id, ex=KEY_TTL_S)
        return message

    async def _settle_announcement(self, conversation: str, to: str, who: str) -> None:
        """The chat left the queue: say so on its announcement and remove the button."""
        raw = await self._redis.getdel(self._key("ann", conversation))
        if not raw or self._bot is None:
            return
        ann = json.loads(raw)
        if to == Mode.HUMAN:
            status = f"✅ 已由 {_esc(await asyncio.to_thread(self._name, who))} 接入"
        elif to == Mode.BOT:
            status = "↩️ 企业已取消排队"
        else:
            status = "⏹ 会话已结束"
        bot = self._bot
        try:
            await self._call(lambda: bot.edit_message_text(
                f"{ann['html']}\n\n{status}", chat_id=self.chat_id,
                message_id=ann["id"], parse_mode=ParseMode.HTML, reply_markup=None))
        except BadRequest as exc:  # deleted by an admin, or already edited
            logger.warning("operator group: announcement of %s not edited: %s",
                           pseudonym(conversation), exc)

    # --- the thread of a taken chat ------------------------------------------------------

    def _label(self, name: str | None, conversation: str) -> str:
        channel = conversations.CHANNEL_ZH.get(conversations.channel_of(conversation), "")
        return f"{name}（{channel}）" if name else f"{channel} 会话 {public_ref(conversation)}"

    async def _open_thread(self, conversation: str, operator_name: str,
                           announcement_id: int | None) -> None:
        name, _, last_id = await asyncio.to_thread(self._facts, conversation)
        text = (f"{_esc(operator_name)}：您已接入 {_esc(self._label(name, conversation))}，"
                f"{THREAD_HELP}")
        message = await self._post(text, reply_to=announcement_id, conversation=conversation)
        await self._redis.set(self._key("thread", conversation), message.message_id, ex=KEY_TTL_S)
        # Keep the announcement's mark (messages written while queued follow); else from now.
        await self._redis.set(self._key("seen", conversation), last_id, ex=KEY_TTL_S, nx=True)
        await self.forward_new(conversation)

    async def _end_thread(self, conversation: str, to: str, who: str) -> None:
        thread = await self.thread_of(conversation)
        if thread is None:
            return
        await self._redis.delete(self._key("thread", conversation),
                                 self._key("seen", conversation))
        name = _esc(await asyncio.to_thread(self._name, who))
        text = (f"↩️ {name} 已将会话交回智能客服。" if to == Mode.BOT
                else f"⏹ 会话已结束（{name}）。")
        await self._post(text, reply_to=thread, conversation=conversation)

    def _new_lines(self, conversation: str, after_id: int) -> list[dict[str, Any]]:
        with session_scope(self._db_url) as session:
            rows = [r for r in transcripts.history(session, conversation, after_id=after_id)
                    if r.author == "enterprise"]
            out: list[dict[str, Any]] = []
            for row in rows[-FORWARD_MAX:]:
                line: dict[str, Any] = {"id": row.id, "text": row.text, "file": None}
                if row.attachment_id:
                    att = session.get(Attachment, row.attachment_id)
                    if att is not None:
                        line["file"] = (att.filename, att.mime, bytes(att.data))
                out.append(line)
            if len(rows) > FORWARD_MAX:
                out[0]["text"] = (f"（另有 {len(rows) - FORWARD_MAX} 条较早的消息未转发，"
                                  f"请在控制台查看）\n{out[0]['text']}")
            return out

    async def forward_new(self, conversation: str) -> None:
        """Post the enterprise's messages not yet shown into the thread of its group owner."""
        async with self._lock(conversation):
            thread = await self.thread_of(conversation)
            if thread is None or self._bot is None:
                return
            owner = await asyncio.to_thread(handoff.owner_of, self._sync, conversation)
            if not owner or not owner.startswith(OPERATOR_PREFIX):
                return
            seen = int(await self._redis.get(self._key("seen", conversation)) or 0)
            lines = await asyncio.to_thread(self._new_lines, conversation, seen)
            for line in lines:
                try:
                    await self._forward_line(conversation, thread, line)
                except BadRequest as exc:  # this one cannot be shown: skip it, not the rest
                    logger.warning("operator group: message %s of %s not forwarded: %s",
                                   line["id"], pseudonym(conversation), exc)
                await self._redis.set(self._key("seen", conversation), line["id"], ex=KEY_TTL_S)

    async def _forward_line(self, conversation: str, thread: int, line: dict[str, Any]) -> None:
        assert self._bot is not None
        bot = self._bot
        if line["file"] is None:
            text = f"💬 企业：{_esc(_cut(line['text'], FORWARD_CHARS))}"
            await self._post(text, reply_to=thread, conversation=conversation)
            return
        filename, mime, data = line["file"]
        params = ReplyParameters(thread, allow_sending_without_reply=True)
        upload = InputFile(data, filename=filename)
        caption = f"💬 企业：{_esc(_cut(line['text'], CAPTION_CHARS))}"
        if mime in attachments.IMAGES and mime != "image/gif":
            message = await self._call(lambda: bot.send_photo(
                self.chat_id, upload, caption=caption, parse_mode=ParseMode.HTML,
                reply_parameters=params))
        else:
            message = await self._call(lambda: bot.send_document(
                self.chat_id, upload, caption=caption, parse_mode=ParseMode.HTML,
                reply_parameters=params))
        await self._link(message.message_id, conversation)

    # --- operator actions -------------------------------------------------------------

    # --- handlers ---------------------------------------------------------------------

    @_group_only
    async def on_take(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        conversation = await self._conversation_named(
            (query.data or "").removeprefix(TAKE_PREFIX))
        if conversation is None or not conversations.valid_conversation(conversation):
            await query.answer("无效的会话。", show_alert=True)
            return
        who = await self.identity(query.from_user)
        if who is None:
            await query.answer("您不在人工客服名单中，不能接入会话。如需开通请联系管理员。",
                               show_alert=True)
            return
        username, name = who
        await self._remember_name(username, name)
        try:
            await self._ops.take(conversation, username, name)
        except ChatError as exc:
            await query.answer(str(exc)[:200], show_alert=True)
            return
        await query.answer("已接入，请回复群内的接入消息与企业对话。")
        self._bot = self._bot or context.bot
        announcement = query.message.message_id if query.message is not None else None
        await self._open_thread(conversation, name, announcement)

    @_group_only
    async def on_reply(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or message.reply_to_message is None or message.from_user is None:
            return
        if message.from_user.is_bot:
            return
        conversation = await self.conversation_of(message.reply_to_message.message_id)
        if conversation is None:
            return  # operators talking among themselves
        who = await self.identity(message.from_user)
        if who is None:
            await message.reply_text(NOT_LISTED)
            return
        username, name = who
        await self._remember_name(username, name)
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
        who = await self.identity(message.from_user)
        if who is None:  # the allow-list covers every command but /whoami
            await message.reply_text(NOT_LISTED)
            return
        username, name = who
        await self._remember_name(username, name)
        conversation = None
        if message.reply_to_message is not None:
            conversation = await self.conversation_of(message.reply_to_message.message_id)
        if conversation is None:
            owned = await asyncio.to_thread(handoff.owned_by, self._sync, username)
            if len(owned) != 1:
                await message.reply_text(f"请回复要操作的会话消息后再发送 /{command}。")
                return
            conversation = owned[0]
        had_thread = await self.thread_of(conversation) is not None
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
