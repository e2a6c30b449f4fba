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
    session.add(ChannelIdentity(conversation_id="web:colleague", enterprise_id=company.id,
                                verified_at=NOON, verified_by="staff:admin"))
    session.add(ChannelIdentity(conversation_id="web:claimant", enterprise_id=company.id))
    ticket = tickets.create_ticket(session, topic="land", description="厂房土地证办不下来",
                                   conversation_id="tg:owner", enterprise_id=company.id, now=NOON)
    assert tickets.ticket_for(session, ticket.number, "tg:owner").id == ticket.id
    assert tickets.ticket_for(session, ticket.number.lower(), "web:colleague").id == ticket.id
    with pytest.raises(tickets.TicketNotVisible):
        tickets.ticket_for(session, ticket.number, "tg:stranger")
    with pytest.raises(tickets.TicketNotVisible):  # typed the public credit code only
        tickets.ticket_for(session, ticket.number, "web:claimant")
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


def test_the_receipt_is_written_in_the_same_transaction(db_url: str) -> None:
    """A ticket and its notification commit together, or neither does."""
    from sqlalchemy import func, select

    from hotline.db import session_scope
    from hotline.models import NotificationOutbox, Ticket

    with pytest.raises(RuntimeError):
        with session_scope(db_url) as s:
            tickets.create_ticket(s, topic="tax", description="发票问题", conversation_id="tg:5",
                                  now=NOON)
            assert s.scalar(select(func.count()).select_from(NotificationOutbox)) == 1
            raise RuntimeError("the action server crashed before the commit")
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 0
        assert s.scalar(select(func.count()).select_from(NotificationOutbox)) == 0
    with session_scope(db_url) as s:
        made = tickets.create_ticket(s, topic="tax", description="发票问题",
                                     conversation_id="tg:5", now=NOON)
        number = made.number
    with session_scope(db_url) as s:
        row = s.scalars(select(NotificationOutbox)).one()
        assert row.conversation_id == "tg:5" and number in row.text and row.status == "pending"


def test_migrations_upgrade_downgrade_and_match_the_models(db_url: str) -> None:
    """0002 applies and reverts on SQLite, and the models have no change without a migration."""
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import inspect

    from hotline.cli.db import alembic_config
    from hotline.db import make_engine
    from hotline.models import Base

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            assert {"ratings", "notification_outbox", "kb_feedback"} <= set(inspect(conn).get_table_names())
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        command.downgrade(alembic_config(db_url), "0001")
        with engine.connect() as conn:
            names = set(inspect(conn).get_table_names())
            assert "ratings" not in names and "tickets" in names
            assert "first_resolved_at" not in {c["name"] for c in inspect(conn).get_columns("tickets")}
        command.downgrade(alembic_config(db_url), "base")
        command.upgrade(alembic_config(db_url), "head")
        with engine.connect() as conn:
            assert "notification_outbox" in set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_fills_first_resolution_from_the_audit_trail(db_url: str) -> None:
    """Tickets resolved before 0002 get ``first_resolved_at`` from their first resolve event."""
    from alembic import command
    from sqlalchemy import text

    from hotline.cli.db import alembic_config
    from hotline.db import make_engine

    command.downgrade(alembic_config(db_url), "0001")
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO tickets (id, number, topic, act, description, status, limit_days,"
                " created_at, deadline, resolved_at, escalated, reopen_count) VALUES"
                " (1, 'T20261101-0001', 'tax', 'appeal', 'x', 'resolved', 5,"
                " '2026-11-01 02:00:00', '2026-11-06 15:59:59', '2026-11-05 02:00:00', TRUE, 1),"
                " (2, 'T20261101-0002', 'tax', 'appeal', 'y', 'dispatched', 5,"
                " '2026-11-01 02:00:00', '2026-11-06 15:59:59', NULL, FALSE, 0)"))
            conn.execute(text(
                "INSERT INTO ticket_events (ticket_id, at, actor, from_status, to_status) VALUES"
                " (1, '2026-11-02 02:00:00', 's', 'in_progress', 'resolved'),"
                " (1, '2026-11-05 02:00:00', 's', 'in_progress', 'resolved')"))
        command.upgrade(alembic_config(db_url), "head")
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, first_resolved_at FROM tickets ORDER BY id")).all()
        assert [(r[0], str(r[1])[:19] if r[1] else None) for r in rows] == [
            (1, "2026-11-02 02:00:00"), (2, None)
        ]
    finally:
        engine.dispose()
