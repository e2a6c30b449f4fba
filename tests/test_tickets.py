"""Ticket creation, numbering and who may see a ticket."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy.orm import Session

from hotline import tickets
from hotline.models import ChannelIdentity, Enterprise, TicketStatus

NOON = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)  # Friday 12:00 in Shanghai


def test_create_ticket_dispatches_with_number_department_and_deadline(session: Session) -> None:
    ticket = tickets.create_ticket(
        session, topic="financing", description="银行抽贷，资金周转不过来",
        conversation_id="tg:1", now=NOON,
    )
    assert ticket.number == "T20261120-0001"
    assert ticket.status == TicketStatus.DISPATCHED.value
    assert ticket.department is not None and ticket.department.name == "地方金融管理局"
    assert ticket.limit_days == 5
    # Friday + 5 working days → end of the next Friday (no holiday in between).
    local = tickets.sla.as_local(ticket.deadline)
    assert (local.year, local.month, local.day) == (2026, 11, 27)
    assert [(e.from_status, e.to_status) for e in ticket.events] == [
        (None, "received"), ("received", "dispatched")
    ]


def test_numbers_count_per_local_day(session: Session) -> None:
    first = tickets.create_ticket(session, topic="tax", description="a", conversation_id="tg:1",
                                  now=NOON)
    second = tickets.create_ticket(session, topic="tax", description="b",
                                   conversation_id="tg:1", now=NOON)
    # 17:00 UTC is already the next day in Shanghai.
    late = datetime(2026, 11, 20, 17, 0, tzinfo=timezone.utc)
    third = tickets.create_ticket(session, topic="tax", description="c", conversation_id="tg:1",
                                  now=late)
    assert [first.number, second.number, third.number] == [
        "T20261120-0001", "T20261120-0002", "T20261121-0001"
    ]


def test_ticket_visible_only_to_its_conversation_or_enterprise(session: Session) -> None:
    company = Enterprise(uscc="91440300MA5FAKE001", name="深圳市华兴精密制造有限公司")
    session.add(company)
    session.flush()
    session.add(ChannelIdentity(conversation_id="web:colleague", enterprise_id=company.id))
    ticket = tickets.create_ticket(session, topic="land", description="厂房土地证办不下来",
                                   conversation_id="tg:owner", enterprise_id=company.id, now=NOON)
    assert tickets.ticket_for(session, ticket.number, "tg:owner").id == ticket.id
    assert tickets.ticket_for(session, ticket.number.lower(), "web:colleague").id == ticket.id
    with pytest.raises(tickets.TicketNotVisible):
        tickets.ticket_for(session, ticket.number, "tg:stranger")
    with pytest.raises(tickets.TicketNotFound):
        tickets.ticket_for(session, "T20990101-0001", "tg:owner")


def test_open_tickets_and_view(session: Session) -> None:
    ticket = tickets.create_ticket(session, topic="utilities", description="厂里老停电",
                                   conversation_id="tg:9", now=NOON)
    assert [t.number for t in tickets.open_tickets_for(session, "tg:9")] == [ticket.number]
    assert tickets.open_tickets_for(session, "tg:other") == []
    shown = tickets.view(ticket, now=NOON)
    assert shown.status_zh == "已分派"
    assert shown.topic_zh == "水电气网"
    assert "绿灯" in shown.light
    late = tickets.view(ticket, now=datetime(2026, 12, 20, tzinfo=timezone.utc))
    assert "红灯" in late.light


def test_deadline_survives_a_database_round_trip(db_url: str) -> None:
    """SQLite keeps no offset: the deadline must come back as the same instant."""
    from hotline.db import session_scope
    from hotline.models import Ticket

    with session_scope(db_url) as s:
        made = tickets.create_ticket(s, topic="tax", description="发票问题",
                                     conversation_id="tg:5", now=NOON)
        number, deadline = made.number, made.deadline
    with session_scope(db_url) as s:
        loaded = s.query(Ticket).filter_by(number=number).one()
        assert loaded.deadline == deadline
        local = tickets.sla.as_local(loaded.deadline)
        assert (local.hour, local.minute) == (23, 59)
