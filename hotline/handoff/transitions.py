"""The one writer of conversation modes: a Lua script run by every transition.

Inside one Redis call the script checks the current mode against the allowed-from modes,
writes the new mode, keeps the queue and the per-operator index in step, clears the
fallback counter and appends an event. Because the check and the write are one script, two
operators claiming the same chat at the same instant cannot both win.
"""

from __future__ import annotations

from datetime import datetime

import redis

from hotline import redis_keys
from hotline.handoff.states import (
    EVENTS_KEY,
    EVENTS_MAXLEN,
    OPERATOR_PREFIX,
    QUEUE_KEY,
    QUEUE_REASONS,
    RELEASE_REASONS,
    AlreadyClaimed,
    Event,
    Mode,
    NotOwner,
    Reason,
    as_text,
    epoch_of,
    from_epoch,
    refusal,
    state_key,
)

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


def _transition(
    r: redis.Redis, conversation: str, action: str, allowed: tuple[Mode, ...], to: Mode,
    who: str, reason: str | tuple[str, ...], now: datetime | None, *, owner_only: bool = False,
) -> Event:
    """Run the transition script; ``reason`` may give one reason per allowed-from mode."""
    if not who:
        raise ValueError("who is empty")
    at = epoch_of(now)
    keys = [state_key(conversation), QUEUE_KEY, EVENTS_KEY, redis_keys.handoff_fallbacks(conversation)]
    reasons = reason if isinstance(reason, tuple) else (reason,)
    if any("," in x or not x for x in (*reasons, *allowed)):
        raise ValueError("reasons must be non-empty and contain no comma")
    args = [conversation, ",".join(allowed), to.value, who, ",".join(reasons), repr(at),
            "1" if owner_only else "0", OPERATOR_PREFIX, EVENTS_MAXLEN]
    result = r.register_script(_TRANSITION_LUA)(keys=keys, args=args)
    status, current, detail, *used = (as_text(x) for x in result)
    if status == "claimed":
        raise AlreadyClaimed(conversation, detail)
    if status == "not_owner":
        raise NotOwner(conversation, detail, who)
    if status == "invalid":
        raise refusal(conversation, action, Mode(current))
    return Event(detail, conversation, Mode(current), to, who, from_epoch(at), used[0])


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
