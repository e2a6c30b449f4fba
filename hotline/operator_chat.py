"""An operator's work on a chat: take, reply, hand back, close, force-release, file a ticket.

One implementation with one set of refusals, called by the web console and by the operators'
Telegram group alike. The state change is atomic in Redis (:mod:`hotline.handoff`, one Lua
script per transition, the owner checked inside it); the message to the enterprise is written
to the outbox in the caller's database transaction; what must happen after the commit
(deliver now, refresh the console pages, tell the dialogue engine the bot resumes) is done by
one :class:`Effects` object built at start-up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline import (
    attachments,
    handoff,
    identity,
    live,
    outbox,
    redis_keys,
    routing,
    service_ratings,
    tickets,
    transcripts,
)
from hotline.channels import TELEGRAM
from hotline.db import session_scope
from hotline.enterprises import (
    EnterpriseCard,
    card_for,
    clean_company,
    clean_person,
    clean_phone,
    clean_uscc,
)
from hotline.handoff import Mode
from hotline.kb.topics import best_topic
from hotline.models import NotificationOutbox, Staff, Ticket

logger = logging.getLogger(__name__)
REPLY_MAX = 4000

# Messages that say nothing about the need (left out of a ticket drafted from the chat).
NOT_A_NEED = frozenset({"转人工", "人工", "人工客服", "找人工", "我要转人工", "在吗", "你好",
                        "您好", "取消", "谢谢"}) | handoff.CANCEL_WORDS


class ChatError(ValueError):
    """An operator action refused; ``str()`` is Chinese for the console and the group."""


# What each action may not do on a chat someone else holds ("该会话由客服 X 接待，…").
OWNED_ELSEWHERE = {
    "take": "不能重复接入。",
    "reply": "只有接待的客服可以回复。",
    "hand_back": "只有接待的客服可以交回智能客服。",
    "close": "只有接待的客服可以结束。",
}


#: Username of an operator acting from the operators' Telegram group (not a console account).
GROUP_OPERATOR_PREFIX = "tg-op-"


def display_names(session: Session) -> dict[str, str]:
    return {u: n for u, n in session.execute(select(Staff.username, Staff.display_name))}


def remember_name(r: redis.Redis, username: str, name: str) -> None:
    """The name a group operator goes by (their Telegram name), for refusals and posts."""
    r.set(redis_keys.opgroup_name(username), name, ex=365 * 86400)


def name_of(session: Session, r: redis.Redis, username: str | None) -> str:
    """The display name of whoever acted: the enterprise, a group operator, console staff."""
    if not username:
        return ""
    if username == "enterprise":
        return "企业"
    if username.startswith(GROUP_OPERATOR_PREFIX):
        raw = r.get(redis_keys.opgroup_name(username))
        if raw:
            return raw.decode() if isinstance(raw, bytes) else str(raw)
        return f"{TELEGRAM.user_zh} {username.removeprefix(GROUP_OPERATOR_PREFIX)}"
    name = session.scalar(select(Staff.display_name).where(Staff.username == username))
    return name or username


def _refusal(session: Session, r: redis.Redis, action: str, state: handoff.State,
             username: str) -> ChatError:
    """The one wording of every refusal, by the chat's state."""
    if state.mode is Mode.HUMAN and state.operator == username and action == "take":
        return ChatError("您已接入该会话，请回复接入消息与企业对话。")
    if state.mode is Mode.HUMAN and state.operator != username:
        return ChatError(f"该会话由客服 {name_of(session, r, state.operator)} 接待，"
                         f"{OWNED_ELSEWHERE[action]}")
    if state.mode is Mode.QUEUED:
        return ChatError("该会话还在排队，请先点击“接入”。")
    if state.mode is Mode.CLOSED:
        return ChatError("该会话已结束，企业已离开，消息不会再发送。如需联系企业，请登记工单由部门回访。")
    return ChatError("该会话已交回智能客服，不能再回复；如需继续人工服务，请重新接入。")


def _notice(session: Session, conversation: str, kind: str, text: str,
            buttons: list[dict[str, str]] | None = None) -> None:
    outbox.enqueue(session, conversation, kind, text, buttons=buttons)


# --- the actions (in the caller's transaction) -----------------------------------------------


def take(session: Session, r: redis.Redis, conversation: str, username: str,
         display_name: str) -> None:
    try:
        handoff.claim(r, conversation, username)
    except handoff.AlreadyClaimed:
        raise _refusal(session, r, "take", handoff.state_of(r, conversation), username) from None
    except handoff.InvalidHandoff as exc:
        raise ChatError(exc.message) from None
    _notice(session, conversation, "handoff.claimed",
            f"您好，人工客服（{display_name}）已接入，正在查看您之前的对话，请稍候。")


def reply(session: Session, r: redis.Redis, conversation: str, username: str,
          display_name: str, text: str, file: tuple[str | None, str | None, bytes] | None,
          max_bytes: int) -> NotificationOutbox:
    state = handoff.state_of(r, conversation)
    if not (state.mode is Mode.HUMAN and state.operator == username):
        raise _refusal(session, r, "reply", state, username)
    text = (text or "").strip()
    if not text and not file:
        raise ChatError("请输入回复内容或选择要发送的文件。")
    if len(text) > REPLY_MAX:
        raise ChatError(f"单条回复最多 {REPLY_MAX} 字，请分条发送。")
    attachment_id = None
    if file is not None:
        name, mime, data = file
        try:
            attachment_id = attachments.save(session, conversation, name, mime, data,
                                             f"operator:{display_name}", max_bytes=max_bytes).id
        except attachments.AttachmentError as exc:
            raise ChatError(str(exc)) from None
        if not text:
            text = "请查收文件。"
    row = outbox.enqueue(session, conversation, "operator.message",
                         f"人工客服（{display_name}）：{text}", attachment_id=attachment_id,
                         author=f"operator:{display_name}")
    if row is None:
        raise ChatError("该会话的渠道不支持人工回复。")
    return row


def hand_back(session: Session, r: redis.Redis, conversation: str, username: str) -> None:
    try:
        event = handoff.hand_back(r, conversation, username)
    except handoff.NotOwner:
        raise _refusal(session, r, "hand_back", handoff.state_of(r, conversation),
                       username) from None
    except handoff.InvalidHandoff as exc:
        raise ChatError(exc.message) from None
    _notice(session, conversation, "handoff.back",
            "人工客服已结束本次服务，智能客服继续为您服务。如需再次转人工，请发送“转人工”。\n"
            + service_ratings.ASK, service_ratings.buttons(event.id))


def close(session: Session, r: redis.Redis, conversation: str, username: str) -> None:
    """End the chat. A chat with a person only by that person: checked in the transition
    itself, so a take between a check and the close cannot slip through."""
    try:
        event = handoff.close(r, conversation, username, owner_only=True)
    except handoff.NotOwner:
        raise _refusal(session, r, "close", handoff.state_of(r, conversation),
                       username) from None
    except handoff.InvalidHandoff as exc:
        raise ChatError(exc.message) from None
    rate = event.from_mode is Mode.HUMAN
    _notice(session, conversation, "handoff.closed",
            "本次人工服务已结束，感谢您的耐心。如有新的问题，直接发消息即可。"
            + ("\n" + service_ratings.ASK if rate else ""),
            service_ratings.buttons(event.id) if rate else None)


def force_release(session: Session, r: redis.Redis, conversation: str, username: str) -> None:
    """A supervisor or admin gives a queued or human chat back to the bot (operator gone).

    The handoff event (who, reason ``force_release``) is the audit record; the log says
    whose chat it was.
    """
    owner = handoff.state_of(r, conversation).operator
    try:
        event = handoff.release_and_notify(r, session, conversation, username,
                                           reason=handoff.Reason.FORCE_RELEASE)
    except handoff.InvalidHandoff as exc:
        raise ChatError(exc.message) from None
    logger.info("chat %s force-released from %s (operator %s) by %s", conversation,
                event.from_mode.value, owner or "-", username)


@dataclass(frozen=True)
class TicketDraft:
    topic: str
    description: str
    company: str
    uscc: str
    contact: str
    phone: str


def draft_for(session: Session, conversation: str) -> TicketDraft:
    """Pre-fill a ticket from the chat: the enterprise's own words and its file."""
    said = [m.text for m in transcripts.history(session, conversation, limit=200)
            if m.author == "enterprise" and not m.text.startswith("/") and not m.attachment_id
            and len(m.text.strip()) > 4 and m.text.strip() not in NOT_A_NEED]
    description = "\n".join(said[-6:])[: tickets.DESCRIPTION_MAX_CHARS]
    topic = "policy_benefit"
    names = tuple(routing.load_taxonomy().topics)
    if description:
        topic = best_topic(description, names, default=topic)
    card: EnterpriseCard | None = card_for(session, conversation)
    return TicketDraft(topic, description, card.name if card else "", card.uscc if card else "",
                       (card.contact_name or "") if card else "",
                       (card.contact_phone or "") if card else "")


def open_ticket(session: Session, conversation: str, draft: TicketDraft, actor: str) -> Ticket:
    if draft.topic not in routing.load_taxonomy().topics:
        raise ChatError("请选择诉求类别。")
    description, issue = tickets.validate_description(draft.description)
    if issue is not None and issue.blocking:
        raise ChatError(issue.message)
    enterprise_id = None
    contact, phone = None, None
    if draft.contact.strip():
        contact, error = clean_person(draft.contact)
        if error:
            raise ChatError(error)
    if draft.phone.strip():
        phone, error = clean_phone(draft.phone)
        if error:
            raise ChatError(error)
    if draft.uscc.strip() or draft.company.strip():
        uscc, error = clean_uscc(draft.uscc)
        if error:
            raise ChatError(error)
        company, error = clean_company(draft.company)
        if error:
            raise ChatError(error)
        assert uscc is not None and company is not None
        enterprise_id = identity.claim(session, conversation, uscc=uscc, name=company,
                                       contact_name=contact, contact_phone=phone,
                                       actor=actor).id
    verified = enterprise_id is not None and identity.verified_enterprise(
        session, conversation) == enterprise_id
    return tickets.create_ticket(session, topic=draft.topic, description=description,
                                 conversation_id=conversation, enterprise_id=enterprise_id,
                                 contact_name=contact, contact_phone=phone, actor=actor,
                                 applicant_verified=verified)


# --- after the commit ------------------------------------------------------------------------


def _nothing(_conversation: str) -> None:
    return None


@dataclass
class Effects:
    """What follows a committed action, wherever it was taken: the notice goes out now (not at
    the next poll), the console pages of the chat refresh, and after a hand-back or a release
    the dialogue engine is told the bot has the chat again. Built once at start-up."""

    redis: redis.Redis
    deliver: Callable[[str], None] = _nothing
    resume_bot: Callable[[str], Awaitable[None]] | None = None
    source: str = "console"  # who published the live update

    async def after(self, conversation: str, *, bot_resumes: bool = False) -> None:
        try:
            self.deliver(conversation)
        except Exception:  # noqa: BLE001 - delivery also polls; the action is committed
            logger.warning("immediate delivery to a chat failed", exc_info=True)
        await asyncio.to_thread(live.publish, self.redis, conversation, self.source)
        if bot_resumes and self.resume_bot is not None:
            try:
                await self.resume_bot(conversation)
            except Exception:  # noqa: BLE001 - the chat is the bot's again either way
                logger.warning("dialogue engine not told the bot resumes a chat", exc_info=True)


@dataclass
class OperatorChat:
    """The actions with their transaction and their effects: what adapters call."""

    db_url: str
    redis: redis.Redis
    effects: Effects
    attachment_max_bytes: int = 10 * 1024 * 1024
    _resumes: frozenset[str] = field(default=frozenset({"hand_back", "force_release"}))

    async def _run(self, name: str, conversation: str,
                   action: Callable[[Session], object]) -> object:
        def in_transaction() -> object:
            with session_scope(self.db_url) as session:
                return action(session)

        result = await asyncio.to_thread(in_transaction)
        await self.effects.after(conversation, bot_resumes=name in self._resumes)
        return result

    async def take(self, conversation: str, username: str, display_name: str) -> None:
        await self._run("take", conversation, lambda s: take(
            s, self.redis, conversation, username, display_name))

    async def reply(self, conversation: str, username: str, display_name: str, text: str,
                    file: tuple[str | None, str | None, bytes] | None = None) -> None:
        await self._run("reply", conversation, lambda s: reply(
            s, self.redis, conversation, username, display_name, text, file,
            self.attachment_max_bytes))

    async def hand_back(self, conversation: str, username: str) -> None:
        await self._run("hand_back", conversation,
                        lambda s: hand_back(s, self.redis, conversation, username))

    async def close(self, conversation: str, username: str) -> None:
        await self._run("close", conversation,
                        lambda s: close(s, self.redis, conversation, username))

    async def force_release(self, conversation: str, username: str) -> None:
        await self._run("force_release", conversation,
                        lambda s: force_release(s, self.redis, conversation, username))

    async def open_ticket(self, conversation: str, draft: TicketDraft, actor: str) -> str:
        number = await self._run("open_ticket", conversation,
                                 lambda s: open_ticket(s, conversation, draft, actor).number)
        return str(number)
