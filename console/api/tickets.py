"""Department side of tickets (承办部门): work list, 签收, status changes, written replies.

Why a router factory: the console app decides at start-up which database to use, so the
router gets a ``db_url_provider`` instead of reading settings at import. All the rules
live in :mod:`hotline.tickets` / :mod:`hotline.lifecycle`; this module only maps them to
HTTP: unknown ticket or department → 404, a step the ticket's status does not allow →
409, bad input (empty reply, unknown status) → 422, each with a Chinese ``detail`` the
console shows as is.

Who is acting: until the console issue adds login and roles, the staff member's name
comes from the ``X-Staff`` header (percent-encoded UTF-8, since HTTP headers are not
Unicode), and events are recorded as ``staff:<name>``. The console will replace
:func:`acting_staff` with its session's user and check the ticket's department.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timezone
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Header, HTTPException, Query
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline import lifecycle, routing, sla, tickets
from hotline.db import session_scope
from hotline.models import Department, Rating, Ticket, TicketEvent, TicketStatus

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class TakeBody(BaseModel):
    note: str | None = Field(default=None, max_length=2000)


class StatusBody(BaseModel):
    to: str
    note: str | None = Field(default=None, max_length=3000)
    department_id: int | None = None  # only for 改派 (to = dispatched)


class ReplyBody(BaseModel):
    reply: str = Field(max_length=20000)  # the lifecycle's own limit gives the Chinese message


def acting_staff(x_staff: Annotated[str | None, Header(alias="X-Staff")] = None) -> str:
    """``staff:<name>`` from the X-Staff header (temporary; see the module docstring)."""
    name = unquote(x_staff or "").strip()
    if not name:
        raise HTTPException(status_code=401, detail="缺少办理人信息（请求头 X-Staff）。")
    return f"staff:{name[:80]}"


Staff = Annotated[str, Depends(acting_staff)]
"""The acting staff member (module level: FastAPI resolves string annotations here)."""


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
    return data


def router(db_url_provider: Callable[[], str], *, clock: Clock = utcnow) -> APIRouter:
    """The ``/api`` routes for departments; ``clock`` is injectable for tests."""
    api = APIRouter(prefix="/api", tags=["tickets"])

    def run(work: Callable[[Session, datetime], Any]) -> Any:
        now = clock()
        try:
            with session_scope(db_url_provider()) as session:
                return work(session, now)
        except tickets.TicketNotFound as exc:
            raise HTTPException(status_code=404, detail=f"工单 {exc.args[0]} 不存在，请核对工单号。") from None
        except tickets.DepartmentNotFound as exc:
            raise HTTPException(status_code=404, detail=f"部门 {exc.args[0]} 不存在。") from None
        except lifecycle.InvalidTransition as exc:
            raise HTTPException(status_code=409, detail=exc.message) from None
        except lifecycle.InvalidInput as exc:
            raise HTTPException(status_code=422, detail=exc.message) from None

    @api.get("/departments/{department_id}/tickets")
    def department_tickets(
        department_id: int,
        status: TicketStatus | None = None,
        topic: str | None = None,
        light: sla.Light | None = None,
        created_from: Annotated[date | None, Query(alias="from")] = None,
        created_to: Annotated[date | None, Query(alias="to")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        """The department's tickets, most urgent deadline first (dates: local, inclusive)."""
        if topic is not None and topic not in routing.load_taxonomy().topics:
            raise HTTPException(status_code=422, detail=f"未知的诉求类别：{topic}")

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

        return run(work)

    @api.get("/tickets/{number}")
    def ticket_detail(number: str) -> dict[str, Any]:
        return run(lambda s, now: _detail(s, tickets.by_number(s, number), now))

    @api.post("/tickets/{number}/take")
    def take(number: str, staff: Staff, body: TakeBody | None = None) -> dict[str, Any]:
        note = body.note if body else None

        def work(session: Session, now: datetime) -> dict[str, Any]:
            ticket = tickets.take_ticket(session, number, actor=staff, now=now, note=note)
            return _detail(session, ticket, now)

        return run(work)

    @api.post("/tickets/{number}/status")
    def set_status(number: str, body: StatusBody, staff: Staff) -> dict[str, Any]:
        def work(session: Session, now: datetime) -> dict[str, Any]:
            ticket = tickets.set_status(session, number, body.to, actor=staff, now=now,
                                        note=body.note, department_id=body.department_id)
            return _detail(session, ticket, now)

        return run(work)

    @api.post("/tickets/{number}/reply")
    def reply(number: str, body: ReplyBody, staff: Staff) -> dict[str, Any]:
        def work(session: Session, now: datetime) -> dict[str, Any]:
            ticket = tickets.write_reply(session, number, body.reply, actor=staff, now=now)
            return _detail(session, ticket, now)

        return run(work)

    return api
