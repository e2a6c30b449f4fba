"""One ticket in the console: its page and its handling steps.

- ``GET /console/tickets/{number}``: every field, the enterprise on file, the reply, the
  ratings and the event trail (:func:`hotline.ticket_queries.detail`, as the JSON API's).
  Another department's ticket → 403, unknown → 404.
- ``POST /console/tickets/{number}/{take|status|reply|redispatch|reopen}``: the handling
  steps, through :mod:`hotline.lifecycle` (which records the event and queues the
  enterprise's notice in the same transaction). Success redirects (303) back to the
  ticket with a message; a refused step shows the page again with the Chinese reason,
  409 for a step the status does not allow, 422 for bad input.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from console.auth import Actor
from console.deps import (
    DISPATCHERS,
    ONLY_DISPATCHERS,
    CsrfActor,
    Ctx,
    CurrentActor,
    Db,
    Now,
    allowed,
    handled_ticket,
    require,
)
from console.web import render
from hotline import channels, lifecycle, reply_check, routing, tickets
from hotline import ticket_queries as queries
from hotline.models import RATING_ZH, RatingLevel, Ticket, TicketStatus

router = APIRouter(prefix="/console")

NOTE_MAX = 1000
ACTS = {"appeal": "诉求", "consult": "咨询"}
OTHER_CHANNELS = {"demo": "演示数据"}  # conversations the outbox never delivers to

OK_MESSAGES = {
    "take": "已签收，工单进入办理中。",
    "reply": "答复已提交，工单已办结；企业将收到答复并进行评价。",
    "redispatch": "工单已改派。",
    "reopen": "工单已转重办，新的办理时限已生效。",
    "status": "工单状态已更新。",
}


def _clean_note(text: str, what: str = "说明") -> str | None:
    note = (text or "").strip()
    if len(note) > NOTE_MAX:
        raise lifecycle.InvalidInput(f"{what}最多{NOTE_MAX}字（您写了{len(note)}字），请精简。")
    return note or None


def _not_found(request: Request, actor: Actor, number: str) -> Response:
    return render(request, "error.html", actor, status_code=404, title="工单不存在",
                  message=f"工单 {number.strip()[:40]} 不存在，请核对工单号。")


# --- the page -----------------------------------------------------------------------------


def _actions(actor: Actor, status: TicketStatus) -> dict[str, bool]:
    allowed_from = lifecycle.ALLOWED_FROM
    return {
        "take": status in allowed_from["take"],
        "reply": status in allowed_from["resolve"],
        "redispatch": allowed(actor, DISPATCHERS) and status in allowed_from["dispatch"],
        "reopen": status in allowed_from["reopen"],
    }


def _channel_zh(conversation: str | None) -> str:
    """Where the ticket came from; 无（线下受理） when no chat filed it."""
    prefix = channels.prefix_of(conversation or "")
    if prefix in channels.CHANNELS:
        return channels.CHANNELS[prefix].zh
    return OTHER_CHANNELS.get(prefix, prefix or "无（线下受理）")


def _rating_zh(level: str) -> str:
    try:
        return RATING_ZH[RatingLevel(level)]
    except ValueError:
        return level


def _view(d: queries.Detail, actor: Actor) -> dict[str, Any]:
    """Everything the page shows of a ticket (the template's ``t``)."""
    ticket = d.ticket
    status = TicketStatus(ticket.status)
    company = ticket.enterprise
    enterprise = None
    if company is not None:
        enterprise = {
            "name": company.name, "uscc": company.uscc, "contact_name": company.contact_name,
            "contact_phone": company.contact_phone, "district": company.district,
            "created_at": company.created_at, "ticket_count": d.enterprise_tickets,
        }
    return {
        "hot": d.hot,
        "reply_checks": [
            {"round": c.round + 1, "at": c.at, "shown": c.shown,
             "titles": [reply_check.TITLES.get(code, code) for code in c.warnings]}
            for c in d.reply_checks
        ],
        "number": ticket.number, "status": status.value, "status_zh": status.zh,
        "topic": ticket.topic, "topic_zh": routing.topic_zh(ticket.topic),
        "act_zh": ACTS.get(ticket.act, ticket.act), "description": ticket.description,
        "department": ticket.department.name if ticket.department else None,
        "department_id": ticket.department_id,
        "department_phone": ticket.department.phone if ticket.department else None,
        "contact_name": ticket.contact_name, "contact_phone": ticket.contact_phone,
        "channel": _channel_zh(ticket.conversation_id),
        "created_at": ticket.created_at, "deadline": ticket.deadline,
        "limit_days": ticket.limit_days, "resolved_at": ticket.resolved_at,
        "first_resolved_at": ticket.first_resolved_at, "reply": ticket.reply,
        "escalated": ticket.escalated, "reopen_count": ticket.reopen_count,
        "applicant_verified": bool(ticket.applicant_verified),
        "light": d.light.value, "light_zh": queries.light_zh(ticket.status, d.light),
        "enterprise": enterprise,
        "events": [
            {"at": e.at, "who": queries.actor_zh(e.actor), "actor": e.actor,
             "from": queries.status_zh(e.from_status) if e.from_status else None,
             "to": queries.status_zh(e.to_status), "note": e.note}
            for e in d.events
        ],
        "ratings": [
            {"round": r.round + 1, "level": r.level, "level_zh": _rating_zh(r.level),
             "comment": r.comment, "at": r.at}
            for r in d.ratings
        ],
        "actions": _actions(actor, status),
    }


def _page(request: Request, db: Session, actor: Actor, now: datetime, number: str, *,
          status_code: int = 200, flash: str | None = None, flash_kind: str = "ok",
          draft: Mapping[str, str] | None = None,
          review: reply_check.ReplyReview | None = None) -> Response:
    try:
        ticket = handled_ticket(db, number, actor)
    except tickets.TicketNotFound:
        return _not_found(request, actor, number)
    view = _view(queries.detail(db, ticket, now), actor)
    others = [(i, name) for i, name in queries.department_names(db).items()
              if i != ticket.department_id]
    return render(
        request, "ticket_detail.html", actor, status_code=status_code,
        title=f"工单 {view['number']}", t=view, departments=others, flash=flash,
        flash_kind=flash_kind, draft=dict(draft or {}), reply_max=lifecycle.REPLY_MAX_CHARS,
        note_max=NOTE_MAX, review=review,
    )


@router.get("/tickets/{number}", response_class=HTMLResponse)
def ticket_detail(request: Request, number: str, db: Db, actor: CurrentActor, now: Now,
                  ok: str = "") -> Response:
    return _page(request, db, actor, now, number, flash=OK_MESSAGES.get(ok))


# --- the steps ----------------------------------------------------------------------------

Work = Callable[[Ticket], None]


def _act(request: Request, ctx: Ctx, db: Session, actor: Actor, now: datetime, number: str,
         ok: str, work: Work, draft: Mapping[str, str] | None = None) -> Response:
    """Run one handling step; redirect on success, the page with the reason otherwise."""
    refused: tuple[int, str] | None = None
    try:
        ticket = handled_ticket(db, number, actor)
        work(ticket)
        db.commit()
    except tickets.TicketNotFound:
        db.rollback()
        return _not_found(request, actor, number)
    except tickets.DepartmentNotFound:
        refused = 422, "所选的承办部门不存在，请重新选择。"
    except lifecycle.InvalidTransition as exc:
        refused = 409, exc.message
    except lifecycle.InvalidInput as exc:
        refused = 422, exc.message
    if refused is not None:
        db.rollback()
        return _page(request, db, actor, now, number, status_code=refused[0], flash=refused[1],
                     flash_kind="error", draft=draft)
    ctx.deliver_now(ticket.conversation_id)
    return RedirectResponse(f"/console/tickets/{quote(ticket.number)}?ok={ok}", status_code=303)


@router.post("/tickets/{number}/take")
def take(request: Request, number: str, ctx: Ctx, db: Db, actor: CsrfActor, now: Now,
         note: str = Form("")) -> Response:
    def work(ticket: Ticket) -> None:
        lifecycle.take(db, ticket, actor=actor.who, now=now, note=_clean_note(note))

    return _act(request, ctx, db, actor, now, number, "take", work, {"take_note": note})


@router.post("/tickets/{number}/status")
def change_status(request: Request, number: str, ctx: Ctx, db: Db, actor: CsrfActor,
                  now: Now, to: str = Form(""), note: str = Form(""),
                  department_id: str = Form("")) -> Response:
    """The generic step: ``to`` is a status value (``in_progress`` …), as in the JSON API."""
    if to == TicketStatus.DISPATCHED.value:
        require(actor, DISPATCHERS, ONLY_DISPATCHERS)

    def work(ticket: Ticket) -> None:
        dept = None
        if department_id.strip():
            if not department_id.strip().isdigit():
                raise tickets.DepartmentNotFound(department_id)
            dept = tickets.department(db, int(department_id))
        text = note.strip() if to == TicketStatus.RESOLVED.value else _clean_note(note)
        lifecycle.change_status(db, ticket, to, actor=actor.who, now=now, note=text,
                                department=dept)

    return _act(request, ctx, db, actor, now, number, "status", work, {"status_note": note})


@router.post("/tickets/{number}/reply")
def reply(request: Request, number: str, ctx: Ctx, db: Db, actor: CsrfActor, now: Now,
          reply: str = Form(""), intent: str = Form("send"), confirm: str = Form("")) -> Response:
    """办结 with a written reply, checked first (:mod:`hotline.reply_check`).

    ``intent=check`` only shows the warnings. ``intent=send`` sends at once when the
    check finds nothing, else shows the warnings with a 仍然发送 button (``confirm=1``),
    which sends and records that the writer saw them."""
    draft = {"reply": reply}
    if intent == "check" or not confirm:
        try:
            ticket = handled_ticket(db, number, actor)
        except tickets.TicketNotFound:
            return _not_found(request, actor, number)
        # a reply that cannot be sent anyway (wrong status, empty, too long) is refused first
        sendable = (TicketStatus(ticket.status) in lifecycle.ALLOWED_FROM["resolve"]
                    and reply.strip() and len(reply.strip()) <= lifecycle.REPLY_MAX_CHARS)
        if sendable:
            review = reply_check.check(ticket.description, reply)
            if intent == "check" or not review.ok:
                return _page(request, db, actor, now, number, draft=draft, review=review)

    def work(ticket: Ticket) -> None:
        lifecycle.resolve(db, ticket, reply, actor=actor.who, now=now,
                          warnings_shown=bool(confirm))

    return _act(request, ctx, db, actor, now, number, "reply", work, draft)


@router.post("/tickets/{number}/redispatch")
def redispatch(request: Request, number: str, ctx: Ctx, db: Db, actor: CsrfActor, now: Now,
               department_id: str = Form(""), note: str = Form("")) -> Response:
    require(actor, DISPATCHERS, ONLY_DISPATCHERS)

    def work(ticket: Ticket) -> None:
        if not department_id.strip():
            raise lifecycle.InvalidInput("改派须选择新的承办部门。")
        if not department_id.isdigit():
            raise tickets.DepartmentNotFound(department_id)
        dept = tickets.department(db, int(department_id))
        lifecycle.dispatch(db, ticket, dept, actor=actor.who, now=now,
                           note=_clean_note(note, "改派理由"))

    return _act(request, ctx, db, actor, now, number, "redispatch", work,
                {"redispatch_note": note})


@router.post("/tickets/{number}/reopen")
def reopen(request: Request, number: str, ctx: Ctx, db: Db, actor: CsrfActor, now: Now,
           reason: str = Form("")) -> Response:
    def work(ticket: Ticket) -> None:
        lifecycle.reopen(db, ticket, actor=actor.who, now=now,
                         reason=_clean_note(reason, "重办理由"))

    return _act(request, ctx, db, actor, now, number, "reopen", work, {"reopen_reason": reason})
