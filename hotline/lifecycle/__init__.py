"""Ticket lifecycle (诉求工单状态流转): one function per transition.

Why this module exists: the status of a ticket is a promise to an enterprise, so it must
move only along the hotline's path, leave an audit trail, and tell the enterprise — all in
the caller's transaction, so that a change is never recorded without its notification or
notified without being recorded::

    received ──dispatch──► dispatched ──take──► in_progress ──resolve(reply)──► resolved
                               ▲  │ (改派)          ▲                             │
                               └──┘                 │                  rate(满意/基本满意)
                                                 take                           ▼
                                                    │                         rated
                          reopened ◄── rate(不满意) / reopen ◄── resolved | rated

Every transition checks the set of statuses it may start from and raises
:class:`InvalidTransition` with a Chinese message that can be shown as is to an
enterprise (e.g. "工单尚未办结，暂不能评价") or a department's staff. Every transition
records a :class:`~hotline.models.TicketEvent` (who, when, from, to, note) and writes a
notification to the outbox (:mod:`hotline.outbox`) in the same session. Nothing commits
here: the caller's ``session_scope`` does, or rolls everything back.

Ratings (一事一评): one per resolution round. The round is ``ticket.reopen_count`` at
the time of the answer, so after a reopen the new answer can be rated again but the same
answer never twice. A rating of 不满意 reopens the ticket (重办): a new deadline from the
reopen time with the topic's working days, ``escalated`` set, ``reopen_count`` + 1.

The package: :mod:`~hotline.lifecycle.rules` (what each step may start from, the refusals),
:mod:`~hotline.lifecycle.transitions` (the staff's steps), :mod:`~hotline.lifecycle.ratings`
(the enterprise's rating). Every name is importable from ``hotline.lifecycle``.
"""

from hotline.lifecycle.ratings import RatingOutcome, clean_comment, parse_level, rate
from hotline.lifecycle.rules import (
    ALLOWED_FROM,
    ALREADY_RATED,
    COMMENT_MAX_CHARS,
    NOT_RESOLVED_FOR_RATING,
    REPLY_MAX_CHARS,
    STALE_RATING,
    AlreadyRated,
    InvalidInput,
    InvalidTransition,
    LifecycleError,
)
from hotline.lifecycle.transitions import (
    change_status,
    dispatch,
    reopen,
    resolve,
    start,
    take,
)

__all__ = [
    "ALLOWED_FROM", "ALREADY_RATED", "COMMENT_MAX_CHARS", "NOT_RESOLVED_FOR_RATING",
    "REPLY_MAX_CHARS", "STALE_RATING", "AlreadyRated", "InvalidInput", "InvalidTransition",
    "LifecycleError", "RatingOutcome", "change_status", "clean_comment", "dispatch",
    "parse_level", "rate", "reopen", "resolve", "start", "take",
]
