"""The words for a conversation shared by every adapter: its id's form, its channel, the labels
of its handoff modes and reasons, the short name of a chat with no enterprise on file.

The definitions live where the concept does (:mod:`hotline.channels`, :mod:`hotline.handoff`);
this module gathers them for the chat pages and the operators' group."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.channels import CHANNELS, CONVERSATION, prefix_of, user_label, valid_conversation
from hotline.handoff import MODE_ZH, REASON_ZH
from hotline.models import ChannelIdentity, Enterprise

__all__ = ["CHANNEL_ZH", "CONVERSATION", "MODE_ZH", "REASON_ZH", "channel_of", "enterprise_names",
           "label_of", "valid_conversation"]

CHANNEL_ZH = {prefix: channel.zh for prefix, channel in CHANNELS.items()}
label_of = user_label
channel_of = prefix_of


def enterprise_names(session: Session, conversations: list[str]) -> dict[str, str]:
    if not conversations:
        return {}
    rows = session.execute(
        select(ChannelIdentity.conversation_id, Enterprise.name)
        .join(Enterprise, Enterprise.id == ChannelIdentity.enterprise_id)
        .where(ChannelIdentity.conversation_id.in_(conversations))
    ).all()
    return {c: n for c, n in rows}
