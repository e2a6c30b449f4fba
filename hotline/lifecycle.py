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
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline import outbox, routing, sla
from hotline.models import (
    Department,
    Rating,
    RatingLevel,
    ReplyCheck,
    Ticket,
    TicketEvent,
    TicketStatus,
)
from hotline.settings import get_settings

S = TicketStatus
logger = logging.getLogger(__name__)

REPLY_MAX_CHARS = 3000
"""A department's written reply: long enough for a reasoned answer, short enough to reach
the enterprise in one Telegram message (4096) together with the ticket header."""

COMMENT_MAX_CHARS = 500
"""An enterprise's comment with its rating (stored raw; escape it when rendering HTML)."""


class LifecycleError(Exception):
    """Base of the lifecycle's refusals; ``message`` is Chinese, fit to show to people."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidTransition(LifecycleError):
    """The ticket's current status does not allow this step (HTTP 409 in the console)."""


class AlreadyRated(InvalidTransition):
    """This resolution has been rated already (一事一评)."""


class InvalidInput(LifecycleError, ValueError):
    """The step is allowed but its input is not (empty reply, over-long comment …)."""


ALREADY_RATED = "您已评价过该工单，感谢您的反馈。"
NOT_RESOLVED_FOR_RATING = "工单尚未办结，暂不能评价。"
STALE_RATING = "这个评价按钮对应的是之前的办理结果，请对最新的办理答复进行评价。"

# What each step may start from.
ALLOWED_FROM: dict[str, frozenset[TicketStatus]] = {
    "dispatch": frozenset({S.RECEIVED, S.DISPATCHED, S.REOPENED}),
    "take": frozenset({S.DISPATCHED, S.REOPENED}),
    "resolve": frozenset({S.IN_PROGRESS}),
    "rate": frozenset({S.RESOLVED}),
    "reopen": frozenset({S.RESOLVED, S.RATED}),
}

# Refusals that deserve a specific explanation; the rest get a generic sentence.
_REFUSALS: dict[tuple[str, TicketStatus], str] = {
    ("take", S.IN_PROGRESS): "工单已签收，正在办理中，无需重复签收。",
    ("take", S.RECEIVED): "工单尚未分派到承办部门，暂不能签收。",
    ("resolve", S.DISPATCHED): "工单尚未签收，请先签收再填写答复办结。",
    ("resolve", S.REOPENED): "工单已转重办，请先签收再填写答复办结。",
    ("resolve", S.RECEIVED): "工单尚未分派到承办部门，暂不能办结。",
    ("dispatch", S.IN_PROGRESS): "工单已由承办部门签收办理，不能再改派。",
    ("rate", S.RATED): ALREADY_RATED,
}
_ACTION_ZH = {
    "dispatch": "分派",
    "take": "签收",
    "resolve": "办结",
    "rate": "评价",
    "reopen": "重办",
}


def _refusal(action: str, ticket: Ticket) -> InvalidTransition:
    current = S(ticket.status)
    if action == "rate":
        return InvalidTransition(_REFUSALS.get((action, current), NOT_RESOLVED_FOR_RATING))
    if action == "reopen" and current not in (S.RESOLVED, S.RATED):
        return InvalidTransition(f"工单{ticket.number}尚未办结（当前：{current.zh}），不能申请重办。")
    specific = _REFUSALS.get((action, current))
    if specific:
        return InvalidTransition(specific)
    return InvalidTransition(
        f"工单{ticket.number}当前状态为“{current.zh}”，不能{_ACTION_ZH[action]}。"
    )


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(timezone.utc)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now


def _move(
    session: Session,
    ticket: Ticket,
    action: str,
    to: TicketStatus,
    *,
    actor: str,
    now: datetime,
    note: str | None,
    notify: bool = True,
) -> TicketEvent:
    """Check, move, record the event and queue the notification (no commit).

    ``notify=False`` when the enterprise caused the change in its own chat and is told
    there at once: the same news twice is noise.
    """
    current = S(ticket.status)
    if current not in ALLOWED_FROM[action]:
        raise _refusal(action, ticket)
    ticket.status = to.value
    event = TicketEvent(
        ticket_id=ticket.id, at=now, actor=actor, from_status=current.value,
        to_status=to.value, note=note,
    )
    session.add(event)
    session.flush()
    if notify:
        outbox.notify_ticket(session, ticket, event, now=now)
    return event


def dispatch(
    session: Session,
    ticket: Ticket,
    department: Department,
    *,
    actor: str = "system:routing",
    now: datetime | None = None,
    note: str | None = None,
    notify: bool = True,
) -> TicketEvent:
    """Send the ticket to ``department`` (即分); also 改派 of a dispatched or reopened one."""
    now = _now(now)
    if S(ticket.status) not in ALLOWED_FROM["dispatch"]:
        raise _refusal("dispatch", ticket)
    if S(ticket.status) is S.DISPATCHED and ticket.department_id == department.id:
        raise InvalidTransition(f"工单已分派至{department.name}，无需重复分派。")
    redispatch = S(ticket.status) is not S.RECEIVED
    ticket.department_id = department.id
    ticket.department = department
    default = f"{'改派' if redispatch else '分派'}至{department.name}"
    return _move(session, ticket, "dispatch", S.DISPATCHED, actor=actor, now=now,
                 note=f"{default}：{note}" if note else default, notify=notify)


def take(
    session: Session,
    ticket: Ticket,
    *,
    actor: str,
    now: datetime | None = None,
    note: str | None = None,
) -> TicketEvent:
    """The department signs for the ticket (签收) and starts handling it."""
    now = _now(now)
    return _move(session, ticket, "take", S.IN_PROGRESS, actor=actor, now=now,
                 note=note or "签收办理")


start = take
"""Alias: some callers think of it as starting the work rather than signing for it."""


def resolve(
    session: Session,
    ticket: Ticket,
    reply: str,
    *,
    actor: str,
    now: datetime | None = None,
    warnings_shown: bool = False,
) -> TicketEvent:
    """办结 with the department's written reply, which the enterprise then rates.

    The reply is also kept in the event's note, so a later reopen does not erase it. The
    reply check's warnings (:mod:`hotline.reply_check`) are stored with it; ``warnings_shown``
    says the writer saw them before sending (the console shows them first).
    """
    now = _now(now)
    if S(ticket.status) not in ALLOWED_FROM["resolve"]:
        raise _refusal("resolve", ticket)
    text = (reply or "").strip()
    if not text:
        raise InvalidInput("办结须填写书面答复意见，答复内容不能为空。")
    if len(text) > REPLY_MAX_CHARS:
        raise InvalidInput(f"答复内容过长（{len(text)}字），请精简到{REPLY_MAX_CHARS}字以内。")
    _record_reply_check(session, ticket, text, actor=actor, now=now, shown=warnings_shown)
    ticket.reply = text
    ticket.resolved_at = now
    if ticket.first_resolved_at is None:
        ticket.first_resolved_at = now
    return _move(session, ticket, "resolve", S.RESOLVED, actor=actor, now=now, note=text)


def _record_reply_check(session: Session, ticket: Ticket, text: str, *, actor: str,
                        now: datetime, shown: bool) -> None:
    """Keep what the reply check found with this round's reply (never blocks the 办结)."""
    from hotline import reply_check

    try:
        review = reply_check.check(ticket.description, text)
    except Exception:  # noqa: BLE001 - the check is an aid; the answer must go out
        logger.exception("reply check failed for ticket %s", ticket.number)
        return
    round_ = ticket.reopen_count or 0
    row = session.scalar(select(ReplyCheck).where(ReplyCheck.ticket_id == ticket.id,
                                                  ReplyCheck.round == round_))
    if row is None:
        row = ReplyCheck(ticket_id=ticket.id, round=round_)
        session.add(row)
    row.department_id = ticket.department_id
    row.at = now
    row.actor = actor
    row.warnings = review.codes
    row.missing_terms = list(review.missing_terms) or None
    row.shown = shown and not review.ok


def reopen(
    session: Session,
    ticket: Ticket,
    *,
    actor: str,
    now: datetime | None = None,
    reason: str | None = None,
    notify: bool = True,
) -> TicketEvent:
    """重办: back to the department with a fresh deadline, escalated (督办)."""
    now = _now(now)
    if S(ticket.status) not in ALLOWED_FROM["reopen"]:
        raise _refusal("reopen", ticket)
    days = _topic_days(ticket)
    ticket.limit_days = days
    ticket.deadline = sla.add_workdays(now, days)
    ticket.escalated = True
    ticket.reopen_count = (ticket.reopen_count or 0) + 1
    ticket.reply = None
    ticket.resolved_at = None
    note = f"第{ticket.reopen_count}次重办" + (f"：{reason}" if reason else "")
    return _move(session, ticket, "reopen", S.REOPENED, actor=actor, now=now, note=note,
                 notify=notify)


def _topic_days(ticket: Ticket) -> int:
    """The topic's time limit now (a deployment may have changed it since creation)."""
    try:
        return routing.route(ticket.topic, get_settings().routing_file).days
    except ValueError:  # a topic that left the taxonomy keeps the promise made at creation
        return ticket.limit_days


# --- ratings ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RatingOutcome:
    """What a rating did: the enterprise is told ``reopened`` tickets go back to work."""

    rating: Rating
    event: TicketEvent
    reopened: bool


_LEVEL_ALIASES: dict[str, RatingLevel] = {
    **{level.value: level for level in RatingLevel},
    **{level.code: level for level in RatingLevel},
    **{level.zh: level for level in RatingLevel},
}


def parse_level(value: RatingLevel | str) -> RatingLevel:
    """A level from its value (``satisfied``), payload code (``s``) or Chinese (满意)."""
    if isinstance(value, RatingLevel):
        return value
    level = _LEVEL_ALIASES.get(str(value).strip())
    if level is None:
        raise InvalidInput("评价等级无效，请选择“满意”“基本满意”或“不满意”。")
    return level


def clean_comment(comment: str | None) -> str | None:
    """Trimmed comment or None; over-long ones are refused rather than cut silently."""
    text = (comment or "").strip()
    if not text:
        return None
    if len(text) > COMMENT_MAX_CHARS:
        raise InvalidInput(
            f"评价意见最多{COMMENT_MAX_CHARS}字（您写了{len(text)}字），请精简后再发送。"
        )
    return text


def _rating(session: Session, ticket: Ticket, round_: int) -> Rating | None:
    return session.scalar(
        select(Rating).where(Rating.ticket_id == ticket.id, Rating.round == round_)
    )


def rate(
    session: Session,
    ticket: Ticket,
    level: RatingLevel | str,
    comment: str | None = None,
    *,
    actor: str = "enterprise",
    conversation_id: str | None = None,
    round_: int | None = None,
    now: datetime | None = None,
    notify: bool = True,
) -> RatingOutcome:
    """The enterprise rates the latest answer; 不满意 reopens the ticket.

    ``round_`` is the resolution round the button was made for (from its payload); a
    button of an older answer is refused instead of rating the newer one. Two presses
    racing each other are stopped by the unique (ticket, round) constraint: the loser
    gets :class:`AlreadyRated` and must roll its session back.
    """
    now = _now(now)
    chosen = parse_level(level)
    text = clean_comment(comment)
    current_round = ticket.reopen_count or 0
    if round_ is not None and round_ != current_round:
        if _rating(session, ticket, round_) is not None:
            raise AlreadyRated(ALREADY_RATED)
        raise InvalidTransition(STALE_RATING)
    if _rating(session, ticket, current_round) is not None:
        raise AlreadyRated(ALREADY_RATED)
    status = S(ticket.status)
    if status is not S.RESOLVED:
        # The button of an answer rated 不满意 is pressed again while the ticket is redone.
        if current_round and _rating(session, ticket, current_round - 1) is not None:
            raise AlreadyRated(ALREADY_RATED)
        raise _refusal("rate", ticket)
    rating = Rating(
        ticket_id=ticket.id, round=current_round, level=chosen.value, comment=text,
        actor=actor, conversation_id=conversation_id, at=now,
    )
    session.add(rating)
    try:
        session.flush()
    except IntegrityError:
        raise AlreadyRated(ALREADY_RATED) from None
    note = f"评价：{chosen.zh}" + (f"；意见：{text}" if text else "")
    if chosen is RatingLevel.DISSATISFIED:
        event = reopen(session, ticket, actor=actor, now=now, reason=f"企业{note}", notify=notify)
        return RatingOutcome(rating=rating, event=event, reopened=True)
    event = _move(session, ticket, "rate", S.RATED, actor=actor, now=now, note=note, notify=notify)
    return RatingOutcome(rating=rating, event=event, reopened=False)


# --- one entry point for "change the status to X" -----------------------------------------


def change_status(
    session: Session,
    ticket: Ticket,
    to: TicketStatus | str,
    *,
    actor: str,
    now: datetime | None = None,
    note: str | None = None,
    department: Department | None = None,
) -> TicketEvent:
    """Staff's generic "set status" (console): maps ``to`` onto the transition functions.

    ``resolved`` takes ``note`` as the written reply; ``dispatched`` needs a department;
    ``rated`` is the enterprise's alone and ``received`` is never a target.
    """
    try:
        target = S(to)
    except ValueError:
        raise InvalidInput(f"未知的工单状态：{to}") from None
    if target is S.IN_PROGRESS:
        return take(session, ticket, actor=actor, now=now, note=note)
    if target is S.RESOLVED:
        return resolve(session, ticket, note or "", actor=actor, now=now)
    if target is S.REOPENED:
        return reopen(session, ticket, actor=actor, now=now, reason=note)
    if target is S.DISPATCHED:
        if department is None:
            raise InvalidInput("改派须指定承办部门。")
        return dispatch(session, ticket, department, actor=actor, now=now, note=note)
    if target is S.RATED:
        raise InvalidTransition("评价只能由企业作出。")
    raise InvalidTransition("工单不能退回“已受理”状态。")
