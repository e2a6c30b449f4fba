"""What the chat pages do, apart from HTTP: read a conversation, act on it as an operator.

Every message to the enterprise goes through the outbox (:mod:`hotline.outbox`): it is
durable, delivered by the gateway that owns the channel, and written to the transcript
when it was delivered; until then the chat page shows it as 待送达 / 未送达.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timezone

import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer

from hotline import (
    attachments,
    handoff,
    identity,
    outbox,
    routing,
    service_ratings,
    tickets,
    transcripts,
)
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
from hotline.models import (
    Attachment,
    ChannelIdentity,
    Enterprise,
    NotificationOutbox,
    OutboxStatus,
    Staff,
    StaffRole,
    Ticket,
    TranscriptMessage,
)

logger = logging.getLogger(__name__)
CONVERSATION = re.compile(r"^(tg:-?\d{1,20}|web:[0-9a-f-]{36})$")
REPLY_MAX = 4000
PRESENCE_PREFIX = "hotline:presence:"
CHANNEL_ZH = {"tg": "Telegram", "web": "网页咨询"}
REASON_ZH = {
    "request_human": "企业要求转人工", "two_fallbacks": "机器人两次未能理解",
    "misconduct": "反映作风问题", "operator_pick": "客服主动接入", "claim": "客服接入",
    "cancel": "企业取消排队", "hand_back": "交回智能客服", "close": "会话结束",
    "reopen": "企业再次咨询", "force_release": "督办强制释放", "operator_gone": "接待客服已停用",
    "idle": "超时无人应答",
}
MODE_ZH = {Mode.BOT: "智能客服", Mode.QUEUED: "排队中", Mode.HUMAN: "人工服务中",
           Mode.CLOSED: "已结束"}


# Messages that say nothing about the need (left out of a ticket drafted from the chat).
NOT_A_NEED = frozenset({"转人工", "人工", "人工客服", "找人工", "我要转人工", "在吗", "你好",
                        "您好", "取消", "谢谢"}) | handoff.CANCEL_WORDS


class ChatError(ValueError):
    """An operator action refused; ``str()`` is Chinese for the console."""


def label_of(conversation: str) -> str:
    """A short name for a chat with no enterprise on file: 网页访客 33fdedbb / Telegram 用户 42."""
    channel, _, ident = conversation.partition(":")
    if channel == "web":
        return f"网页访客 {ident[:8]}"
    return f"Telegram 用户 {ident}"


def valid_conversation(conversation: str) -> bool:
    return bool(CONVERSATION.match(conversation))


def channel_of(conversation: str) -> str:
    return conversation.split(":", 1)[0]


@dataclass(frozen=True)
class ChatLine:
    id: int
    direction: str
    kind: str  # in | bot | operator | notice
    author: str
    text: str
    at: datetime
    attachment_id: int | None
    attachment_name: str | None
    attachment_image: bool


@dataclass(frozen=True)
class PendingLine:
    id: int
    text: str
    status: str  # pending | failed
    error: str | None
    attachment_name: str | None


@dataclass(frozen=True)
class ChatSummary:
    conversation: str
    channel: str
    mode: Mode
    mode_zh: str
    operator: str | None
    reason_zh: str
    since: datetime | None
    waited_s: float | None
    enterprise: str | None
    last_text: str
    last_at: datetime | None
    present: bool | None  # web pages only


# What the enterprise's button presses (Rasa payloads) mean, for the operator reading along.
PAYLOAD_ZH = {
    "greet": "打开对话", "open_ticket": "提交诉求", "request_human": "转人工", "thank": "有用",
    "affirm": "确认", "deny": "取消", "inform": "选择/评价", "cancel_handoff": "取消排队",
    "rate_service": "评价人工服务", "check_ticket": "查询进度",
}


def shown_text(author: str, text: str) -> str:
    """A payload like ``/open_ticket`` reads as ``［按钮：提交诉求］`` in the console."""
    if author != "enterprise" or not text.startswith("/"):
        return text
    name = text[1:].split("{", 1)[0].split(":", 1)[0]
    return f"［按钮：{PAYLOAD_ZH.get(name, name)}］"


def _kind(author: str) -> str:
    if author == "enterprise":
        return "in"
    if author.startswith("operator:"):
        return "operator"
    if author.startswith("bot:"):
        return "notice"
    return "bot"


def _attachments(session: Session, ids: list[int | None]) -> dict[int, Attachment]:
    """The attachments of these ids, in one query (without their bytes)."""
    wanted = [i for i in ids if i]
    if not wanted:
        return {}
    rows = session.scalars(select(Attachment).options(defer(Attachment.data))
                           .where(Attachment.id.in_(wanted)))
    return {a.id: a for a in rows}


def lines(session: Session, conversation: str, after_id: int = 0) -> list[ChatLine]:
    rows = transcripts.history(session, conversation, after_id=after_id)
    files = _attachments(session, [r.attachment_id for r in rows])
    out = []
    for r in rows:
        f = files.get(r.attachment_id) if r.attachment_id else None
        out.append(ChatLine(r.id, r.direction, _kind(r.author), r.author.removeprefix("operator:"),
                            shown_text(r.author, r.text), r.at, r.attachment_id, f.filename if f else None,
                            bool(f and attachments.is_image(f.mime))))
    return out


def pending(session: Session, conversation: str) -> list[PendingLine]:
    """Messages to the enterprise not (yet) delivered: operators see what is in flight."""
    rows = session.scalars(
        select(NotificationOutbox).where(
            NotificationOutbox.conversation_id == conversation,
            NotificationOutbox.status.in_([OutboxStatus.PENDING.value, OutboxStatus.FAILED.value]),
        ).order_by(NotificationOutbox.id)
    ).all()
    files = _attachments(session, [r.attachment_id for r in rows])
    out = []
    for r in rows:
        file = files.get(r.attachment_id) if r.attachment_id else None
        error = _error_zh(r.last_error) if r.last_error else None
        out.append(PendingLine(r.id, r.text, r.status, error, file.filename if file else None))
    return out


def _error_zh(error: str) -> str:
    lowered = error.lower()
    if "blocked" in lowered or "forbidden" in lowered or "deactivated" in lowered:
        return "企业已停用或屏蔽机器人，消息无法送达"
    if "chat not found" in lowered:
        return "企业会话不存在"
    return "发送失败，系统会自动重试"


def last_messages(session: Session, conversations: list[str]) -> dict[str, TranscriptMessage]:
    """The enterprise's latest message in each conversation (what an operator scans for)."""
    if not conversations:
        return {}
    latest = (select(func.max(TranscriptMessage.id))
              .where(TranscriptMessage.conversation_id.in_(conversations),
                     TranscriptMessage.author == "enterprise")
              .group_by(TranscriptMessage.conversation_id))
    rows = session.scalars(select(TranscriptMessage).where(TranscriptMessage.id.in_(latest)))
    return {r.conversation_id: r for r in rows}


def recent_conversations(session: Session, limit: int = 20) -> list[str]:
    rows = session.execute(
        select(TranscriptMessage.conversation_id, func.max(TranscriptMessage.id).label("m"))
        .group_by(TranscriptMessage.conversation_id).order_by(func.max(TranscriptMessage.id).desc())
        .limit(limit)
    ).all()
    return [r[0] for r in rows]


def enterprise_names(session: Session, conversations: list[str]) -> dict[str, str]:
    if not conversations:
        return {}
    rows = session.execute(
        select(ChannelIdentity.conversation_id, Enterprise.name)
        .join(Enterprise, Enterprise.id == ChannelIdentity.enterprise_id)
        .where(ChannelIdentity.conversation_id.in_(conversations))
    ).all()
    return {c: n for c, n in rows}


def present(r: redis.Redis, conversation: str) -> bool | None:
    if channel_of(conversation) != "web":
        return None
    return int(r.get(PRESENCE_PREFIX + conversation) or 0) > 0


def summaries(session: Session, r: redis.Redis, conversations: list[str],
              now: datetime | None = None) -> list[ChatSummary]:
    now = now or datetime.now(timezone.utc)
    last = last_messages(session, conversations)
    names = enterprise_names(session, conversations)
    out = []
    for conv in conversations:
        state = handoff.state_of(r, conv)
        message = last.get(conv)
        waited = (now - state.since).total_seconds() if state.since and state.mode in (
            Mode.QUEUED, Mode.HUMAN) else None
        out.append(ChatSummary(
            conv, CHANNEL_ZH.get(channel_of(conv), channel_of(conv)), state.mode,
            MODE_ZH[state.mode], state.operator, REASON_ZH.get(state.reason or "", ""),
            state.since, waited, names.get(conv),
            (shown_text(message.author, message.text)[:60] if message else ""),
            message.at if message else None,
            present(r, conv)))
    return out


def workload(session: Session, r: redis.Redis) -> list[tuple[str, int]]:
    """(display name, chats owned now) of everyone serving at least one chat, busiest first."""
    names = display_names(session)
    rows = [(names.get(u, u), n) for u, n in handoff.workloads(r).items()]
    return sorted(rows, key=lambda x: (-x[1], x[0]))


def display_names(session: Session) -> dict[str, str]:
    return {u: n for u, n in session.execute(select(Staff.username, Staff.display_name))}


# --- operator actions -------------------------------------------------------------------


def _notice(session: Session, conversation: str, kind: str, text: str,
            buttons: list[dict[str, str]] | None = None) -> None:
    outbox.enqueue(session, conversation, kind, text, buttons=buttons)


def take(session: Session, r: redis.Redis, conversation: str, username: str,
         display_name: str) -> None:
    try:
        handoff.claim(r, conversation, username)
    except handoff.AlreadyClaimed as exc:
        owner = display_names(session).get(exc.owner, exc.owner)
        raise ChatError(f"该会话已由客服 {owner} 接待，不能重复接入。") from None
    except handoff.InvalidHandoff as exc:
        raise ChatError(exc.message) from None
    _notice(session, conversation, "handoff.claimed",
            f"您好，人工客服（{display_name}）已接入，正在查看您之前的对话，请稍候。")


def _must_own(r: redis.Redis, session: Session, conversation: str, username: str) -> None:
    state = handoff.state_of(r, conversation)
    if state.mode is Mode.HUMAN and state.operator == username:
        return
    if state.mode is Mode.HUMAN:
        owner = display_names(session).get(state.operator or "", state.operator)
        raise ChatError(f"该会话由客服 {owner} 接待，您不能在此回复。")
    if state.mode is Mode.QUEUED:
        raise ChatError("该会话还在排队，请先点击“接入”。")
    if state.mode is Mode.CLOSED:
        raise ChatError("该会话已结束，企业已离开，消息不会再发送。如需联系企业，请登记工单由部门回访。")
    raise ChatError("该会话已交回智能客服，不能再回复；如需继续人工服务，请重新接入。")


def reply(session: Session, r: redis.Redis, conversation: str, username: str,
          display_name: str, text: str, file: tuple[str | None, str | None, bytes] | None,
          max_bytes: int) -> NotificationOutbox:
    _must_own(r, session, conversation, username)
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
    except handoff.InvalidHandoff as exc:
        raise ChatError(exc.message) from None
    _notice(session, conversation, "handoff.back",
            "人工客服已结束本次服务，智能客服继续为您服务。如需再次转人工，请发送“转人工”。\n"
            + service_ratings.ASK, service_ratings.buttons(event.id))


def close(session: Session, r: redis.Redis, conversation: str, username: str) -> None:
    state = handoff.state_of(r, conversation)
    if state.mode is Mode.HUMAN and state.operator != username:
        owner = display_names(session).get(state.operator or "", state.operator)
        raise ChatError(f"该会话由客服 {owner} 接待，只有接待客服可以结束。")
    try:
        event = handoff.close(r, conversation, username)
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
    taxonomy = routing.load_taxonomy()
    names = tuple(taxonomy.topics)
    if description:
        topic = best_topic(description, names, default=topic)
    card: EnterpriseCard | None = card_for(session, conversation)
    return TicketDraft(topic, description, card.name if card else "", card.uscc if card else "",
                       (card.contact_name or "") if card else "",
                       (card.contact_phone or "") if card else "")


def open_ticket(session: Session, conversation: str, draft: TicketDraft, actor: str) -> Ticket:
    taxonomy = routing.load_taxonomy()
    if draft.topic not in taxonomy.topics:
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


def open_tickets_of(session: Session, conversation: str) -> list[Ticket]:
    enterprise_id = session.scalar(select(ChannelIdentity.enterprise_id).where(
        ChannelIdentity.conversation_id == conversation))
    query = select(Ticket).order_by(Ticket.created_at.desc()).limit(20)
    if enterprise_id is not None:
        query = query.where((Ticket.enterprise_id == enterprise_id)
                            | (Ticket.conversation_id == conversation))
    else:
        query = query.where(Ticket.conversation_id == conversation)
    return list(session.scalars(query))


@dataclass(frozen=True)
class IdentityPanel:
    """The chat page's view of who the chat claims to be and what waits for staff."""

    name: str
    uscc: str
    contact_name: str | None
    contact_phone: str | None
    verified: bool
    verified_by: str | None
    changes: list[tuple[int, str]]  # (change id, what it proposes)


def identity_panel(session: Session, conversation: str) -> IdentityPanel | None:
    claim = identity.claim_of(session, conversation)
    if claim is None:
        return None
    enterprise = session.get(Enterprise, claim.enterprise_id)
    assert enterprise is not None
    labels = (("name", "企业名称"), ("contact_name", "联系人"), ("contact_phone", "联系电话"))
    changes = [
        (c.id, "；".join(f"{zh}改为“{getattr(c, key)}”" for key, zh in labels if getattr(c, key)))
        for c in identity.pending_changes(session, enterprise.id)
    ]
    return IdentityPanel(enterprise.name, enterprise.uscc, enterprise.contact_name,
                         enterprise.contact_phone, claim.verified, claim.verified_by, changes)


def verify_identity(session: Session, conversation: str, actor: str) -> None:
    try:
        identity.staff_verify(session, conversation, actor=actor, note="工作人员电话核实")
    except identity.IdentityError as exc:
        raise ChatError(str(exc)) from exc
    outbox.enqueue(session, conversation, "identity.verified",
                   "工作人员已核实您的企业身份，您现在可以查询和评价本企业的全部诉求。")


def revoke_identity(session: Session, conversation: str, actor: str) -> None:
    try:
        identity.revoke(session, conversation, actor=actor)
    except identity.IdentityError as exc:
        raise ChatError(str(exc)) from exc


def decide_change(session: Session, change_id: int, approve: bool, actor: str) -> None:
    try:
        identity.decide_change(session, change_id, approve=approve, actor=actor)
    except identity.IdentityError as exc:
        raise ChatError(str(exc)) from exc


def attachment_for(session: Session, attachment_id: int, role: StaffRole,
                   department_id: int | None) -> tuple[str, str, bytes] | None:
    """``(name, MIME type, bytes)`` of an attachment this account may see, else None.

    Operators, supervisors and admins see every chat; department staff only the chats of
    tickets assigned to their department.
    """
    conversation = session.scalar(select(Attachment.conversation_id)
                                  .where(Attachment.id == attachment_id))
    if conversation is None:
        return None
    if role is StaffRole.DEPARTMENT:
        if department_id is None or session.scalar(select(Ticket.id).where(
                Ticket.conversation_id == conversation,
                Ticket.department_id == department_id).limit(1)) is None:
            return None
    elif role not in (StaffRole.OPERATOR, StaffRole.SUPERVISOR, StaffRole.ADMIN):
        return None
    return attachments.fetch(session, attachment_id, conversation)
