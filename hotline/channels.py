"""The channels an enterprise writes on, and the form of a conversation id on each.

A conversation id is ``<prefix>:<chat id>`` (``tg:123456``, ``web:<uuid>``): the prefix names
the channel, which decides how messages reach the enterprise (the outbox delivers to these
two), how the channel is called in Chinese, and the limits a message must fit. One
:class:`Channel` per channel, so an adapter never spells a prefix, label or limit itself.

Pure Python (``re``, ``dataclasses``): any environment can import it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Channel:
    prefix: str  # of the conversation id; also the outbox row's ``channel``
    name: str  # the transcript's ``channel`` (``telegram``, ``web``)
    zh: str  # the channel's name for staff and enterprises
    user_zh: str  # someone on it with no enterprise on file: Telegram 用户 42 / 网页访客 33fdedbb
    chat_id_pattern: str  # a valid chat id (regular expression, unanchored)
    text_limit: int | None = None  # characters in one message, None: no limit of its own
    callback_limit_bytes: int | None = None  # bytes of one button's payload
    _valid: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_valid", re.compile(f"^{self.prefix}:{self.chat_id_pattern}$"))

    def conversation(self, chat_id: int | str) -> str:
        """``tg:123456`` for chat 123456."""
        return f"{self.prefix}:{chat_id}"

    def chat_id(self, conversation: str) -> str:
        """The chat id part of one of this channel's conversation ids."""
        return conversation.removeprefix(f"{self.prefix}:")

    def is_valid(self, conversation: str) -> bool:
        return bool(self._valid.match(conversation))


TELEGRAM = Channel("tg", "telegram", "Telegram", "Telegram 用户", r"-?\d{1,20}",
                   text_limit=4096, callback_limit_bytes=64)
WEB = Channel("web", "web", "网页聊天", "网页访客", r"[0-9a-f-]{36}")

CHANNELS: dict[str, Channel] = {c.prefix: c for c in (TELEGRAM, WEB)}
"""Prefix → channel, for the channels the product delivers to."""

OTHER_ZH = "其他渠道"
"""The label of a conversation on no known channel (a ticket taken by phone, demo data)."""

CONVERSATION = re.compile("^(" + "|".join(f"{c.prefix}:{c.chat_id_pattern}"
                                          for c in CHANNELS.values()) + ")$")
"""A well-formed conversation id on a known channel."""


def prefix_of(conversation: str) -> str:
    """The part before the first colon (``demo`` for ``demo:1``), whatever the channel."""
    return conversation.split(":", 1)[0]


def channel_of(conversation: str | None) -> Channel | None:
    """The conversation's channel, None when it is on no channel the product delivers to."""
    if not conversation or ":" not in conversation:
        return None
    return CHANNELS.get(prefix_of(conversation))


def valid_conversation(conversation: str) -> bool:
    return bool(CONVERSATION.match(conversation))


def channel_zh(conversation: str, default: str = OTHER_ZH) -> str:
    """``Telegram`` / ``网页聊天`` for a conversation, ``default`` for any other."""
    channel = channel_of(conversation)
    return channel.zh if channel else default


def user_label(conversation: str) -> str:
    """A short name for a chat with no enterprise on file: 网页访客 33fdedbb / Telegram 用户 42."""
    prefix, _, ident = conversation.partition(":")
    if prefix == WEB.prefix:
        return f"{WEB.user_zh} {ident[:8]}"
    return f"{TELEGRAM.user_zh} {ident}"
