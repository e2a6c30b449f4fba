"""The vocabulary of conversation modes: modes, reasons and their Chinese labels, the records
the functions return, the refusals, and where the state lives in Redis."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum

from hotline import redis_keys

PREFIX = redis_keys.HANDOFF
QUEUE_KEY = redis_keys.HANDOFF_QUEUE
EVENTS_KEY = redis_keys.HANDOFF_EVENTS
OPERATOR_PREFIX = redis_keys.HANDOFF_OPERATOR
FALLBACK_PREFIX = redis_keys.HANDOFF_FALLBACKS
EVENTS_MAXLEN = 100_000  # approximate cap of the events stream (XADD MAXLEN ~)
FALLBACK_LIMIT = 2  # fallbacks in a row that send the chat to a human
FALLBACK_TTL_S = 3600  # a counter idle for this long starts again from zero
DEFAULT_AVG_HANDLE_S = 300.0


class Mode(StrEnum):
    BOT = "bot"
    QUEUED = "queued"
    HUMAN = "human"
    CLOSED = "closed"

    @property
    def zh(self) -> str:
        return MODE_ZH[self]


class Reason(StrEnum):
    """Why a transition happened (the ``reason`` of the state and of the event)."""

    # triggers of bot → queued (and of bot → human for operator_pick)
    REQUEST_HUMAN = "request_human"  # the enterprise asked (转人工)
    TWO_FALLBACKS = "two_fallbacks"  # the bot failed to understand twice in a row
    MISCONDUCT = "misconduct"  # a misconduct complaint goes straight to a person
    OPERATOR_PICK = "operator_pick"  # an operator picked the chat from the console
    # the other transitions
    CANCEL = "cancel"
    CLAIM = "claim"
    HAND_BACK = "hand_back"
    CLOSE = "close"
    REOPEN = "reopen"
    # queued | human → bot without the operator (see :func:`release`)
    FORCE_RELEASE = "force_release"  # a supervisor or admin freed the chat
    OPERATOR_GONE = "operator_gone"  # the owning operator's account was deactivated
    IDLE = "idle"  # waited or stayed silent past the idle limit (:func:`release_idle`)

    @property
    def zh(self) -> str:
        return REASON_ZH[self]


QUEUE_REASONS = frozenset(
    {Reason.REQUEST_HUMAN, Reason.TWO_FALLBACKS, Reason.MISCONDUCT, Reason.OPERATOR_PICK}
)
RELEASE_REASONS = frozenset({Reason.FORCE_RELEASE, Reason.OPERATOR_GONE, Reason.IDLE})
MODE_ZH = {Mode.BOT: "智能客服", Mode.QUEUED: "排队中", Mode.HUMAN: "人工服务中",
           Mode.CLOSED: "已结束"}
"""How a mode is called to operators and enterprises (the console, the group, refusals)."""
REASON_ZH = {
    "request_human": "企业要求转人工", "two_fallbacks": "机器人两次未能理解",
    "misconduct": "反映作风问题", "operator_pick": "客服主动接入", "claim": "客服接入",
    "cancel": "企业取消排队", "hand_back": "交回智能客服", "close": "会话结束",
    "reopen": "企业再次咨询", "force_release": "督办强制释放", "operator_gone": "接待客服已停用",
    "idle": "超时无人应答",
}
"""Why a chat changed mode, in Chinese (keyed by the reason's value, as stored)."""


# --- errors -------------------------------------------------------------------------------


class InvalidHandoff(Exception):
    """A transition not allowed from the conversation's current mode.

    ``str(error)`` is a Chinese sentence fit to show an operator or the enterprise.
    """

    def __init__(self, conversation: str, action: str, current: Mode, message: str) -> None:
        super().__init__(message)
        self.conversation = conversation
        self.action = action
        self.current = current
        self.message = message


class AlreadyClaimed(InvalidHandoff):
    """Another operator (``owner``) already owns the chat; raised by :func:`claim`."""

    def __init__(self, conversation: str, owner: str) -> None:
        super().__init__(conversation, "claim", Mode.HUMAN,
                         f"该会话已由客服 {owner} 接待，不能重复接入。")
        self.owner = owner


class NotOwner(InvalidHandoff):
    """Only the operator who owns the chat may hand it back; raised by :func:`hand_back`."""

    def __init__(self, conversation: str, owner: str, operator: str) -> None:
        super().__init__(conversation, "hand_back", Mode.HUMAN,
                         f"该会话由客服 {owner} 接待，{operator} 无权交回智能客服。")
        self.owner = owner
        self.operator = operator


_REFUSALS: dict[tuple[str, Mode], str] = {
    ("request_human", Mode.QUEUED): "您已在排队等待人工客服，请稍候。",
    ("request_human", Mode.HUMAN): "您已接入人工客服，请直接留言。",
    ("request_human", Mode.CLOSED): "该会话已结束，如需帮助请重新发起咨询。",
    ("cancel", Mode.BOT): "您当前没有在排队等待人工客服。",
    ("cancel", Mode.HUMAN): "人工客服已接入，无法取消排队。",
    ("cancel", Mode.CLOSED): "该会话已结束。",
    ("claim", Mode.CLOSED): "该会话已结束，不能接入。",
    ("hand_back", Mode.BOT): "该会话当前由智能客服应答，无需交回。",
    ("hand_back", Mode.QUEUED): "该会话仍在排队，尚未由人工接待。",
    ("hand_back", Mode.CLOSED): "该会话已结束。",
    ("close", Mode.CLOSED): "该会话已结束。",
    ("release", Mode.BOT): "该会话当前由智能客服应答，无需释放。",
    ("release", Mode.QUEUED): "该会话已回到排队状态，未释放。",
    ("release", Mode.HUMAN): "该会话已由客服接入，未释放。",
    ("release", Mode.CLOSED): "该会话已结束。",
}


def refusal(conversation: str, action: str, current: Mode) -> InvalidHandoff:
    message = _REFUSALS.get(
        (action, current), f"当前会话状态为「{current.zh}」，不能执行该操作。"
    )
    return InvalidHandoff(conversation, action, current, message)


# --- records ------------------------------------------------------------------------------


@dataclass(frozen=True)
class State:
    conversation: str
    mode: Mode
    operator: str | None  # the owner while mode is human
    since: datetime | None  # None for a conversation that never left the default bot mode
    reason: str | None


@dataclass(frozen=True)
class Event:
    id: str  # the stream entry id (orders events)
    conversation: str
    from_mode: Mode
    to_mode: Mode
    who: str
    at: datetime
    reason: str


@dataclass(frozen=True)
class QueueEntry:
    conversation: str
    position: int  # 1-based
    enqueued_at: datetime
    waited: timedelta
    reason: str | None


# --- keys and times -----------------------------------------------------------------------

_RESERVED = ("queue", "events")
_RESERVED_PREFIXES = ("operator:", "fallbacks:")


def state_key(conversation: str) -> str:
    if (not conversation or conversation in _RESERVED
            or conversation.startswith(_RESERVED_PREFIXES)):
        raise ValueError(f"invalid conversation id: {conversation!r}")
    return redis_keys.handoff_state(conversation)


def epoch_of(now: datetime | None) -> float:
    if now is None:
        return datetime.now(timezone.utc).timestamp()
    if now.tzinfo is None or now.utcoffset() is None:
        now = now.replace(tzinfo=timezone.utc)  # naive = UTC (project rule)
    return now.timestamp()


def from_epoch(epoch: float | bytes | str) -> datetime:
    return datetime.fromtimestamp(float(epoch), timezone.utc)


def as_text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
