"""What the chat pages show, apart from HTTP: a conversation, its enterprise, the queue.

The operator's actions (take, reply, hand back, close, release, file a ticket) are the core's
(:mod:`hotline.operator_chat`), shared with the operators' Telegram group.

Every message to the enterprise goes through the outbox (:mod:`hotline.outbox`): it is
durable, delivered by the gateway that owns the channel, and written to the transcript
when it was delivered; until then the chat page shows it as 待送达 / 未送达.
"""

from __future__ import annotations

import logging
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
    redis_keys,
    transcripts,
)
from hotline.conversations import (  # noqa: F401 - the chat pages' vocabulary, from the core
    CHANNEL_ZH,
    MODE_ZH,
    REASON_ZH,
    channel_of,
    enterprise_names,
    label_of,
    valid_conversation,
)
from hotline.handoff import Mode
from hotline.models import (
    Attachment,
    ChannelIdentity,
    Enterprise,
    NotificationOutbox,
    OutboxStatus,
    Ticket,
    TranscriptMessage,
)
from hotline.operator_chat import ChatError, display_names

logger = logging.getLogger(__name__)
PRESENCE_PREFIX = redis_keys.PRESENCE


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


def attachment_for(session: Session, attachment_id: int, *, every_chat: bool,
                   department_id: int | None) -> tuple[str, str, bytes] | None:
    """``(name, MIME type, bytes)`` of an attachment this account may see, else None.

    ``every_chat`` for the chat staff; department staff see only the chats of tickets
    assigned to their department (``department_id``).
    """
    conversation = session.scalar(select(Attachment.conversation_id)
                                  .where(Attachment.id == attachment_id))
    if conversation is None:
        return None
    if not every_chat and (department_id is None or session.scalar(select(Ticket.id).where(
            Ticket.conversation_id == conversation,
            Ticket.department_id == department_id).limit(1)) is None):
        return None
    return attachments.fetch(session, attachment_id, conversation)
