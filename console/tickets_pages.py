"""Ticket pages of the console: the list with filters, one ticket, and its handling.

- ``GET /console/tickets``: every ticket for operators, supervisors and admins; a
  department account sees its own department's only, whatever the query says. Filters
  (status, topic, department, light, creation dates, number or enterprise name), 50 a
  page, counts per light above the table. The light of a closed ticket is green when it
  was resolved on time and red when late (as in the department work list and the stats).
- ``GET /console/tickets/{number}``: every field, the enterprise on file, the reply, the
  ratings and the event trail. Another department's ticket → 403, unknown → 404.
- ``POST /console/tickets/{number}/{take|status|reply|redispatch|reopen}``: the handling
  steps, through :mod:`hotline.lifecycle` (which records the event and queues the
  enterprise's notice in the same transaction). Success redirects (303) back to the
  ticket with a message; a refused step shows the page again with the Chinese reason,
  409 for a step the status does not allow, 422 for bad input.
- ``/console/api/...``: the JSON API of :mod:`console.api.tickets`, same session.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any, cast
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session, selectinload

from console.api import tickets as tickets_api
from console.api.tickets import may_handle, may_redispatch, own_department, request_now
from console.auth import Actor, Forbidden, current_actor, require_csrf
from console.context import get_ctx
from console.web import render
from hotline import lifecycle, reply_check, routing, sla, tickets
from hotline.db import session_scope
from hotline.hot import service as hot_service
from hotline.models import (
    OPEN_STATUSES,
    RATING_ZH,
    STATUS_ZH,
    Department,
    Enterprise,
    Rating,
    RatingLevel,
    ReplyCheck,
    StaffRole,
    Ticket,
    TicketEvent,
    TicketStatus,
)

router = APIRouter(prefix="/console")
router.include_router(tickets_api.router, prefix="/api")

PAGE_SIZE = 50
SEARCH_MAX = 50
NOTE_MAX = 1000
LIGHTS = (sla.Light.RED, sla.Light.YELLOW, sla.Light.GREEN)
SORTS = {"new": "最新受理在前", "deadline": "在办优先，办理期限最近在前"}
ACTS = {"appeal": "诉求", "consult": "咨询"}
CHANNELS = {"tg": "Telegram", "web": "网页聊天", "demo": "演示数据"}

OK_MESSAGES = {
    "take": "已签收，工单进入办理中。",
    "reply": "答复已提交，工单已办结；企业将收到答复并进行评价。",
    "redispatch": "工单已改派。",
    "reopen": "工单已转重办，新的办理时限已生效。",
    "status": "工单状态已更新。",
}


# --- helpers ------------------------------------------------------------------------------


def _topic_zh(topic: str) -> str:
    try:
        return routing.load_taxonomy().topic(topic).zh
    except ValueError:  # a topic that left the taxonomy keeps its name
        return topic


def _status_zh(status: str) -> str:
    try:
        return TicketStatus(status).zh
    except ValueError:
        return status


def _light_words(status: str, light: sla.Light) -> str:
    """绿灯/黄灯/红灯 for an open ticket; 按期/超期办结 for a closed one."""
    try:
        closed = TicketStatus(status) not in OPEN_STATUSES
    except ValueError:
        closed = False
    if closed:
        return "按期办结" if light is sla.Light.GREEN else "超期办结"
    return light.zh


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=sla.TZ)


def _actor_zh(actor: str) -> str:
    """How the timeline names who did something (``staff:周住建`` → 周住建)."""
    kind, _, name = actor.partition(":")
    if kind == "staff" and name:
        return name
    if kind == "enterprise":
        return "企业"
    if actor == "system:routing":
        return "系统自动分派"
    if kind == "system":
        return "系统"
    if kind == "bot":
        return "热线机器人"
    return actor


def _clean_note(text: str, what: str = "说明") -> str | None:
    note = (text or "").strip()
    if len(note) > NOTE_MAX:
        raise lifecycle.InvalidInput(f"{what}最多{NOTE_MAX}字（您写了{len(note)}字），请精简。")
    return note or None


def _not_found(request: Request, actor: Actor, number: str) -> Response:
    return render(request, "error.html", actor, status_code=404, title="工单不存在",
                  message=f"工单 {number} 不存在，请核对工单号。")


# --- the list -----------------------------------------------------------------------------


@dataclass
class Filters:
    status: str = ""
    topic: str = ""
    department: int | None = None
    light: str = ""
    created_from: date | None = None
    created_to: date | None = None
    q: str = ""
    sort: str = "new"
    default_sort: str = "new"
    page: int = 1
    errors: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, params: Mapping[str, str], actor: Actor,
              departments: Mapping[int, str]) -> Filters:
        """The filters of the query string; a bad value is dropped with a Chinese note."""
        # a department's work list: most urgent first; everyone else: newest first
        default = "deadline" if actor.role is StaffRole.DEPARTMENT else "new"
        f = cls(sort=default, default_sort=default)
        status = params.get("status", "").strip()
        if status:
            if status in {s.value for s in TicketStatus}:
                f.status = status
            else:
                f.errors.append("未知的工单状态，已忽略该筛选条件。")
        topic = params.get("topic", "").strip()
        if topic:
            if topic in routing.load_taxonomy().topics:
                f.topic = topic
            else:
                f.errors.append("未知的诉求类别，已忽略该筛选条件。")
        dept = params.get("department", "").strip()
        if dept and actor.role is not StaffRole.DEPARTMENT:  # a department sees its own only
            if dept.isdigit() and int(dept) in departments:
                f.department = int(dept)
            else:
                f.errors.append("未知的承办部门，已忽略该筛选条件。")
        light = params.get("light", "").strip()
        if light:
            if light in {x.value for x in sla.Light}:
                f.light = light
            else:
                f.errors.append("未知的红绿灯状态，已忽略该筛选条件。")
        for key, attr, label in (("from", "created_from", "起始日期"),
                                 ("to", "created_to", "截止日期")):
            raw = params.get(key, "").strip()
            if raw:
                try:
                    day = date.fromisoformat(raw)
                except ValueError:
                    f.errors.append(f"{label}格式应为“年-月-日”（如 2026-11-20），已忽略。")
                    continue
                if tickets_api.in_date_range(day):
                    setattr(f, attr, day)
                else:
                    f.errors.append(f"{label}超出范围（{tickets_api.FIRST_DAY} 至 "
                                    f"{tickets_api.LAST_DAY}），已忽略。")
        if f.created_from and f.created_to and f.created_from > f.created_to:
            f.errors.append("起始日期晚于截止日期，没有符合条件的工单。")
        f.q = params.get("q", "").strip()[:SEARCH_MAX]
        sort = params.get("sort", "").strip()
        if sort in SORTS:
            f.sort = sort
        page = params.get("page", "").strip()
        f.page = int(page) if page.isdigit() and 0 < int(page) < 1_000_000 else 1
        return f

    def params(self, **changes: Any) -> dict[str, str]:
        values = replace(self, **changes) if changes else self
        out = {
            "q": values.q, "status": values.status, "topic": values.topic,
            "department": str(values.department) if values.department else "",
            "light": values.light,
            "from": values.created_from.isoformat() if values.created_from else "",
            "to": values.created_to.isoformat() if values.created_to else "",
            "sort": values.sort if values.sort != values.default_sort else "",
            "page": str(values.page) if values.page > 1 else "",
        }
        return {k: v for k, v in out.items() if v}

    def link(self, **changes: Any) -> str:
        query = urlencode(self.params(**changes))
        return "/console/tickets" + ("?" + query if query else "")


@dataclass(frozen=True)
class ListRow:
    number: str
    created_at: datetime
    topic_zh: str
    enterprise: str | None
    department: str | None
    status: str
    status_zh: str
    deadline: datetime
    light: str
    light_zh: str
    escalated: bool
    hot_issue: int | None = None  # the hot issue (热点问题) the ticket belongs to


def _ticket_query(f: Filters, department_id: int | None) -> Any:
    """The light-independent part of the list: the columns a light needs, filtered."""
    query = (
        select(Ticket.id, Ticket.status, Ticket.created_at, Ticket.deadline, Ticket.limit_days,
               Ticket.resolved_at)
        .outerjoin(Enterprise, Ticket.enterprise_id == Enterprise.id)
    )
    if department_id is not None:
        query = query.where(Ticket.department_id == department_id)
    if f.status:
        query = query.where(Ticket.status == f.status)
    if f.topic:
        query = query.where(Ticket.topic == f.topic)
    if f.created_from:
        query = query.where(Ticket.created_at >= _local_midnight(f.created_from))
    if f.created_to:
        query = query.where(
            Ticket.created_at < _local_midnight(f.created_to + timedelta(days=1)))
    if f.q:
        query = query.where(or_(
            Ticket.number.contains(f.q.upper(), autoescape=True),
            Enterprise.name.icontains(f.q, autoescape=True),  # ASCII case ignored on both engines
        ))
    if f.sort == "deadline":  # the work still to do first, most urgent on top
        still_open = case((Ticket.status.in_([s.value for s in OPEN_STATUSES]), 0), else_=1)
        return query.order_by(still_open, Ticket.deadline, Ticket.id)
    return query.order_by(Ticket.created_at.desc(), Ticket.id.desc())


def _list(session: Session, f: Filters, department_id: int | None,
          now: datetime) -> tuple[list[ListRow], dict[str, int], int]:
    """(rows of the page, counts per light before the light filter, matching tickets)."""
    lit: list[tuple[int, sla.Light]] = []
    for row in session.execute(_ticket_query(f, department_id)):
        # light_of reads only status, created_at, deadline, limit_days and resolved_at,
        # which the row has: one rule for the colour, without loading whole tickets.
        lit.append((row.id, tickets.light_of(cast(Ticket, row), now)))
    counts = {light.value: 0 for light in LIGHTS}
    for _, light in lit:
        counts[light.value] += 1
    if f.light:
        lit = [(i, light) for i, light in lit if light.value == f.light]
    total = len(lit)
    start = (f.page - 1) * PAGE_SIZE
    page = lit[start:start + PAGE_SIZE]
    loaded = {
        t.id: t for t in session.scalars(
            select(Ticket).where(Ticket.id.in_([i for i, _ in page]))
            .options(selectinload(Ticket.enterprise), selectinload(Ticket.department)))
    }
    hot_of = hot_service.for_tickets(session, [i for i, _ in page])
    rows = []
    for ticket_id, light in page:
        t = loaded[ticket_id]
        rows.append(ListRow(
            number=t.number, created_at=t.created_at, topic_zh=_topic_zh(t.topic),
            enterprise=t.enterprise.name if t.enterprise else None,
            department=t.department.name if t.department else None,
            status=t.status, status_zh=_status_zh(t.status), deadline=t.deadline,
            light=light.value, light_zh=_light_words(t.status, light), escalated=t.escalated,
            hot_issue=hot_of[t.id].issue_id if t.id in hot_of else None,
        ))
    return rows, counts, total


@router.get("/tickets", response_class=HTMLResponse)
def ticket_list(request: Request, actor: Actor = Depends(current_actor)) -> Response:
    try:
        own = own_department(actor)
    except PermissionError as exc:
        raise Forbidden(str(exc)) from None
    now = request_now(request)
    with session_scope(get_ctx(request).db_url) as session:
        departments = dict(session.execute(
            select(Department.id, Department.name).order_by(Department.id)).all())
        f = Filters.parse(request.query_params, actor, departments)
        scope = own if own is not None else f.department
        rows, counts, total = _list(session, f, scope, now)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    if own is not None:
        title = f"{actor.department or departments.get(own, '本部门')} · 工单"
    else:
        title = "工单"
    return render(
        request, "tickets_list.html", actor, title=title, f=f, rows=rows, counts=counts,
        total=total, all_count=sum(counts.values()), pages=pages, page_size=PAGE_SIZE,
        lights=LIGHTS, statuses=list(STATUS_ZH.items()),
        topics=[(t.name, t.zh) for t in routing.load_taxonomy().topics.values()],
        departments=list(departments.items()), sorts=list(SORTS.items()),
        department_locked=own is not None, link=f.link,
    )


# --- one ticket ---------------------------------------------------------------------------


def _load(session: Session, number: str, actor: Actor) -> Ticket:
    """The ticket ``number`` if ``actor`` may handle it (TicketNotFound, Forbidden)."""
    ticket = tickets.by_number(session, number)
    if not may_handle(actor, ticket):
        raise Forbidden(tickets_api.OTHER_DEPARTMENT)
    return ticket


def _actions(actor: Actor, status: TicketStatus) -> dict[str, bool]:
    allowed = lifecycle.ALLOWED_FROM
    return {
        "take": status in allowed["take"],
        "reply": status in allowed["resolve"],
        "redispatch": may_redispatch(actor) and status in allowed["dispatch"],
        "reopen": status in allowed["reopen"],
    }


def _view(session: Session, ticket: Ticket, actor: Actor, now: datetime) -> dict[str, Any]:
    """Everything the detail page shows, read inside the session."""
    status = TicketStatus(ticket.status)
    light = tickets.light_of(ticket, now)
    company = ticket.enterprise
    enterprise = None
    if company is not None:
        enterprise = {
            "name": company.name, "uscc": company.uscc, "contact_name": company.contact_name,
            "contact_phone": company.contact_phone, "district": company.district,
            "created_at": company.created_at,
            "ticket_count": session.scalar(
                select(func.count(Ticket.id)).where(Ticket.enterprise_id == company.id)),
        }
    channel = (ticket.conversation_id or "").partition(":")[0]
    events = [
        {"at": e.at, "who": _actor_zh(e.actor), "actor": e.actor,
         "from": _status_zh(e.from_status) if e.from_status else None,
         "to": _status_zh(e.to_status), "note": e.note}
        for e in session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
            .order_by(TicketEvent.id))
    ]
    ratings = []
    for r in session.scalars(select(Rating).where(Rating.ticket_id == ticket.id)
                             .order_by(Rating.round)):
        try:
            level_zh = RATING_ZH[RatingLevel(r.level)]
        except ValueError:
            level_zh = r.level
        ratings.append({"round": r.round + 1, "level": r.level, "level_zh": level_zh,
                        "comment": r.comment, "at": r.at})
    checks = [
        {"round": c.round + 1, "at": c.at, "shown": c.shown,
         "titles": [reply_check.TITLES.get(code, code) for code in c.warnings]}
        for c in session.scalars(select(ReplyCheck).where(ReplyCheck.ticket_id == ticket.id)
                                 .order_by(ReplyCheck.round))
    ]
    return {
        "hot": hot_service.for_tickets(session, [ticket.id]).get(ticket.id),
        "reply_checks": checks,
        "number": ticket.number, "status": status.value, "status_zh": status.zh,
        "topic": ticket.topic, "topic_zh": _topic_zh(ticket.topic),
        "act_zh": ACTS.get(ticket.act, ticket.act), "description": ticket.description,
        "department": ticket.department.name if ticket.department else None,
        "department_id": ticket.department_id,
        "department_phone": ticket.department.phone if ticket.department else None,
        "contact_name": ticket.contact_name, "contact_phone": ticket.contact_phone,
        "channel": CHANNELS.get(channel, "无（线下受理）" if not channel else channel),
        "created_at": ticket.created_at, "deadline": ticket.deadline,
        "limit_days": ticket.limit_days, "resolved_at": ticket.resolved_at,
        "first_resolved_at": ticket.first_resolved_at, "reply": ticket.reply,
        "escalated": ticket.escalated, "reopen_count": ticket.reopen_count,
        "applicant_verified": bool(ticket.applicant_verified),
        "light": light.value, "light_zh": _light_words(ticket.status, light),
        "enterprise": enterprise, "events": events, "ratings": ratings,
        "actions": _actions(actor, status),
    }


def _detail_page(request: Request, actor: Actor, number: str, *, status_code: int = 200,
                 flash: str | None = None, flash_kind: str = "ok",
                 draft: Mapping[str, str] | None = None,
                 review: reply_check.ReplyReview | None = None) -> Response:
    now = request_now(request)
    with session_scope(get_ctx(request).db_url) as session:
        try:
            ticket = _load(session, number, actor)
        except tickets.TicketNotFound:
            return _not_found(request, actor, number.strip()[:40])
        view = _view(session, ticket, actor, now)
        others = [
            (d.id, d.name) for d in session.scalars(select(Department).order_by(Department.id))
            if d.id != ticket.department_id
        ]
    return render(
        request, "ticket_detail.html", actor, status_code=status_code,
        title=f"工单 {view['number']}", t=view, departments=others, flash=flash,
        flash_kind=flash_kind, draft=dict(draft or {}), reply_max=lifecycle.REPLY_MAX_CHARS,
        note_max=NOTE_MAX, review=review,
    )


@router.get("/tickets/{number}", response_class=HTMLResponse)
def ticket_detail(request: Request, number: str, ok: str = "",
                  actor: Actor = Depends(current_actor)) -> Response:
    return _detail_page(request, actor, number, flash=OK_MESSAGES.get(ok))


Work = Callable[[Session, Ticket, datetime], None]


def _act(request: Request, actor: Actor, number: str, ok: str, work: Work,
         draft: Mapping[str, str] | None = None) -> Response:
    """Run one handling step; redirect on success, the page with the reason otherwise."""
    now = request_now(request)
    try:
        with session_scope(get_ctx(request).db_url) as session:
            ticket = _load(session, number, actor)
            work(session, ticket, now)
            canonical, conversation = ticket.number, ticket.conversation_id
    except tickets.TicketNotFound:
        return _not_found(request, actor, number.strip()[:40])
    except tickets.DepartmentNotFound:
        return _detail_page(request, actor, number, status_code=422, flash_kind="error",
                            flash="所选的承办部门不存在，请重新选择。", draft=draft)
    except lifecycle.InvalidTransition as exc:
        return _detail_page(request, actor, number, status_code=409, flash=exc.message,
                            flash_kind="error", draft=draft)
    except lifecycle.InvalidInput as exc:
        return _detail_page(request, actor, number, status_code=422, flash=exc.message,
                            flash_kind="error", draft=draft)
    tickets_api.deliver_now(request, conversation)
    return RedirectResponse(f"/console/tickets/{quote(canonical)}?ok={ok}", status_code=303)


@router.post("/tickets/{number}/take")
def take(request: Request, number: str, note: str = Form(""),
         actor: Actor = Depends(require_csrf)) -> Response:
    def work(session: Session, ticket: Ticket, now: datetime) -> None:
        lifecycle.take(session, ticket, actor=actor.who, now=now, note=_clean_note(note))

    return _act(request, actor, number, "take", work, {"take_note": note})


@router.post("/tickets/{number}/status")
def change_status(request: Request, number: str, to: str = Form(""), note: str = Form(""),
                  department_id: str = Form(""),
                  actor: Actor = Depends(require_csrf)) -> Response:
    """The generic step: ``to`` is a status value (``in_progress`` …), as in the JSON API."""
    if to == TicketStatus.DISPATCHED.value and not may_redispatch(actor):
        raise Forbidden(tickets_api.ONLY_DISPATCHERS)

    def work(session: Session, ticket: Ticket, now: datetime) -> None:
        dept = None
        if department_id.strip():
            if not department_id.strip().isdigit():
                raise tickets.DepartmentNotFound(department_id)
            dept = session.get(Department, int(department_id))
            if dept is None:
                raise tickets.DepartmentNotFound(department_id)
        what = "答复" if to == TicketStatus.RESOLVED.value else "说明"
        text = note.strip() if to == TicketStatus.RESOLVED.value else _clean_note(note, what)
        lifecycle.change_status(session, ticket, to, actor=actor.who, now=now, note=text,
                                department=dept)

    return _act(request, actor, number, "status", work, {"status_note": note})


@router.post("/tickets/{number}/reply")
def reply(request: Request, number: str, reply: str = Form(""), intent: str = Form("send"),
          confirm: str = Form(""), actor: Actor = Depends(require_csrf)) -> Response:
    """办结 with a written reply, checked first (:mod:`hotline.reply_check`).

    ``intent=check`` only shows the warnings. ``intent=send`` sends at once when the
    check finds nothing, else shows the warnings with a 仍然发送 button (``confirm=1``),
    which sends and records that the writer saw them."""
    draft = {"reply": reply}
    if intent == "check" or not confirm:
        with session_scope(get_ctx(request).db_url) as session:
            try:
                ticket = _load(session, number, actor)
            except tickets.TicketNotFound:
                return _not_found(request, actor, number.strip()[:40])
            description, status = ticket.description, TicketStatus(ticket.status)
        # a reply that cannot be sent anyway (wrong status, empty, too long) is refused first
        sendable = (status in lifecycle.ALLOWED_FROM["resolve"] and reply.strip()
                    and len(reply.strip()) <= lifecycle.REPLY_MAX_CHARS)
        if sendable:
            review = reply_check.check(description, reply)
            if intent == "check" or not review.ok:
                return _detail_page(request, actor, number, draft=draft, review=review)

    def work(session: Session, ticket: Ticket, now: datetime) -> None:
        lifecycle.resolve(session, ticket, reply, actor=actor.who, now=now,
                          warnings_shown=bool(confirm))

    return _act(request, actor, number, "reply", work, draft)


@router.post("/tickets/{number}/redispatch")
def redispatch(request: Request, number: str, department_id: str = Form(""),
               note: str = Form(""), actor: Actor = Depends(require_csrf)) -> Response:
    if not may_redispatch(actor):
        raise Forbidden(tickets_api.ONLY_DISPATCHERS)

    def work(session: Session, ticket: Ticket, now: datetime) -> None:
        if not department_id.strip():
            raise lifecycle.InvalidInput("改派须选择新的承办部门。")
        dept = session.get(Department, int(department_id)) if department_id.isdigit() else None
        if dept is None:
            raise tickets.DepartmentNotFound(department_id)
        lifecycle.dispatch(session, ticket, dept, actor=actor.who, now=now,
                           note=_clean_note(note, "改派理由"))

    return _act(request, actor, number, "redispatch", work, {"redispatch_note": note})


@router.post("/tickets/{number}/reopen")
def reopen(request: Request, number: str, reason: str = Form(""),
           actor: Actor = Depends(require_csrf)) -> Response:
    def work(session: Session, ticket: Ticket, now: datetime) -> None:
        lifecycle.reopen(session, ticket, actor=actor.who, now=now,
                         reason=_clean_note(reason, "重办理由"))

    return _act(request, actor, number, "reopen", work, {"reopen_reason": reason})
