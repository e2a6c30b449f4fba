"""Ticket service (诉求工单): numbering, creation with dispatch, lookups with identity checks.

Adapters (actions, console, gateway) call these functions and :mod:`hotline.ticket_queries`
(the staff's lists and detail); they never query tickets inline.
"""

from __future__ import annotations

import html
import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hotline import identity, lifecycle, routing, sla
from hotline.models import (
    OPEN_STATUSES,
    Department,
    Ticket,
    TicketEvent,
    TicketSequence,
    TicketStatus,
)
from hotline.settings import get_settings

TICKET_NUMBER_FORMAT = "T{day}-{seq:04d}"
logger = logging.getLogger(__name__)


class TicketNotFound(LookupError):
    pass


class TicketNotVisible(TicketNotFound):
    """The ticket exists but belongs to another enterprise or conversation."""


class DepartmentNotFound(LookupError):
    pass


def _insert(dialect: str, table):  # type: ignore[no-untyped-def]
    """An ``INSERT`` that can say ``ON CONFLICT`` on the given database dialect."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"ticket numbering needs SQLite or PostgreSQL, not {dialect}")


def next_number(session: Session, when: datetime) -> str:
    """Allocate ``T<yyyymmdd>-<nnnn>``: per local day, in the same transaction as the ticket.

    One atomic statement (``INSERT … ON CONFLICT (day) DO UPDATE SET last = last + 1
    RETURNING last``): concurrent tickets never read the same counter. On PostgreSQL the
    row lock is held until the ticket's transaction ends; on SQLite the statement takes the
    database's write lock (waiting up to the busy timeout) for the same span, so a number
    is never given twice and no number is skipped when a transaction rolls back.
    """
    day = when.astimezone(sla.TZ).strftime("%Y%m%d")
    last = session.execute(sequence_statement(session.get_bind().dialect.name, day)).scalar_one()
    return TICKET_NUMBER_FORMAT.format(day=day, seq=last)


def sequence_statement(dialect: str, day: str):  # type: ignore[no-untyped-def]
    """The counter's upsert for ``day`` on ``dialect`` (``sqlite`` or ``postgresql``)."""
    table = TicketSequence.__table__
    return _insert(dialect, table).values(day=day, last=1).on_conflict_do_update(
        index_elements=[table.c.day], set_={"last": table.c.last + 1},
    ).returning(table.c.last)


def department_named(session: Session, name: str) -> Department:
    """The department called ``name``, created if new (concurrent callers get the same row)."""
    dept = session.scalar(select(Department).where(Department.name == name))
    if dept is None:
        stmt = _insert(session.get_bind().dialect.name, Department.__table__).values(name=name)
        session.execute(stmt.on_conflict_do_nothing(index_elements=[Department.__table__.c.name]))
        dept = session.scalar(select(Department).where(Department.name == name))
        assert dept is not None
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
    applicant_verified: bool = False,
    act: str = "appeal",
    actor: str = "enterprise",
    now: datetime | None = None,
    notify: bool = True,
) -> Ticket:
    """Receive a ticket and dispatch it at once to the topic's department (即收即分).

    ``notify=False`` when the chat that opened it tells the receipt itself.

    The dispatch is a lifecycle transition, so the enterprise's conversation gets the
    receipt (number, department, deadline) through the outbox in this transaction.
    """
    now = now or datetime.now(timezone.utc)
    route = routing.route(topic, get_settings().routing_file)
    dept = department_named(session, route.department)
    ticket = Ticket(
        number=next_number(session, now),
        topic=topic,
        act=act,
        description=description,
        status=TicketStatus.RECEIVED.value,
        enterprise_id=enterprise_id,
        conversation_id=conversation_id,
        contact_name=contact_name,
        contact_phone=contact_phone,
        limit_days=route.days,
        created_at=now,
        deadline=sla.add_workdays(now, route.days),
        escalated=False,
        reopen_count=0,
        applicant_verified=applicant_verified,
    )
    session.add(ticket)
    session.flush()
    session.add(
        TicketEvent(
            ticket_id=ticket.id, at=now, actor=actor, from_status=None,
            to_status=TicketStatus.RECEIVED.value, note="受理",
        )
    )
    lifecycle.dispatch(session, ticket, dept, actor="system:routing", now=now, notify=notify)
    _group_for_hot_issues(session, ticket, now)
    session.refresh(ticket, ["events"])
    return ticket


def _group_for_hot_issues(session: Session, ticket: Ticket, now: datetime) -> None:
    """Place the ticket among the problems other enterprises raised (热点问题), in a
    savepoint: a failure there is logged and never costs the enterprise its ticket."""
    from hotline.hot import service as hot

    try:
        with session.begin_nested():
            hot.on_ticket(session, ticket, now=now)
    except Exception:  # noqa: BLE001 - grouping is an aid; the ticket must be received
        logger.exception("hot issues: grouping ticket %s failed", ticket.number)
        hot.forget_index()


# --- description of a new ticket ---------------------------------------------------------

DESCRIPTION_MAX_CHARS = 2000
"""Longer descriptions are kept whole, but the enterprise is told they were long."""

_TAG = re.compile(r"<!--.*?-->|</?[A-Za-z][A-Za-z0-9:-]*(?:\s[^<>]*)?/?>", re.S)
_INVISIBLE = re.compile("[\u200b-\u200f\u2060-\u2064\ufeff]")
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class DescriptionIssue:
    """What is wrong with a description; ``blocking`` ones must be asked again."""

    code: str  # empty | markup_only | no_words | too_long
    message: str
    blocking: bool


def validate_description(text: str | None) -> tuple[str, DescriptionIssue | None]:
    """``(clean_text, issue)`` for a ticket description typed into the form.

    Why: a department cannot act on an empty message, a sticker or a pasted fragment of a
    web page, and the enterprise should learn that now, not after the deadline. The text
    is only tidied (line ends, invisible characters, runs of blank lines, outer spaces);
    markup inside real text is kept as written and escaped wherever it is rendered.
    """
    clean = _INVISIBLE.sub("", (text or "").replace("\r\n", "\n").replace("\r", "\n"))
    clean = _BLANK_LINES.sub("\n\n", clean).strip()
    if not clean:
        return "", DescriptionIssue(
            "empty", "诉求内容不能为空，请用文字描述您遇到的具体问题（如事项、时间、涉及部门）。", True
        )
    visible = html.unescape(_TAG.sub(" ", clean)).strip()
    if not visible:
        return clean, DescriptionIssue(
            "markup_only", "您发送的内容只有网页标签，没有文字，请直接用文字描述您遇到的问题。", True
        )
    if not any(unicodedata.category(ch)[0] in "LN" for ch in visible):
        return clean, DescriptionIssue(
            "no_words", "只有表情或符号的内容无法受理，请用文字描述您遇到的具体问题。", True
        )
    if len(clean) > DESCRIPTION_MAX_CHARS:
        return clean, DescriptionIssue(
            "too_long",
            f"您的描述较长（{len(clean)}字），已完整保存；为便于部门尽快办理，"
            f"建议把最关键的问题概括在{DESCRIPTION_MAX_CHARS}字以内。",
            False,
        )
    return clean, None


def visible_to(session: Session, ticket: Ticket, conversation_id: str) -> bool:
    """A ticket is shown to the conversation that filed it, and to chats *verified* for its
    enterprise (a typed, public credit code is only a claim: see :mod:`hotline.identity`)."""
    if ticket.conversation_id == conversation_id:
        return True
    enterprise_id = identity.verified_enterprise(session, conversation_id)
    return enterprise_id is not None and enterprise_id == ticket.enterprise_id


def ticket_for(session: Session, number: str, conversation_id: str) -> Ticket:
    """The ticket if this chat may see it. ``TicketNotVisible`` subclasses ``TicketNotFound``
    so callers that answer both the same way (they must: numbers can't be probed) catch one."""
    ticket = session.scalar(select(Ticket).where(Ticket.number == number.strip().upper()))
    if ticket is None:
        raise TicketNotFound(number)
    if not visible_to(session, ticket, conversation_id):
        raise TicketNotVisible(number)
    return ticket


def others_hidden(session: Session, conversation_id: str) -> int:
    """How many open tickets of the claimed enterprise this unverified chat can't see."""
    claim = identity.claim_of(session, conversation_id)
    if claim is None or claim.verified:
        return 0
    statuses = [s.value for s in OPEN_STATUSES]
    return len(session.scalars(select(Ticket.id).where(
        Ticket.enterprise_id == claim.enterprise_id, Ticket.status.in_(statuses),
        (Ticket.conversation_id != conversation_id) | Ticket.conversation_id.is_(None),
    )).all())


def created_since(session: Session, conversation_id: str, since: datetime) -> Ticket | None:
    """The latest ticket this conversation filed at or after ``since`` (None if none)."""
    return session.scalar(
        select(Ticket).where(Ticket.conversation_id == conversation_id, Ticket.created_at >= since)
        .order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(1)
    )


def open_tickets_for(session: Session, conversation_id: str) -> list[Ticket]:
    enterprise_id = identity.verified_enterprise(session, conversation_id)
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


# --- lookups for staff and the chat ------------------------------------------------------


def by_number(session: Session, number: str) -> Ticket:
    """The ticket with ``number`` (any case, outer spaces ignored), for staff: no identity check."""
    ticket = session.scalar(select(Ticket).where(Ticket.number == (number or "").strip().upper()))
    if ticket is None:
        raise TicketNotFound(number)
    return ticket


def light_of(ticket: Ticket, now: datetime) -> sla.Light:
    """The colour a list shows: the traffic light when open, green/red for on time/late when closed."""
    if TicketStatus(ticket.status) in OPEN_STATUSES:
        return sla.traffic_light(ticket.created_at, ticket.deadline, now, ticket.limit_days)
    return sla.closed_light(ticket.deadline, ticket.resolved_at or now).light


def rate_from_chat(
    session: Session,
    *,
    number: str,
    level: str,
    conversation_id: str,
    round_: int | None = None,
    comment: str | None = None,
    now: datetime | None = None,
) -> lifecycle.RatingOutcome:
    """The enterprise pressed a rating button (``/inform{"ticket_id":…,"rating":…,"round":…}``).

    Only the ticket's own conversation or enterprise may rate it. Raises TicketNotFound,
    TicketNotVisible, or a :class:`lifecycle.LifecycleError` whose ``message`` is for the user.
    """
    ticket = ticket_for(session, number, conversation_id)
    return lifecycle.rate(
        session, ticket, level, comment, actor="enterprise", conversation_id=conversation_id,
        round_=round_, now=now,
    )


# --- staff steps ---------------------------------------------------------------------------


def department(session: Session, department_id: int) -> Department:
    """The department with ``department_id`` (``DepartmentNotFound`` if there is none)."""
    found = session.get(Department, department_id)
    if found is None:
        raise DepartmentNotFound(department_id)
    return found


def set_status(
    session: Session, ticket: Ticket, to: str, *, actor: str, now: datetime | None = None,
    note: str | None = None, department_id: int | None = None,
) -> Ticket:
    """Change a ticket's status with a note (see :func:`lifecycle.change_status`); a new
    department only for 改派 (``to`` = dispatched)."""
    target = department(session, department_id) if department_id is not None else None
    lifecycle.change_status(session, ticket, to, actor=actor, now=now, note=note,
                            department=target)
    return ticket
