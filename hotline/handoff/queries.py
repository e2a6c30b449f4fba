"""Reading conversation modes: a chat's state, the queue and the wait, who owns what, the
event log, the fallback counter, and what a queued enterprise is told."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import redis

from hotline import redis_keys
from hotline.handoff.states import (
    DEFAULT_AVG_HANDLE_S,
    EVENTS_KEY,
    FALLBACK_TTL_S,
    OPERATOR_PREFIX,
    QUEUE_KEY,
    Event,
    Mode,
    QueueEntry,
    State,
    as_text,
    epoch_of,
    from_epoch,
    state_key,
)

# --- queries ------------------------------------------------------------------------------


def state_of(r: redis.Redis, conversation: str) -> State:
    raw = {as_text(k): as_text(v) for k, v in r.hgetall(state_key(conversation)).items()}
    if not raw:
        return State(conversation, Mode.BOT, None, None, None)
    return State(conversation, Mode(raw["mode"]), raw.get("operator") or None,
                 from_epoch(raw["since"]), raw.get("reason") or None)


def mode_of(r: redis.Redis, conversation: str) -> Mode:
    return mode_from(r.hget(state_key(conversation), "mode"))


def mode_from(raw: bytes | str | None) -> Mode:
    """The mode of a state hash's ``mode`` field as ``HGET`` returned it (``None``: no state,
    the bot's): for callers that read it in a pipeline of their own, beside other commands."""
    return Mode(as_text(raw)) if raw is not None else Mode.BOT


def owner_of(r: redis.Redis, conversation: str) -> str | None:
    """The operator owning the chat (only while it is in human mode)."""
    raw = r.hget(state_key(conversation), "operator")
    return as_text(raw) or None if raw is not None else None


def queue_position(r: redis.Redis, conversation: str) -> int | None:
    """1-based place in the queue, None when the chat is not queued."""
    rank = r.zrank(QUEUE_KEY, conversation)
    return None if rank is None else int(rank) + 1


def queue(r: redis.Redis, *, now: datetime | None = None) -> list[QueueEntry]:
    """The waiting chats, longest-waiting first, with how long each has waited."""
    at = epoch_of(now)
    entries = r.zrange(QUEUE_KEY, 0, -1, withscores=True)
    with r.pipeline(transaction=False) as pipe:
        for member, _ in entries:
            pipe.hget(state_key(as_text(member)), "reason")
        reasons = pipe.execute()
    return [
        QueueEntry(as_text(member), i, from_epoch(score), timedelta(seconds=max(0.0, at - score)),
                   as_text(reason) if reason is not None else None)
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
    return sorted(as_text(m) for m in r.smembers(redis_keys.handoff_operator(operator)))


def events(
    r: redis.Redis, conversation: str | None = None, *, count: int | None = None
) -> list[Event]:
    """Recorded transitions, oldest first; only ``conversation``'s when given.

    Filtering by conversation reads the whole stream: fine for a console or a test, not for
    a hot path.
    """
    out: list[Event] = []
    for entry_id, fields in r.xrange(EVENTS_KEY):
        f = {as_text(k): as_text(v) for k, v in fields.items()}
        if conversation is not None and f["conversation"] != conversation:
            continue
        out.append(Event(as_text(entry_id), f["conversation"], Mode(f["from"]), Mode(f["to"]),
                         f["who"], from_epoch(f["at"]), f["reason"]))
    return out[-count:] if count else out


# --- fallbacks ----------------------------------------------------------------------------


def note_fallback(r: redis.Redis, conversation: str) -> int:
    """Count one more fallback in a row; returns the count (>= FALLBACK_LIMIT: hand off).

    Any transition and :func:`reset_fallbacks` (call it on every understood message) start
    the count again.
    """
    key = redis_keys.handoff_fallbacks(conversation)
    with r.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, FALLBACK_TTL_S)
        count, _ = pipe.execute()
    return int(count)


def reset_fallbacks(r: redis.Redis, conversation: str) -> None:
    r.delete(redis_keys.handoff_fallbacks(conversation))


def fallbacks(r: redis.Redis, conversation: str) -> int:
    raw = r.get(redis_keys.handoff_fallbacks(conversation))
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
            out[as_text(key).removeprefix(OPERATOR_PREFIX)] = count
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
