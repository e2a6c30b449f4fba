"""Ticket service (诉求工单): numbering, creation with dispatch, lookups with identity checks.

Adapters (actions, console, gateway) call these functions; they never query tickets inline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline import routing, sla
from hotline.models import (
    OPEN_STATUSES,
    ChannelIdentity,
    Department,
    Ticket,
    TicketEvent,
    TicketSequence,
    TicketStatus,
)
from hotline.settings import get_settings

TICKET_NUMBER_FORMAT = "T{day}-{seq:04d}"


class TicketNotFound(LookupError):
    pass


class TicketNotVisible(PermissionError):
    """The ticket exists but belongs to another enterprise or conversation."""


def next_number(session: Session, when: datetime) -> str:
    """Allocate ``T<yyyymmdd>-<nnnn>``: per local day, in the same transaction as the ticket."""
    day = when.astimezone(sla.TZ).strftime("%Y%m%d")
    seq = session.scalar(select(TicketSequence).where(TicketSequence.day == day).with_for_update())
    if seq is None:
        seq = TicketSequence(day=day, last=0)
        session.add(seq)
    seq.last += 1
    session.flush()
    return TICKET_NUMBER_FORMAT.format(day=day, seq=seq.last)


def department_named(session: Session, name: str) -> Department:
    dept = session.scalar(select(Department).where(Department.name == name))
    if dept is None:
        dept = Department(name=name)
        session.add(dept)
        session.flush()
    return dept


def create_ticket(
    session: Session,
    *,
    topic: str,
    description: str,
    conversation_id: str | None,
    enterprise_id: int | None = None,
    contact_name: str | None = None,
    contact_phone: str | None = None,
    act: str = "appeal",
    actor: str = "enterprise",
    now: datetime | None = None,
) -> Ticket:
    """Receive a ticket and dispatch it at once to the topic's department (即收即分)."""
    now = now or datetime.now(timezone.utc)
    route = routing.route(topic, get_settings().routing_file)
    dept = department_named(session, route.department)
    ticket = Ticket(
        number=next_number(session, now),
        topic=topic,
        act=act,
        description=description,
        status=TicketStatus.DISPATCHED.value,
        enterprise_id=enterprise_id,
        department_id=dept.id,
        conversation_id=conversation_id,
        contact_name=contact_name,
        contact_phone=contact_phone,
        limit_days=route.days,
        created_at=now,
        deadline=sla.add_workdays(now, route.days),
    )
    session.add(ticket)
    session.flush()
    session.add_all(
        [
            TicketEvent(
                ticket_id=ticket.id, at=now, actor=actor, from_status=None,
                to_status=TicketStatus.RECEIVED.value, note="受理",
            ),
            TicketEvent(
                ticket_id=ticket.id, at=now, actor="system:routing",
                from_status=TicketStatus.RECEIVED.value,
                to_status=TicketStatus.DISPATCHED.value, note=f"分派至{dept.name}",
            ),
        ]
    )
    session.flush()
    return ticket


def _enterprise_of(session: Session, conversation_id: str) -> int | None:
    return session.scalar(
        select(ChannelIdentity.enterprise_id).where(
            ChannelIdentity.conversation_id == conversation_id
        )
    )


def visible_to(session: Session, ticket: Ticket, conversation_id: str) -> bool:
    """A ticket is shown only to its own conversation or to its enterprise's identities."""
    if ticket.conversation_id == conversation_id:
        return True
    enterprise_id = _enterprise_of(session, conversation_id)
    return enterprise_id is not None and enterprise_id == ticket.enterprise_id


def ticket_for(session: Session, number: str, conversation_id: str) -> Ticket:
    ticket = session.scalar(select(Ticket).where(Ticket.number == number.strip().upper()))
    if ticket is None:
        raise TicketNotFound(number)
    if not visible_to(session, ticket, conversation_id):
        raise TicketNotVisible(number)
    return ticket


def open_tickets_for(session: Session, conversation_id: str) -> list[Ticket]:
    enterprise_id = _enterprise_of(session, conversation_id)
    owner = Ticket.conversation_id == conversation_id
    if enterprise_id is not None:
        owner = owner | (Ticket.enterprise_id == enterprise_id)
    statuses = [s.value for s in OPEN_STATUSES]
    return list(
        session.scalars(
            select(Ticket).where(owner, Ticket.status.in_(statuses)).order_by(Ticket.created_at)
        )
    )


@dataclass(frozen=True)
class TicketView:
    """What an enterprise is told about a ticket's progress."""

    number: str
    topic: str
    topic_zh: str
    status_zh: str
    department: str
    deadline: str
    light: str
    reply: str | None


def view(ticket: Ticket, now: datetime | None = None) -> TicketView:
    now = now or datetime.now(timezone.utc)
    status = TicketStatus(ticket.status)
    deadline = sla.as_local(ticket.deadline)
    if status in OPEN_STATUSES:
        light = sla.traffic_light(ticket.created_at, ticket.deadline, now, ticket.limit_days)
        light_text = f"{light.emoji} {light.zh}"
    else:
        on_time = sla.closed_on_time(ticket.deadline, ticket.resolved_at or now)
        light_text = "按期办结" if on_time else "超期办结"
    return TicketView(
        number=ticket.number,
        topic=ticket.topic,
        topic_zh=routing.load_taxonomy().topic(ticket.topic).zh,
        status_zh=status.zh,
        department=ticket.department.name if ticket.department else "待分派",
        deadline=deadline.strftime("%Y年%m月%d日 %H:%M"),
        light=light_text,
        reply=ticket.reply,
    )
