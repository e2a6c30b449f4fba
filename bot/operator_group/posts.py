"""What the bot posts in the operators' group: announcements, threads, enterprise messages.

Every post is linked (:class:`~bot.operator_group.links.Links`) to its conversation, so an
operator's reply to any of them reaches the enterprise.
"""

from __future__ import annotations

import asyncio
import html
import logging

from telegram import Bot, InlineKeyboardMarkup, Message, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot import tg_io
from bot.logsafe import pseudonym
from bot.operator_group import records
from bot.operator_group.links import Links, public_ref, take_data
from hotline import conversations, operator_chat
from hotline.handoff import Mode

logger = logging.getLogger(__name__)

OPERATOR_PREFIX = operator_chat.GROUP_OPERATOR_PREFIX  # an operator acting from the group
QUOTE_CHARS = 80  # each enterprise message quoted in an announcement cut to this many
FORWARD_CHARS = 2000  # a longer enterprise message is cut (the console shows all of it)
CAPTION_CHARS = 400
THREAD_HELP = "回复本消息即可与企业对话；发送 /handback 交回智能客服，/close 结束会话。"


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


def _short(text: str, limit: int = QUOTE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…（全文请在控制台查看）"


def _label(name: str | None, conversation: str) -> str:
    channel = conversations.CHANNEL_ZH.get(conversations.channel_of(conversation), "")
    return f"{name}（{channel}）" if name else f"{channel} 会话 {public_ref(conversation)}"


class GroupPosts:
    """Posts in the group ``chat_id`` through ``bot`` (set by whoever starts first: the
    follower at start-up, or a handler with its update's bot)."""

    def __init__(self, chat_id: int, links: Links, records: records.Records) -> None:
        self.chat_id = chat_id
        self.links = links
        self.records = records
        self.bot: Bot | None = None
        self._locks: dict[str, asyncio.Lock] = {}

    async def post(self, text: str, *, reply_to: int | None = None,
                   markup: InlineKeyboardMarkup | None = None,
                   conversation: str | None = None) -> Message:
        """Post HTML ``text`` in the group (as a reply when ``reply_to``); link it to the
        conversation so replies to it reach the enterprise. Callers keep ``text`` short
        (cutting HTML here could split an entity)."""
        assert self.bot is not None, "start() first"
        bot = self.bot
        params = (ReplyParameters(reply_to, allow_sending_without_reply=True)
                  if reply_to else None)
        message = await tg_io.flood_retry(lambda: bot.send_message(
            self.chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup,
            reply_parameters=params))
        if conversation is not None:
            await self.links.link(message.message_id, conversation)
        return message

    # --- announcements ----------------------------------------------------------------

    async def announce(self, conversation: str, reason: str) -> Message:
        name, said, last_id = await asyncio.to_thread(self.records.facts, conversation)
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
        markup = tg_io.keyboard([("接入", take_data(conversation))])
        await self.links.remember_ref(conversation)  # the 接入 button names the pseudonym
        message = await self.post(text, markup=markup, conversation=conversation)
        await self.links.save_announcement(conversation, message.message_id, text)
        # What the announcement showed; after a take the rest is forwarded to the thread.
        await self.links.mark_seen(conversation, last_id)
        return message

    async def settle_announcement(self, conversation: str, to: str, who: str) -> None:
        """The chat left the queue: say so on its announcement and remove the button."""
        ann = await self.links.pop_announcement(conversation)
        if ann is None or self.bot is None:
            return
        if to == Mode.HUMAN:
            status = f"✅ 已由 {_esc(await asyncio.to_thread(self.records.name, who))} 接入"
        elif to == Mode.BOT:
            status = "↩️ 企业已取消排队"
        else:
            status = "⏹ 会话已结束"
        bot = self.bot
        try:
            await tg_io.flood_retry(lambda: bot.edit_message_text(
                f"{ann['html']}\n\n{status}", chat_id=self.chat_id,
                message_id=ann["id"], parse_mode=ParseMode.HTML, reply_markup=None))
        except BadRequest as exc:  # deleted by an admin, or already edited
            logger.warning("operator group: announcement of %s not edited: %s",
                           pseudonym(conversation), exc)

    # --- the thread of a taken chat ------------------------------------------------------

    async def open_thread(self, conversation: str, operator_name: str,
                          announcement_id: int | None) -> None:
        name, _, last_id = await asyncio.to_thread(self.records.facts, conversation)
        text = (f"{_esc(operator_name)}：您已接入 {_esc(_label(name, conversation))}，"
                f"{THREAD_HELP}")
        message = await self.post(text, reply_to=announcement_id, conversation=conversation)
        await self.links.open_thread(conversation, message.message_id)
        # Keep the announcement's mark (messages written while queued follow); else from now.
        await self.links.mark_seen(conversation, last_id, keep=True)
        await self.forward_new(conversation)

    async def end_thread(self, conversation: str, to: str, who: str) -> None:
        thread = await self.links.thread_of(conversation)
        if thread is None:
            return
        await self.links.end_thread(conversation)
        name = _esc(await asyncio.to_thread(self.records.name, who))
        text = (f"↩️ {name} 已将会话交回智能客服。" if to == Mode.BOT
                else f"⏹ 会话已结束（{name}）。")
        await self.post(text, reply_to=thread, conversation=conversation)

    async def forward_new(self, conversation: str) -> None:
        """Post the enterprise's messages not yet shown into the thread of its group owner."""
        async with self._locks.setdefault(conversation, asyncio.Lock()), \
                self.links.forwarding(conversation):
            thread = await self.links.thread_of(conversation)
            if thread is None or self.bot is None:
                return
            owner = await asyncio.to_thread(self.records.owner_of, conversation)
            if not owner or not owner.startswith(OPERATOR_PREFIX):
                return
            seen = await self.links.seen(conversation)
            lines = await asyncio.to_thread(self.records.new_lines, conversation, seen)
            for line in lines:
                try:
                    await self._forward_line(conversation, thread, line)
                except BadRequest as exc:  # this one cannot be shown: skip it, not the rest
                    logger.warning("operator group: message %s of %s not forwarded: %s",
                                   line.id, pseudonym(conversation), exc)
                await self.links.mark_seen(conversation, line.id)

    async def _forward_line(self, conversation: str, thread: int,
                            line: records.Line) -> None:
        assert self.bot is not None
        bot = self.bot
        if line.file is None:
            text = f"💬 企业：{_esc(_cut(line.text, FORWARD_CHARS))}"
            await self.post(text, reply_to=thread, conversation=conversation)
            return
        filename, mime, data = line.file
        params = ReplyParameters(thread, allow_sending_without_reply=True)
        caption = f"💬 企业：{_esc(_cut(line.text, CAPTION_CHARS))}"
        message = await tg_io.flood_retry(lambda: tg_io.send_file(
            bot, self.chat_id, data, filename=filename, mime=mime, caption=caption,
            parse_mode=ParseMode.HTML, reply_parameters=params))
        await self.links.link(message.message_id, conversation)
