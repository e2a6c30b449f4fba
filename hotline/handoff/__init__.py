"""Conversation modes (handoff): who answers the enterprise, the bot or a human operator.

Modes: ``bot`` → ``queued`` (waiting for an operator; the enterprise is told its place in
the queue) → ``human`` (one operator owns the chat, the bot is silent) → ``bot`` again when
the operator hands back, or ``closed``. A conversation with no state is in ``bot`` mode.
A queued or human chat nobody answers goes back to the bot by :func:`release`: a
supervisor's force-release, its operator's deactivation, or the idle limit
(:func:`release_idle`, run periodically); the enterprise is told why.

Every transition is one function (:mod:`hotline.handoff.transitions`), and every one of
them runs the same Lua script:
inside one Redis call it checks the current mode against the allowed-from modes, writes the
new mode, keeps the queue and the per-operator index in step, clears the fallback counter
and appends an event. Nothing else writes the mode. Because the check and the write are one
script, two operators claiming the same chat at the same instant cannot both win: one gets
the chat, the other :class:`AlreadyClaimed` naming the owner.

Redis layout (all under ``hotline:handoff``, built by :mod:`hotline.redis_keys`):

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
The package: :mod:`~hotline.handoff.states` (modes, reasons, their Chinese labels, records,
refusals), :mod:`~hotline.handoff.transitions` (the one writer), :mod:`~hotline.handoff.queries`
(state, queue, wait, fallbacks, the queue notice), :mod:`~hotline.handoff.release` (releasing
chats nobody answers). Every name is importable from ``hotline.handoff``.
"""

from hotline.handoff.queries import (
    CANCEL_BUTTON,
    CANCEL_PAYLOAD,
    CANCEL_WORDS,
    estimated_wait,
    events,
    fallbacks,
    mode_from,
    mode_of,
    note_fallback,
    operators_busy,
    owned_by,
    owner_of,
    queue,
    queue_notice_zh,
    queue_position,
    reset_fallbacks,
    state_of,
    workloads,
)
from hotline.handoff.release import (
    SYSTEM,
    idle_chats,
    release_and_notify,
    release_idle,
    release_operator,
    released_notice_zh,
)
from hotline.handoff.states import (
    DEFAULT_AVG_HANDLE_S,
    EVENTS_KEY,
    EVENTS_MAXLEN,
    FALLBACK_LIMIT,
    FALLBACK_PREFIX,
    FALLBACK_TTL_S,
    MODE_ZH,
    OPERATOR_PREFIX,
    PREFIX,
    QUEUE_KEY,
    QUEUE_REASONS,
    REASON_ZH,
    RELEASE_REASONS,
    AlreadyClaimed,
    Event,
    InvalidHandoff,
    Mode,
    NotOwner,
    QueueEntry,
    Reason,
    State,
    state_key,
)
from hotline.handoff.transitions import (
    cancel,
    claim,
    close,
    hand_back,
    release,
    reopen,
    request_human,
)

__all__ = [
    "CANCEL_BUTTON", "CANCEL_PAYLOAD", "CANCEL_WORDS", "DEFAULT_AVG_HANDLE_S", "EVENTS_KEY",
    "EVENTS_MAXLEN", "FALLBACK_LIMIT", "FALLBACK_PREFIX", "FALLBACK_TTL_S", "MODE_ZH",
    "OPERATOR_PREFIX", "PREFIX", "QUEUE_KEY", "QUEUE_REASONS", "REASON_ZH", "RELEASE_REASONS",
    "SYSTEM", "AlreadyClaimed", "Event", "InvalidHandoff", "Mode", "NotOwner", "QueueEntry",
    "Reason", "State", "cancel", "claim", "close", "estimated_wait", "events", "fallbacks",
    "hand_back", "idle_chats", "mode_from", "mode_of", "note_fallback", "operators_busy", "owned_by",
    "owner_of", "queue", "queue_notice_zh", "queue_position", "release", "release_and_notify",
    "release_idle", "release_operator", "released_notice_zh", "reopen", "request_human",
    "reset_fallbacks", "state_key", "state_of", "workloads",
]
