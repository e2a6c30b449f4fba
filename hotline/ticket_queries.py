"""Tickets as staff read them: the search behind every ticket list and the detail of one.

Why this module exists: the console's ticket pages and its JSON API show the same tickets,
filtered, lit and ordered by the same rules, so the rules are written once here and both
adapters only lay the results out (:mod:`hotline.tickets` changes tickets; this module
only reads them).

- :func:`search`: tickets by department, status, topic, light, local creation dates and a
  text (part of the number, or of the enterprise's name, ASCII case ignored on both
  engines), in an :class:`Order`, a slice at a time, with the count of each light before
  the light filter. A light depends on ``now`` (:func:`hotline.tickets.light_of`: green on
  time / red late once closed), so it is worked out for every matching ticket from five
  columns and filtered after the query; only the slice's tickets are loaded whole.
- :func:`department_work_list`: a department's work list, most urgent deadline first, as
  :class:`DepartmentTicket` rows (the JSON API's form).
- :func:`detail`: one ticket with its trail, ratings, reply checks, hot issue and how many
  tickets its enterprise has filed.
- The words staff read for a ticket beyond the core's vocabulary
  (:func:`hotline.routing.topic_zh`, :func:`hotline.sla.light_words`): :func:`status_zh`,
  :func:`light_zh` (a list's colour in words), :func:`actor_zh`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from enum import Enum
from typing import Any, cast

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session, selectinload

from hotline import routing, sla
from hotline.hot import service as hot_service
from hotline.localtime import local_midnight
from hotline.models import (
    OPEN_STATUSES,
    Department,
    Enterprise,
    Rating,
    ReplyCheck,
    Ticket,
    TicketEvent,
    TicketStatus,
)
from hotline.tickets import DepartmentNotFound, light_of

LIGHTS = (sla.Light.RED, sla.Light.YELLOW, sla.Light.GREEN)
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)


def in_date_range(day: date) -> bool:
    """Whether a date filter is one a ticket can have: at the calendar's ends local midnight
    has no UTC instant (0001-01-01, the day after 9999-12-31), and the query would fail."""
    return FIRST_DAY <= day <= LAST_DAY


# --- words --------------------------------------------------------------------------------


def status_zh(status: str) -> str:
    try:
        return TicketStatus(status).zh
    except ValueError:
        return status


def light_zh(status: str, light: sla.Light) -> str:
    """绿灯/黄灯/红灯 for an open ticket; 按期/超期办结 for a closed one (a status that is
    none of the known ones reads as open)."""
    try:
        closed = TicketStatus(status) not in OPEN_STATUSES
    except ValueError:
        closed = False
    return sla.light_words(light, closed=closed)


def actor_zh(actor: str) -> str:
    """How a ticket's trail names who did something (``staff:周住建`` → 周住建)."""
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


def department_names(session: Session) -> dict[int, str]:
    """Every department on file, id → name, in id order."""
    return dict(session.execute(  # type: ignore[arg-type]
        select(Department.id, Department.name).order_by(Department.id)).all())


# --- search -------------------------------------------------------------------------------


class Order(str, Enum):
    NEWEST = "newest"  # received last first
    WORK = "work"  # open tickets first, then the nearest deadline (a department's work order)
    DEADLINE = "deadline"  # the nearest deadline first, open or closed


@dataclass(frozen=True)
class Criteria:
    """What a list asks for; an empty field does not filter."""

    department_id: int | None = None
    status: str | None = None
    topic: str | None = None
    light: str | None = None
    created_from: date | None = None  # local days, both inclusive
    created_to: date | None = None
    text: str = ""  # part of the number, or of the enterprise's name
    order: Order = Order.NEWEST


@dataclass(frozen=True)
class Found:
    """A slice of the matching tickets, lit, with what the list says around it."""

    tickets: list[tuple[Ticket, sla.Light]]  # enterprise and department loaded
    counts: dict[str, int]  # per light, before the light filter
    total: int  # matching tickets, after the light filter
    hot: dict[int, hot_service.TicketHot] = field(default_factory=dict)  # ticket id → its issue


def _query(criteria: Criteria) -> Any:
    """The light-independent part of the search: the columns a light needs, filtered."""
    query = (
        select(Ticket.id, Ticket.status, Ticket.created_at, Ticket.deadline, Ticket.limit_days,
               Ticket.resolved_at)
        .outerjoin(Enterprise, Ticket.enterprise_id == Enterprise.id)
    )
    if criteria.department_id is not None:
        query = query.where(Ticket.department_id == criteria.department_id)
    if criteria.status:
        query = query.where(Ticket.status == criteria.status)
    if criteria.topic:
        query = query.where(Ticket.topic == criteria.topic)
    if criteria.created_from:
        query = query.where(Ticket.created_at >= local_midnight(criteria.created_from))
    if criteria.created_to:
        query = query.where(
            Ticket.created_at < local_midnight(criteria.created_to + timedelta(days=1)))
    if criteria.text:
        query = query.where(or_(
            Ticket.number.contains(criteria.text.upper(), autoescape=True),
            Enterprise.name.icontains(criteria.text, autoescape=True),  # ASCII case, both engines
        ))
    if criteria.order is Order.WORK:
        still_open = case((Ticket.status.in_([s.value for s in OPEN_STATUSES]), 0), else_=1)
        return query.order_by(still_open, Ticket.deadline, Ticket.id)
    if criteria.order is Order.DEADLINE:
        return query.order_by(Ticket.deadline, Ticket.id)
    return query.order_by(Ticket.created_at.desc(), Ticket.id.desc())


def search(session: Session, criteria: Criteria, now: datetime, *, offset: int = 0,
           limit: int | None = None) -> Found:
    """The tickets matching ``criteria``, lit at ``now``: ``limit`` of them from ``offset``."""
    lit: list[tuple[int, sla.Light]] = []
    for row in session.execute(_query(criteria)):
        # light_of reads only status, created_at, deadline, limit_days and resolved_at,
        # which the row has: one rule for the colour, without loading whole tickets.
        lit.append((row.id, light_of(cast(Ticket, row), now)))
    counts = {light.value: 0 for light in LIGHTS}
    for _, light in lit:
        counts[light.value] += 1
    if criteria.light:
        lit = [(i, light) for i, light in lit if light.value == criteria.light]
    chosen = lit[offset:] if limit is None else lit[offset:offset + limit]
    ids = [i for i, _ in chosen]
    loaded = {
        t.id: t for t in session.scalars(
            select(Ticket).where(Ticket.id.in_(ids))
            .options(selectinload(Ticket.enterprise), selectinload(Ticket.department)))
    }
    return Found(tickets=[(loaded[i], light) for i, light in chosen], counts=counts,
                 total=len(lit), hot=hot_service.for_tickets(session, ids))


# --- a department's work list -------------------------------------------------------------


@dataclass(frozen=True)
class DepartmentTicket:
    """A row of a department's work list (JSON-ready through :meth:`as_dict`)."""

    number: str
    topic: str
    topic_zh: str
    status: str
    status_zh: str
    light: str
    light_zh: str
    created_at: str
    deadline: str
    description: str
    enterprise: str | None
    contact_name: str | None
    contact_phone: str | None
    reply: str | None
    escalated: bool
    reopen_count: int
    applicant_verified: bool

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def work_item(ticket: Ticket, now: datetime) -> DepartmentTicket:
    """A ticket as a department's work list shows it, lit at ``now``."""
    light = light_of(ticket, now)
    status = TicketStatus(ticket.status)
    return DepartmentTicket(
        number=ticket.number,
        topic=ticket.topic,
        topic_zh=routing.load_taxonomy().topic(ticket.topic).zh,
        status=status.value,
        status_zh=status.zh,
        light=light.value,
        light_zh=light.zh,
        created_at=sla.as_local(ticket.created_at).isoformat(),
        deadline=sla.as_local(ticket.deadline).isoformat(),
        description=ticket.description,
        enterprise=ticket.enterprise.name if ticket.enterprise else None,
        contact_name=ticket.contact_name,
        contact_phone=ticket.contact_phone,
        reply=ticket.reply,
        escalated=ticket.escalated,
        reopen_count=ticket.reopen_count,
        applicant_verified=bool(ticket.applicant_verified),
    )


def department_work_list(
    session: Session,
    department_id: int,
    *,
    status: str | None = None,
    topic: str | None = None,
    light: str | None = None,
    created_from: date | None = None,
    created_to: date | None = None,
    now: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[Department, list[DepartmentTicket]]:
    """The department and its tickets, most urgent deadline first (``DepartmentNotFound``)."""
    now = now or datetime.now(timezone.utc)
    department = session.get(Department, department_id)
    if department is None:
        raise DepartmentNotFound(department_id)
    criteria = Criteria(
        department_id=department_id, status=TicketStatus(status).value if status else None,
        topic=topic, light=sla.Light(light).value if light else None,
        created_from=created_from, created_to=created_to, order=Order.DEADLINE)
    found = search(session, criteria, now, offset=offset, limit=limit)
    return department, [work_item(ticket, now) for ticket, _ in found.tickets]


# --- one ticket ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Detail:
    """One ticket and everything recorded about it, read inside the session."""

    ticket: Ticket
    light: sla.Light
    events: list[TicketEvent]
    ratings: list[Rating]  # by round
    reply_checks: list[ReplyCheck]  # by round
    hot: hot_service.TicketHot | None
    enterprise_tickets: int  # tickets the ticket's enterprise has filed (0 without one)


def detail(session: Session, ticket: Ticket, now: datetime) -> Detail:
    company = ticket.enterprise
    filed = 0
    if company is not None:
        filed = session.scalar(
            select(func.count(Ticket.id)).where(Ticket.enterprise_id == company.id)) or 0
    return Detail(
        ticket=ticket,
        light=light_of(ticket, now),
        events=list(session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
            .order_by(TicketEvent.id))),
        ratings=list(session.scalars(
            select(Rating).where(Rating.ticket_id == ticket.id).order_by(Rating.round))),
        reply_checks=list(session.scalars(
            select(ReplyCheck).where(ReplyCheck.ticket_id == ticket.id)
            .order_by(ReplyCheck.round))),
        hot=hot_service.for_tickets(session, [ticket.id]).get(ticket.id),
        enterprise_tickets=filed,
    )
