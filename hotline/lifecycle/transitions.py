"""The staff's steps of a ticket: dispatch (and 改派), take, resolve, reopen, and the
console's generic "change the status to X"."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline import outbox, routing, sla
from hotline.lifecycle.rules import (
    ALLOWED_FROM,
    REPLY_MAX_CHARS,
    InvalidInput,
    InvalidTransition,
    checked_now,
    refusal,
)
from hotline.models import Department, ReplyCheck, Ticket, TicketEvent, TicketStatus
from hotline.settings import get_settings

S = TicketStatus
logger = logging.getLogger(__name__)


def move(
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
        raise refusal(action, ticket)
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
    now = checked_now(now)
    if S(ticket.status) not in ALLOWED_FROM["dispatch"]:
        raise refusal("dispatch", ticket)
    if S(ticket.status) is S.DISPATCHED and ticket.department_id == department.id:
        raise InvalidTransition(f"工单已分派至{department.name}，无需重复分派。")
    redispatch = S(ticket.status) is not S.RECEIVED
    ticket.department_id = department.id
    ticket.department = department
    default = f"{'改派' if redispatch else '分派'}至{department.name}"
    return move(session, ticket, "dispatch", S.DISPATCHED, actor=actor, now=now,
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
    now = checked_now(now)
    return move(session, ticket, "take", S.IN_PROGRESS, actor=actor, now=now,
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
    now = checked_now(now)
    if S(ticket.status) not in ALLOWED_FROM["resolve"]:
        raise refusal("resolve", ticket)
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
    return move(session, ticket, "resolve", S.RESOLVED, actor=actor, now=now, note=text)


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
    now = checked_now(now)
    if S(ticket.status) not in ALLOWED_FROM["reopen"]:
        raise refusal("reopen", ticket)
    days = _topic_days(ticket)
    ticket.limit_days = days
    ticket.deadline = sla.add_workdays(now, days)
    ticket.escalated = True
    ticket.reopen_count = (ticket.reopen_count or 0) + 1
    ticket.reply = None
    ticket.resolved_at = None
    note = f"第{ticket.reopen_count}次重办" + (f"：{reason}" if reason else "")
    return move(session, ticket, "reopen", S.REOPENED, actor=actor, now=now, note=note,
                 notify=notify)


def _topic_days(ticket: Ticket) -> int:
    """The topic's time limit now (a deployment may have changed it since creation)."""
    try:
        return routing.route(ticket.topic, get_settings().routing_file).days
    except ValueError:  # a topic that left the taxonomy keeps the promise made at creation
        return ticket.limit_days


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
