"""Department side of tickets (承办部门) as JSON: work list, 签收, status changes, replies.

Served under ``/console/api`` behind the console's login: the acting staff member is the
session's :class:`~console.auth.Actor` (events are recorded as ``staff:<display name>``),
every POST must carry the session's CSRF token in the ``X-CSRF-Token`` header, and a
``department`` account reaches only its own department's tickets (403); the checks are
:mod:`console.deps`'s, as the pages'. The lists and the detail are
:mod:`hotline.ticket_queries`'s, the rules :mod:`hotline.tickets` / :mod:`hotline.lifecycle`'s;
this module only maps them to HTTP, always as JSON with a Chinese ``detail``: no session →
401, another department → 403, unknown ticket or department → 404, a step the ticket's
status does not allow → 409, bad input (empty reply, unknown status, a date or id out of
range) → 422, a body that is not JSON → 400. Field errors FastAPI finds itself keep its
list form. The routes and these answers are described by the OpenAPI document at
``/console/api/openapi.json`` (:mod:`console.api.schema`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from console.auth import Forbidden
from console.deps import (
    DISPATCHERS,
    ONLY_DISPATCHERS,
    OTHER_DEPARTMENT_LIST,
    ApiWriter,
    Ctx,
    CurrentActor,
    Db,
    Now,
    handled_ticket,
    own_department,
    require,
)
from hotline import lifecycle, reply_check, routing, sla, tickets
from hotline import ticket_queries as queries
from hotline.models import Ticket, TicketStatus
from hotline.ticket_queries import FIRST_DAY, LAST_DAY, in_date_range

BAD_BODY = "请求内容无法解析，请以 JSON 格式（UTF-8 编码）发送。"
ID_MAX = 2**31 - 1  # PostgreSQL's integer: a larger id is a 422, not the database's 500
DATE_OUT_OF_RANGE = f"日期超出范围，请选择 {FIRST_DAY} 至 {LAST_DAY} 之间的日期。"


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


def _local(at: Any) -> str:
    return sla.as_local(at).isoformat()


def _detail(d: queries.Detail, now: Any) -> dict[str, Any]:
    ticket, hot = d.ticket, d.hot
    data = queries.work_item(ticket, now).as_dict()
    data["department"] = ticket.department.name if ticket.department else None
    data["events"] = [{"at": _local(e.at), "actor": e.actor, "from": e.from_status,
                       "to": e.to_status, "note": e.note} for e in d.events]
    data["ratings"] = [{"round": r.round, "level": r.level, "comment": r.comment,
                        "at": _local(r.at)} for r in d.ratings]
    data["hot_issue"] = None if hot is None else {  # 热点问题: many enterprises, one problem
        "id": hot.issue_id, "title": hot.title, "state": hot.state_zh, "tickets": hot.tickets,
        "enterprises": hot.enterprises, "supervise_note": hot.supervise_note,
        "supervise_deadline": _local(hot.supervise_deadline) if hot.supervise_deadline else None,
    }
    data["reply_checks"] = [{"round": c.round, "warnings": c.warnings, "shown": c.shown,
                             "at": _local(c.at)} for c in d.reply_checks]
    return data


@contextmanager
def _answers() -> Iterator[None]:
    """The core's refusals as HTTP answers."""
    try:
        yield
    except tickets.TicketNotFound as exc:
        raise HTTPException(status_code=404, detail=f"工单 {exc.args[0]} 不存在，请核对工单号。") from None
    except tickets.DepartmentNotFound as exc:
        raise HTTPException(status_code=404, detail=f"部门 {exc.args[0]} 不存在。") from None
    except lifecycle.InvalidTransition as exc:
        raise HTTPException(status_code=409, detail=exc.message) from None
    except lifecycle.InvalidInput as exc:
        raise HTTPException(status_code=422, detail=exc.message) from None


def _changed(ctx: Ctx, db: Session, ticket: Ticket, now: Any) -> dict[str, Any]:
    """A change's answer: the ticket's detail; its notices are sent once committed."""
    result = _detail(queries.detail(db, ticket, now), now)
    db.commit()
    ctx.deliver_now(ticket.conversation_id)
    return result


router = APIRouter(prefix="/console/api", tags=["tickets"], responses=ERRORS)


@router.get("/departments/{department_id}/tickets")
def department_tickets(
    department_id: Annotated[int, Path(ge=1, le=ID_MAX)],
    db: Db,
    actor: CurrentActor,
    now: Now,
    status: TicketStatus | None = None,
    topic: str | None = None,
    light: sla.Light | None = None,
    created_from: Annotated[date | None, Query(alias="from")] = None,
    created_to: Annotated[date | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """The department's tickets, most urgent deadline first (dates: local, inclusive)."""
    own = own_department(actor)
    if own is not None and own != department_id:
        raise Forbidden(OTHER_DEPARTMENT_LIST)
    if topic is not None and topic not in routing.load_taxonomy().topics:
        raise HTTPException(status_code=422, detail=f"未知的诉求类别：{topic}")
    if any(day is not None and not in_date_range(day) for day in (created_from, created_to)):
        raise HTTPException(status_code=422, detail=DATE_OUT_OF_RANGE)
    with _answers():
        department, items = queries.department_work_list(
            db, department_id, status=status.value if status else None, topic=topic,
            light=light.value if light else None, created_from=created_from,
            created_to=created_to, now=now, limit=limit, offset=offset,
        )
    return {"department": {"id": department.id, "name": department.name},
            "count": len(items), "tickets": [i.as_dict() for i in items]}


@router.get("/tickets/{number}")
def ticket_detail(number: str, db: Db, actor: CurrentActor, now: Now) -> dict[str, Any]:
    with _answers():
        return _detail(queries.detail(db, handled_ticket(db, number, actor), now), now)


@router.post("/tickets/{number}/take")
def take(number: str, ctx: Ctx, db: Db, actor: ApiWriter, now: Now,
         body: TakeBody | None = None) -> dict[str, Any]:
    with _answers():
        ticket = handled_ticket(db, number, actor)
        lifecycle.take(db, ticket, actor=actor.who, now=now, note=body.note if body else None)
        return _changed(ctx, db, ticket, now)


@router.post("/tickets/{number}/status")
def set_status(number: str, body: StatusBody, ctx: Ctx, db: Db, actor: ApiWriter,
               now: Now) -> dict[str, Any]:
    if body.to == TicketStatus.DISPATCHED.value:
        require(actor, DISPATCHERS, ONLY_DISPATCHERS)
    with _answers():
        ticket = handled_ticket(db, number, actor)
        tickets.set_status(db, ticket, body.to, actor=actor.who, now=now, note=body.note,
                           department_id=body.department_id)
        return _changed(ctx, db, ticket, now)


@router.post("/tickets/{number}/reply-check")
def reply_check_only(number: str, body: ReplyBody, db: Db, actor: ApiWriter) -> dict[str, Any]:
    """What the reply check finds in a draft reply (nothing is sent or stored)."""
    with _answers():
        ticket = handled_ticket(db, number, actor)
    review = reply_check.check(ticket.description, body.reply)
    return {"ok": review.ok, "key_terms": list(review.key_terms),
            "missing_terms": list(review.missing_terms),
            "warnings": [{"code": f.code, "title": f.title, "message": f.message}
                         for f in review.findings]}


@router.post("/tickets/{number}/reply")
def reply(number: str, body: ReplyBody, ctx: Ctx, db: Db, actor: ApiWriter,
          now: Now) -> dict[str, Any]:
    with _answers():
        ticket = handled_ticket(db, number, actor)
        lifecycle.resolve(db, ticket, body.reply, actor=actor.who, now=now)
        return _changed(ctx, db, ticket, now)
