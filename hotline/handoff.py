"""Conversation modes (handoff): who answers the enterprise, the bot or a human operator.

Modes: ``bot`` → ``queued`` (waiting for an operator; the enterprise is told its place in
the queue) → ``human`` (one operator owns the chat, the bot is silent) → ``bot`` again when
the operator hands back, or ``closed``. A conversation with no state is in ``bot`` mode.
A queued or human chat nobody answers goes back to the bot by :func:`release`: a
supervisor's force-release, its operator's deactivation, or the idle limit
(:func:`release_idle`, run periodically); the enterprise is told why.

Every transition is one function below, and every one of them runs the same Lua script:
inside one Redis call it checks the current mode against the allowed-from modes, writes the
new mode, keeps the queue and the per-operator index in step, clears the fallback counter
and appends an event. Nothing else writes the mode. Because the check and the write are one
script, two operators claiming the same chat at the same instant cannot both win: one gets
the chat, the other :class:`AlreadyClaimed` naming the owner.

Redis layout (all under ``hotline:handoff``):

- ``hotline:handoff:<conversation>``: hash ``mode``, ``operator`` (empty unless ``human``),
  ``since`` (epoch seconds, float), ``reason``;
- ``hotline:handoff:queue``: sorted set of queued conversations, scored by enqueue time;
- ``hotline:handoff:operator:<operator>``: set of conversations the operator owns;
- ``hotline:handoff:fallbacks:<conversation>``: consecutive-fallback counter (expires);
- ``hotline:handoff:events``: stream, one entry per transition: ``conversation``, ``from``,
  ``to``, ``who``, ``at`` (epoch seconds), ``reason``.

Times: every function takes ``now`` (default: the current time); a naive datetime is UTC, as
everywhere in the project. Returned datetimes are aware UTC.

The script derives the operator-index key from its arguments, so it assumes one Redis
instance (no Redis Cluster), like the rest of the project.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum

import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hotline import outbox
from hotline.db import session_scope
from hotline.models import TranscriptMessage

PREFIX = "hotline:handoff"
QUEUE_KEY = f"{PREFIX}:queue"
EVENTS_KEY = f"{PREFIX}:events"
OPERATOR_PREFIX = f"{PREFIX}:operator:"
FALLBACK_PREFIX = f"{PREFIX}:fallbacks:"
EVENTS_MAXLEN = 100_000  # approximate cap of the events stream (XADD MAXLEN ~)
FALLBACK_LIMIT = 2  # fallbacks in a row that send the chat to a human
FALLBACK_TTL_S = 3600  # a counter idle for this long starts again from zero
DEFAULT_AVG_HANDLE_S = 300.0


class Mode(StrEnum):
    BOT = "bot"
    QUEUED = "queued"
    HUMAN = "human"
    CLOSED = "closed"


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


QUEUE_REASONS = frozenset(
    {Reason.REQUEST_HUMAN, Reason.TWO_FALLBACKS, Reason.MISCONDUCT, Reason.OPERATOR_PICK}
)
RELEASE_REASONS = frozenset({Reason.FORCE_RELEASE, Reason.OPERATOR_GONE, Reason.IDLE})

_MODE_ZH = {Mode.BOT: "智能客服", Mode.QUEUED: "排队等待人工", Mode.HUMAN: "人工服务中",
            Mode.CLOSED: "已结束"}


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


def _refusal(conversation: str, action: str, current: Mode) -> InvalidHandoff:
    message = _REFUSALS.get(
        (action, current), f"当前会话状态为「{_MODE_ZH[current]}」，不能执行该操作。"
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


# --- the one writer -----------------------------------------------------------------------

# KEYS: state hash, queue, events, fallbacks
# ARGV: conversation, allowed-from (comma list), to, who, reasons (comma list aligned with
#       allowed-from, or one for all), now, owner-only ("1"/"0"), operator-index prefix,
#       events maxlen
_TRANSITION_LUA = """
local state, queue, events, fallbacks = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local conv, allowed, to, who, reasons, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local owner_only, op_prefix, maxlen = ARGV[7], ARGV[8], ARGV[9]
local cur = redis.call('HGET', state, 'mode') or 'bot'
local owner = redis.call('HGET', state, 'operator') or ''
if to == 'human' and cur == 'human' then
  return {'claimed', cur, owner}
end
local reason_list = {}
for x in string.gmatch(reasons, '[^,]+') do table.insert(reason_list, x) end
local reason = false
local i = 0
for m in string.gmatch(allowed, '[^,]+') do
  i = i + 1
  if m == cur then reason = reason_list[i] or reason_list[1] end
end
if not reason then return {'invalid', cur, owner} end
if owner_only == '1' and owner ~= '' and owner ~= who then return {'not_owner', cur, owner} end
local new_owner = ''
if to == 'human' then new_owner = who end
redis.call('HSET', state, 'mode', to, 'operator', new_owner, 'since', now, 'reason', reason)
if to == 'queued' then
  redis.call('ZADD', queue, now, conv)
else
  redis.call('ZREM', queue, conv)
end
if owner ~= '' then redis.call('SREM', op_prefix .. owner, conv) end
if new_owner ~= '' then redis.call('SADD', op_prefix .. new_owner, conv) end
redis.call('DEL', fallbacks)
local id = redis.call('XADD', events, 'MAXLEN', '~', maxlen, '*', 'conversation', conv,
  'from', cur, 'to', to, 'who', who, 'at', now, 'reason', reason)
return {'ok', cur, id, reason}
"""


_RESERVED = ("queue", "events")
_RESERVED_PREFIXES = ("operator:", "fallbacks:")


def _state_key(conversation: str) -> str:
    if (not conversation or conversation in _RESERVED
            or conversation.startswith(_RESERVED_PREFIXES)):
        raise ValueError(f"invalid conversation id: {conversation!r}")
    return f"{PREFIX}:{conversation}"


def _epoch(now: datetime | None) -> float:
    if now is None:
        return datetime.now(timezone.utc).timestamp()
    if now.tzinfo is None or now.utcoffset() is None:
        now = now.replace(tzinfo=timezone.utc)  # naive = UTC (project rule)
    return now.timestamp()


def _dt(epoch: float | bytes | str) -> datetime:
    return datetime.fromtimestamp(float(epoch), timezone.utc)


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _transition(
    r: redis.Redis, conversation: str, action: str, allowed: tuple[Mode, ...], to: Mode,
    who: str, reason: str | tuple[str, ...], now: datetime | None, *, owner_only: bool = False,
) -> Event:
    """Run the transition script; ``reason`` may give one reason per allowed-from mode."""
    if not who:
        raise ValueError("who is empty")
    at = _epoch(now)
    keys = [_state_key(conversation), QUEUE_KEY, EVENTS_KEY, FALLBACK_PREFIX + conversation]
    reasons = reason if isinstance(reason, tuple) else (reason,)
    if any("," in x or not x for x in (*reasons, *allowed)):
        raise ValueError("reasons must be non-empty and contain no comma")
    args = [conversation, ",".join(allowed), to.value, who, ",".join(reasons), repr(at),
            "1" if owner_only else "0", OPERATOR_PREFIX, EVENTS_MAXLEN]
    result = r.register_script(_TRANSITION_LUA)(keys=keys, args=args)
    status, current, detail, *used = (_s(x) for x in result)
    if status == "claimed":
        raise AlreadyClaimed(conversation, detail)
    if status == "not_owner":
        raise NotOwner(conversation, detail, who)
    if status == "invalid":
        raise _refusal(conversation, action, Mode(current))
    return Event(detail, conversation, Mode(current), to, who, _dt(at), used[0])


# --- transitions --------------------------------------------------------------------------


def request_human(
    r: redis.Redis, conversation: str, reason: Reason | str = Reason.REQUEST_HUMAN, *,
    who: str = "enterprise", now: datetime | None = None,
) -> Event:
    """bot → queued: put the chat in the operator queue (at the back)."""
    reason = Reason(reason)
    if reason not in QUEUE_REASONS:
        raise ValueError(f"not a reason to queue a chat: {reason}")
    return _transition(r, conversation, "request_human", (Mode.BOT,), Mode.QUEUED, who,
                       reason.value, now)


def cancel(
    r: redis.Redis, conversation: str, *, who: str = "enterprise", now: datetime | None = None
) -> Event:
    """queued → bot: the enterprise stops waiting."""
    return _transition(r, conversation, "cancel", (Mode.QUEUED,), Mode.BOT, who,
                       Reason.CANCEL.value, now)


def claim(
    r: redis.Redis, conversation: str, operator: str, *, now: datetime | None = None
) -> Event:
    """queued | bot → human: ``operator`` takes the chat (from bot: reason operator_pick).

    Atomic: of operators claiming the same chat concurrently exactly one wins; the others
    get :class:`AlreadyClaimed` naming the owner (also when the owner claims again).
    """
    return _transition(r, conversation, "claim", (Mode.QUEUED, Mode.BOT), Mode.HUMAN, operator,
                       (Reason.CLAIM.value, Reason.OPERATOR_PICK.value), now)


def hand_back(
    r: redis.Redis, conversation: str, operator: str, *, now: datetime | None = None
) -> Event:
    """human → bot: only the owning operator may hand the chat back to the bot."""
    return _transition(r, conversation, "hand_back", (Mode.HUMAN,), Mode.BOT, operator,
                       Reason.HAND_BACK.value, now, owner_only=True)


def close(
    r: redis.Redis, conversation: str, who: str, *, reason: str = Reason.CLOSE.value,
    now: datetime | None = None, owner_only: bool = False,
) -> Event:
    """bot | queued | human → closed (by the enterprise, an operator or the system).

    ``owner_only``: a chat with a person may be closed only by that person (:class:`NotOwner`
    otherwise), checked in the same atomic step as the close."""
    return _transition(r, conversation, "close", (Mode.BOT, Mode.QUEUED, Mode.HUMAN),
                       Mode.CLOSED, who, reason, now, owner_only=owner_only)


def release(
    r: redis.Redis, conversation: str, who: str, *,
    reason: Reason | str = Reason.FORCE_RELEASE, only_from: Mode | None = None,
    now: datetime | None = None,
) -> Event:
    """queued | human → bot without the owner: force-release, owner gone, idle limit.

    ``only_from`` narrows the allowed mode (the idle sweep releases a chat only in the mode
    it found it in, never one an operator took meanwhile).
    """
    reason = Reason(reason)
    if reason not in RELEASE_REASONS:
        raise ValueError(f"not a reason to release a chat: {reason}")
    allowed = (only_from,) if only_from is not None else (Mode.QUEUED, Mode.HUMAN)
    if any(m not in (Mode.QUEUED, Mode.HUMAN) for m in allowed):
        raise ValueError(f"only queued or human chats are released, not {only_from}")
    return _transition(r, conversation, "release", allowed, Mode.BOT, who, reason.value, now)


def reopen(
    r: redis.Redis, conversation: str, *, who: str = "enterprise", now: datetime | None = None
) -> Event:
    """closed → bot: the enterprise writes again after the conversation was closed."""
    return _transition(r, conversation, "reopen", (Mode.CLOSED,), Mode.BOT, who,
                       Reason.REOPEN.value, now)


# --- queries ------------------------------------------------------------------------------


def state_of(r: redis.Redis, conversation: str) -> State:
    raw = {_s(k): _s(v) for k, v in r.hgetall(_state_key(conversation)).items()}
    if not raw:
        return State(conversation, Mode.BOT, None, None, None)
    return State(conversation, Mode(raw["mode"]), raw.get("operator") or None,
                 _dt(raw["since"]), raw.get("reason") or None)


def mode_of(r: redis.Redis, conversation: str) -> Mode:
    raw = r.hget(_state_key(conversation), "mode")
    return Mode(_s(raw)) if raw is not None else Mode.BOT


def owner_of(r: redis.Redis, conversation: str) -> str | None:
    """The operator owning the chat (only while it is in human mode)."""
    raw = r.hget(_state_key(conversation), "operator")
    return _s(raw) or None if raw is not None else None


def queue_position(r: redis.Redis, conversation: str) -> int | None:
    """1-based place in the queue, None when the chat is not queued."""
    rank = r.zrank(QUEUE_KEY, conversation)
    return None if rank is None else int(rank) + 1


def queue(r: redis.Redis, *, now: datetime | None = None) -> list[QueueEntry]:
    """The waiting chats, longest-waiting first, with how long each has waited."""
    at = _epoch(now)
    entries = r.zrange(QUEUE_KEY, 0, -1, withscores=True)
    with r.pipeline(transaction=False) as pipe:
        for member, _ in entries:
            pipe.hget(_state_key(_s(member)), "reason")
        reasons = pipe.execute()
    return [
        QueueEntry(_s(member), i, _dt(score), timedelta(seconds=max(0.0, at - score)),
                   _s(reason) if reason is not None else None)
        for i, ((member, score), reason) in enumerate(zip(entries, reasons, strict=True),
                                                      start=1)
    ]


def estimated_wait(
    r: redis.Redis, conversation: str, *, avg_handle_s: float = DEFAULT_AVG_HANDLE_S,
    operators: int = 1,
) -> timedelta | None:
    """Rough wait before an operator takes the chat, None when it is not queued.

    ``ceil(position / operators) * avg_handle_s``: each of ``operators`` busy operators
    frees up after about one average handling time. A guess to tell the enterprise, rounded
    up to whole minutes.
    """
    if avg_handle_s < 0 or operators < 1:
        raise ValueError("avg_handle_s must be >= 0 and operators >= 1")
    position = queue_position(r, conversation)
    if position is None:
        return None
    seconds = math.ceil(position / operators) * avg_handle_s
    return timedelta(minutes=math.ceil(seconds / 60))


def owned_by(r: redis.Redis, operator: str) -> list[str]:
    """The conversations ``operator`` currently owns, sorted."""
    return sorted(_s(m) for m in r.smembers(OPERATOR_PREFIX + operator))


def events(
    r: redis.Redis, conversation: str | None = None, *, count: int | None = None
) -> list[Event]:
    """Recorded transitions, oldest first; only ``conversation``'s when given.

    Filtering by conversation reads the whole stream: fine for a console or a test, not for
    a hot path.
    """
    out: list[Event] = []
    for entry_id, fields in r.xrange(EVENTS_KEY):
        f = {_s(k): _s(v) for k, v in fields.items()}
        if conversation is not None and f["conversation"] != conversation:
            continue
        out.append(Event(_s(entry_id), f["conversation"], Mode(f["from"]), Mode(f["to"]),
                         f["who"], _dt(f["at"]), f["reason"]))
    return out[-count:] if count else out


# --- fallbacks ----------------------------------------------------------------------------


def note_fallback(r: redis.Redis, conversation: str) -> int:
    """Count one more fallback in a row; returns the count (>= FALLBACK_LIMIT: hand off).

    Any transition and :func:`reset_fallbacks` (call it on every understood message) start
    the count again.
    """
    key = FALLBACK_PREFIX + conversation
    with r.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, FALLBACK_TTL_S)
        count, _ = pipe.execute()
    return int(count)


def reset_fallbacks(r: redis.Redis, conversation: str) -> None:
    r.delete(FALLBACK_PREFIX + conversation)


def fallbacks(r: redis.Redis, conversation: str) -> int:
    raw = r.get(FALLBACK_PREFIX + conversation)
    return int(raw) if raw is not None else 0


# --- what the enterprise is told ------------------------------------------------------------

CANCEL_PAYLOAD = "/cancel_handoff"  # the 取消排队 button; the gateway handles it in every mode
CANCEL_BUTTON = {"title": "取消排队", "payload": CANCEL_PAYLOAD}
CANCEL_WORDS = frozenset({"取消", "取消排队", "不等了", "取消人工", "取消转人工"})


def workloads(r: redis.Redis) -> dict[str, int]:
    """Operator → number of chats owned now, for everyone owning at least one."""
    out = {}
    for key in r.scan_iter(match=OPERATOR_PREFIX + "*", count=500):
        count = int(r.scard(key))
        if count:
            out[_s(key).removeprefix(OPERATOR_PREFIX)] = count
    return out


def operators_busy(r: redis.Redis) -> int:
    """How many operators own at least one chat now (at least 1, for the wait guess)."""
    return max(1, len(workloads(r)))


def queue_notice_zh(r: redis.Redis, conversation: str, *, avg_handle_s: float,
                    first: bool) -> str:
    """``"已为您转接人工客服，您前面还有 2 位，预计等待约 10 分钟……"``."""
    position = queue_position(r, conversation)
    if position is None:
        return "您当前没有在排队等待人工客服。"
    wait = estimated_wait(r, conversation, avg_handle_s=avg_handle_s,
                          operators=operators_busy(r))
    minutes = max(1, int((wait or timedelta()).total_seconds() // 60))
    ahead = f"您前面还有 {position - 1} 位" if position > 1 else "您是下一位"
    head = "已为您转接人工客服" if first else "您正在排队等待人工客服"
    return (f"{head}，{ahead}，预计等待约 {minutes} 分钟。排队期间您可以继续留言或发送图片、"
            f"文件，客服接入后会一并看到。发送“取消”可退出排队。")


# --- releasing chats nobody answers -------------------------------------------------------------

SYSTEM = "system"  # the ``who`` of releases nobody made by hand

_RELEASED_ZH = {
    (Reason.IDLE, Mode.QUEUED): "很抱歉，人工客服暂时都在忙，您已等待较长时间。智能客服继续为您服务："
                                "您可以直接描述诉求，我们登记工单后由承办部门联系您；"
                                "稍后也可以再次发送“转人工”。",
    (Reason.IDLE, Mode.HUMAN): "本次人工服务因较长时间没有新消息已自动结束，智能客服继续为您服务。"
                               "如需人工服务，请再次发送“转人工”。",
}
_RELEASED_DEFAULT_ZH = ("人工客服暂时无法继续接待，智能客服继续为您服务。如需人工服务，请再次发送"
                        "“转人工”；您也可以直接描述诉求，我们登记工单后由承办部门联系您。")


def released_notice_zh(event: Event) -> str:
    """What the enterprise is told when :func:`release` gave its chat back to the bot."""
    return _RELEASED_ZH.get((Reason(event.reason), event.from_mode), _RELEASED_DEFAULT_ZH)


def release_and_notify(
    r: redis.Redis, session: Session, conversation: str, who: str, *,
    reason: Reason | str = Reason.FORCE_RELEASE, only_from: Mode | None = None,
    now: datetime | None = None,
) -> Event:
    """:func:`release` and tell the enterprise through the outbox (in ``session``)."""
    event = release(r, conversation, who, reason=reason, only_from=only_from, now=now)
    outbox.enqueue(session, conversation, "handoff.released", released_notice_zh(event), now=now)
    return event


def release_operator(r: redis.Redis, session: Session, operator: str, who: str, *,
                     now: datetime | None = None) -> list[str]:
    """Give every chat ``operator`` owns back to the bot (their account was deactivated)."""
    released = []
    for conversation in owned_by(r, operator):
        try:
            release_and_notify(r, session, conversation, who, reason=Reason.OPERATOR_GONE,
                               only_from=Mode.HUMAN, now=now)
        except InvalidHandoff:
            continue  # handed back or closed meanwhile
        released.append(conversation)
    return released


def _last_activity(session: Session, conversations: list[str]) -> dict[str, datetime]:
    """The time of each conversation's latest transcript line (either side)."""
    if not conversations:
        return {}
    rows = session.execute(
        select(TranscriptMessage.conversation_id, func.max(TranscriptMessage.at))
        .where(TranscriptMessage.conversation_id.in_(conversations))
        .group_by(TranscriptMessage.conversation_id)
    ).all()
    out = {}
    for conversation, at in rows:
        if at is not None:
            out[conversation] = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
    return out


def idle_chats(r: redis.Redis, session: Session, *, queued_after_s: float,
               human_after_s: float, now: datetime | None = None) -> list[tuple[str, Mode]]:
    """Chats queued longer than ``queued_after_s`` with nobody taking them, and human chats
    with no message either way for ``human_after_s`` (a limit of 0 or less: never)."""
    at = _epoch(now)
    found: list[tuple[str, Mode]] = []
    if queued_after_s > 0:
        found += [(_s(m), Mode.QUEUED)
                  for m in r.zrangebyscore(QUEUE_KEY, "-inf", at - queued_after_s)]
    if human_after_s > 0:
        owned = sorted({c for operator in workloads(r) for c in owned_by(r, operator)})
        last = _last_activity(session, owned)
        for conversation in owned:
            state = state_of(r, conversation)
            if state.mode is not Mode.HUMAN or state.since is None:
                continue
            latest = max(state.since.timestamp(),
                         last[conversation].timestamp() if conversation in last else 0.0)
            if latest <= at - human_after_s:
                found.append((conversation, Mode.HUMAN))
    return found


def release_idle(r: redis.Redis, db_url: str, *, queued_after_s: float, human_after_s: float,
                 now: datetime | None = None) -> list[str]:
    """Give idle queued and human chats back to the bot, telling each enterprise why.

    The periodic housekeeping of the process that delivers the outbox calls this (then tells
    the dialogue engine each returned chat is the bot's again, as after a hand-back).
    Returns the released conversations.
    """
    released = []
    with session_scope(db_url) as session:
        for conversation, mode in idle_chats(r, session, queued_after_s=queued_after_s,
                                              human_after_s=human_after_s, now=now):
            try:
                release_and_notify(r, session, conversation, SYSTEM, reason=Reason.IDLE,
                                   only_from=mode, now=now)
            except InvalidHandoff:
                continue  # taken, handed back or closed meanwhile
            released.append(conversation)
    return released
