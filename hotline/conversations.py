"""The words for a conversation shared by every adapter: its id's form, its channel, the labels
of its handoff modes and reasons, the short name of a chat with no enterprise on file."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.handoff import Mode
from hotline.models import ChannelIdentity, Enterprise

CONVERSATION = re.compile(r"^(tg:-?\d{1,20}|web:[0-9a-f-]{36})$")
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


def enterprise_names(session: Session, conversations: list[str]) -> dict[str, str]:
    if not conversations:
        return {}
    rows = session.execute(
        select(ChannelIdentity.conversation_id, Enterprise.name)
        .join(Enterprise, Enterprise.id == ChannelIdentity.enterprise_id)
        .where(ChannelIdentity.conversation_id.in_(conversations))
    ).all()
    return {c: n for c, n in rows}
