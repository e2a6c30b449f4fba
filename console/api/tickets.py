"""Department side of tickets (承办部门) as JSON: work list, 签收, status changes, replies.

Mounted by :mod:`console.tickets_pages` under ``/console/api`` and served behind the
console's login: the acting staff member is the session's :class:`~console.auth.Actor`
(events are recorded as ``staff:<display name>``), every POST must carry the session's
CSRF token in the ``X-CSRF-Token`` header, and a ``department`` account reaches only its
own department's tickets (403). All the rules live in :mod:`hotline.tickets` /
:mod:`hotline.lifecycle`; this module only maps them to HTTP, always as JSON with a
Chinese ``detail``: no session → 401, another department → 403, unknown ticket or
department → 404, a step the ticket's status does not allow → 409, bad input (empty reply,
unknown status, a date or id out of range) → 422, a body that is not JSON → 400. Field
errors FastAPI finds itself keep its list form. The routes and these answers are described
by the OpenAPI document at ``/console/api/openapi.json`` (:mod:`console.api.schema`).

The clock is ``ctx.extra["clock"]`` when the console's context gives one (tests), else
the wall clock; the pages use the same :func:`request_now`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from console import auth
from console.auth import Actor
from console.context import get_ctx
from hotline import lifecycle, outbox, reply_check, routing, sla, tickets
from hotline.db import session_scope
from hotline.hot import service as hot_service
from hotline.models import (
    Department,
    Rating,
    ReplyCheck,
    StaffRole,
    Ticket,
    TicketEvent,
    TicketStatus,
)

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

OTHER_DEPARTMENT = "该工单不属于您的部门，无权查看或办理。"
OTHER_DEPARTMENT_LIST = "只能查看本部门的工单。"
NO_DEPARTMENT = "您的账号未设置所属部门，请联系管理员。"
ONLY_DISPATCHERS = "只有话务员、督办人员或管理员可以改派工单。"
BAD_BODY = "请求内容无法解析，请以 JSON 格式（UTF-8 编码）发送。"
CSRF_FAILED = "请求已失效（安全校验未通过），请刷新页面后重试。"
LOGIN_EXPIRED = "登录已过期，请重新登录。"
ID_MAX = 2**31 - 1  # PostgreSQL's integer: a larger id is a 422, not the database's 500
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)
DATE_OUT_OF_RANGE = f"日期超出范围，请选择 {FIRST_DAY} 至 {LAST_DAY} 之间的日期。"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def request_now(request: Request) -> datetime:
    """Now, from the console context's ``extra["clock"]`` if it has one."""
    clock = get_ctx(request).extra.get("clock")
    return clock() if callable(clock) else utcnow()


# --- who may do what (shared with the pages) ---------------------------------------------


def own_department(actor: Actor) -> int | None:
    """The only department ``actor`` may see, or None for roles that see every ticket.

    A department account without a department would otherwise match the tickets that
    have none; it is refused instead (the caller turns the PermissionError into a 403).
    """
    if actor.role is not StaffRole.DEPARTMENT:
        return None
    if actor.department_id is None:
        raise PermissionError(NO_DEPARTMENT)
    return actor.department_id


def may_handle(actor: Actor, ticket: Ticket) -> bool:
    """Whether ``actor`` may see and act on ``ticket`` (departments: their own only)."""
    if actor.role is not StaffRole.DEPARTMENT:
        return True
    return actor.department_id is not None and ticket.department_id == actor.department_id


def in_date_range(day: date) -> bool:
    """Whether a date filter is one a ticket can have. Shared with the pages: at the calendar's
    ends local midnight has no UTC instant (0001-01-01, the day after 9999-12-31), a 500."""
    return FIRST_DAY <= day <= LAST_DAY


def may_redispatch(actor: Actor) -> bool:
    """改派 is the dispatchers' decision, never the department's."""
    return actor.role in (StaffRole.OPERATOR, StaffRole.SUPERVISOR, StaffRole.ADMIN)


def deliver_now(request: Request, conversation_id: str | None) -> None:
    """Send the outbox rows a change queued for its conversation at once (after commit).

    A failure here is only logged: the change is committed and the outbox retries.
    """
    if outbox.channel_of(conversation_id) is None or conversation_id is None:
        return
    try:
        get_ctx(request).deliver(conversation_id)
    except Exception:  # the gateway's delivery loop will send them later
        log.exception("immediate delivery to %s failed", conversation_id)


# --- session auth, as JSON ---------------------------------------------------------------


def api_actor(request: Request) -> Actor:
    actor = auth.actor_of(request)
    if actor is None:
        raise HTTPException(status_code=401, detail=LOGIN_EXPIRED)
    request.state.actor = actor
    return actor


def api_csrf(request: Request, actor: Annotated[Actor, Depends(api_actor)]) -> Actor:
    """POSTs: the session's CSRF token in ``X-CSRF-Token``, from our own origin."""
    given = request.headers.get("x-csrf-token") or ""
    if not auth.tokens_match(given, actor.csrf) or not auth.same_origin(request):
        raise HTTPException(status_code=403, detail=CSRF_FAILED)
    return actor


Reader = Annotated[Actor, Depends(api_actor)]
Writer = Annotated[Actor, Depends(api_csrf)]


class Problem(BaseModel):
    """Every refusal: ``detail`` is a Chinese sentence, or FastAPI's list of field errors."""

    detail: str | list[dict[str, Any]]


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "请求体无法解析（不是 JSON）"},
    401: {"model": Problem, "description": "未登录或登录已过期"},
    403: {"model": Problem, "description": "无权访问（其他部门的工单、角色不符或安全校验未通过）"},
    404: {"model": Problem, "description": "工单或部门不存在"},
    409: {"model": Problem, "description": "工单当前状态不允许此操作"},
    422: {"model": Problem, "description": "输入有误"},
}


class TakeBody(BaseModel):
    note: str | None = Field(default=None, max_length=2000)


class StatusBody(BaseModel):
    to: str
    note: str | None = Field(default=None, max_length=3000)
    department_id: int | None = Field(default=None, ge=1, le=ID_MAX)  # only for 改派 (to = dispatched)


class ReplyBody(BaseModel):
    reply: str = Field(max_length=20000)  # the lifecycle's own limit gives the Chinese message


def _detail(session: Session, ticket: Ticket, now: datetime) -> dict[str, Any]:
    data = tickets.work_item(ticket, now).as_dict()
    data["department"] = ticket.department.name if ticket.department else None
    data["events"] = [
        {"at": sla.as_local(e.at).isoformat(), "actor": e.actor, "from": e.from_status,
         "to": e.to_status, "note": e.note}
        for e in session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
        )
    ]
    data["ratings"] = [
        {"round": r.round, "level": r.level, "comment": r.comment,
         "at": sla.as_local(r.at).isoformat()}
        for r in session.scalars(select(Rating).where(Rating.ticket_id == ticket.id)
                                 .order_by(Rating.round))
    ]
    hot = hot_service.for_tickets(session, [ticket.id]).get(ticket.id)
    data["hot_issue"] = None if hot is None else {  # 热点问题: many enterprises, one problem
        "id": hot.issue_id, "title": hot.title, "state": hot.state_zh, "tickets": hot.tickets,
        "enterprises": hot.enterprises, "supervise_note": hot.supervise_note,
        "supervise_deadline": sla.as_local(hot.supervise_deadline).isoformat()
        if hot.supervise_deadline else None,
    }
    data["reply_checks"] = [
        {"round": c.round, "warnings": c.warnings, "shown": c.shown,
         "at": sla.as_local(c.at).isoformat()}
        for c in session.scalars(select(ReplyCheck).where(ReplyCheck.ticket_id == ticket.id)
                                 .order_by(ReplyCheck.round))
    ]
    return data


def _ticket_for(session: Session, number: str, actor: Actor) -> Ticket:
    ticket = tickets.by_number(session, number)
    if not may_handle(actor, ticket):
        raise HTTPException(status_code=403, detail=OTHER_DEPARTMENT)
    return ticket


def _run(request: Request, work: Callable[[Session, datetime], Any]) -> Any:
    now = request_now(request)
    try:
        with session_scope(get_ctx(request).db_url) as session:
            return work(session, now)
    except tickets.TicketNotFound as exc:
        raise HTTPException(status_code=404, detail=f"工单 {exc.args[0]} 不存在，请核对工单号。") from None
    except tickets.DepartmentNotFound as exc:
        raise HTTPException(status_code=404, detail=f"部门 {exc.args[0]} 不存在。") from None
    except lifecycle.InvalidTransition as exc:
        raise HTTPException(status_code=409, detail=exc.message) from None
    except lifecycle.InvalidInput as exc:
        raise HTTPException(status_code=422, detail=exc.message) from None


def _change(request: Request, work: Callable[[Session, datetime], Ticket]) -> dict[str, Any]:
    """Run a change; its detail as the answer, its notices sent once committed."""

    def detail(session: Session, now: datetime) -> tuple[dict[str, Any], str | None]:
        ticket = work(session, now)
        return _detail(session, ticket, now), ticket.conversation_id

    result, conversation = _run(request, detail)
    deliver_now(request, conversation)
    return result


router = APIRouter(tags=["tickets"], responses=ERRORS)
"""The JSON routes; :mod:`console.tickets_pages` includes them with prefix ``/api``."""


@router.get("/departments/{department_id}/tickets")
def department_tickets(
    request: Request,
    department_id: Annotated[int, Path(ge=1, le=ID_MAX)],
    actor: Reader,
    status: TicketStatus | None = None,
    topic: str | None = None,
    light: sla.Light | None = None,
    created_from: Annotated[date | None, Query(alias="from")] = None,
    created_to: Annotated[date | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """The department's tickets, most urgent deadline first (dates: local, inclusive)."""
    try:
        own = own_department(actor)
    except PermissionError as exc:
        raise HTTPException(status_code=403, detail=str(exc)) from None
    if own is not None and own != department_id:
        raise HTTPException(status_code=403, detail=OTHER_DEPARTMENT_LIST)
    if topic is not None and topic not in routing.load_taxonomy().topics:
        raise HTTPException(status_code=422, detail=f"未知的诉求类别：{topic}")
    if any(day is not None and not in_date_range(day) for day in (created_from, created_to)):
        raise HTTPException(status_code=422, detail=DATE_OUT_OF_RANGE)

    def work(session: Session, now: datetime) -> dict[str, Any]:
        items = tickets.list_department_tickets(
            session, department_id, status=status.value if status else None, topic=topic,
            light=light.value if light else None, created_from=created_from,
            created_to=created_to, now=now, limit=limit, offset=offset,
        )
        dept = session.get(Department, department_id)
        assert dept is not None  # list_department_tickets checked it
        return {"department": {"id": dept.id, "name": dept.name},
                "count": len(items), "tickets": [i.as_dict() for i in items]}

    return _run(request, work)


@router.get("/tickets/{number}")
def ticket_detail(request: Request, number: str, actor: Reader) -> dict[str, Any]:
    return _run(request, lambda s, now: _detail(s, _ticket_for(s, number, actor), now))


@router.post("/tickets/{number}/take")
def take(request: Request, number: str, actor: Writer,
         body: TakeBody | None = None) -> dict[str, Any]:
    note = body.note if body else None

    def work(session: Session, now: datetime) -> Ticket:
        ticket = _ticket_for(session, number, actor)
        lifecycle.take(session, ticket, actor=actor.who, now=now, note=note)
        return ticket

    return _change(request, work)


@router.post("/tickets/{number}/status")
def set_status(request: Request, number: str, body: StatusBody,
               actor: Writer) -> dict[str, Any]:
    if body.to == TicketStatus.DISPATCHED.value and not may_redispatch(actor):
        raise HTTPException(status_code=403, detail=ONLY_DISPATCHERS)

    def work(session: Session, now: datetime) -> Ticket:
        ticket = _ticket_for(session, number, actor)
        return tickets.set_status(session, ticket.number, body.to, actor=actor.who, now=now,
                                  note=body.note, department_id=body.department_id)

    return _change(request, work)


@router.post("/tickets/{number}/reply-check")
def reply_check_only(request: Request, number: str, body: ReplyBody,
                     actor: Writer) -> dict[str, Any]:
    """What the reply check finds in a draft reply (nothing is sent or stored)."""

    def work(session: Session, now: datetime) -> dict[str, Any]:
        ticket = _ticket_for(session, number, actor)
        review = reply_check.check(ticket.description, body.reply)
        return {"ok": review.ok, "key_terms": list(review.key_terms),
                "missing_terms": list(review.missing_terms),
                "warnings": [{"code": f.code, "title": f.title, "message": f.message}
                             for f in review.findings]}

    return _run(request, work)  # type: ignore[no-any-return]


@router.post("/tickets/{number}/reply")
def reply(request: Request, number: str, body: ReplyBody, actor: Writer) -> dict[str, Any]:
    def work(session: Session, now: datetime) -> Ticket:
        ticket = _ticket_for(session, number, actor)
        lifecycle.resolve(session, ticket, body.reply, actor=actor.who, now=now)
        return ticket

    return _change(request, work)
