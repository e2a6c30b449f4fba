"""Demo data: valid enterprises, consistent ticket histories, sane statistics, idempotence."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from stdnum.cn import uscc

from hotline import routing, stats, tickets
from hotline.cli.db import upgrade
from hotline.db import session_scope
from hotline.local import seed
from hotline.models import (
    OPEN_STATUSES,
    Department,
    Enterprise,
    NotificationOutbox,
    Rating,
    Ticket,
    TicketEvent,
)

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=timezone.utc)
COUNT = 120


@pytest.fixture(scope="module")
def seeded_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One seeded database for the read-only tests (seeding takes about half a second)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('seed') / 'demo.db'}"
    upgrade(url)
    with session_scope(url) as session:
        result = seed.seed_demo(session, count=COUNT, seed=7, now=NOW)
        assert (result.created, result.skipped) == (COUNT, 0)
    return url


@pytest.fixture
def seeded(seeded_url: str) -> Iterator[Session]:
    with session_scope(seeded_url) as session:
        yield session
        session.rollback()  # read-only: leave the shared database as it was


@pytest.fixture
def fresh(session: Session) -> Session:
    seed.seed_demo(session, count=COUNT, seed=7, now=NOW)
    return session


def test_departments_and_enterprises(seeded: Session) -> None:
    expected = {t.department for t in routing.load_taxonomy().topics.values()}
    assert set(seeded.scalars(select(Department.name))) == expected
    companies = seeded.scalars(select(Enterprise)).all()
    assert len(companies) == seed.ENTERPRISE_COUNT
    assert len({c.name for c in companies}) == len(companies)
    for company in companies:
        assert uscc.is_valid(company.uscc), company.uscc
        assert company.uscc[2:8] == dict(seed.DISTRICTS)[company.district]
        assert company.name.endswith("有限公司") and company.contact_phone
    code = companies[0].uscc  # and the check above can fail: one wrong character is caught
    assert not uscc.is_valid(code[:-1] + ("0" if code[-1] != "0" else "1"))


def test_every_history_is_consistent(seeded: Session) -> None:
    all_tickets = seeded.scalars(select(Ticket)).all()
    assert len(all_tickets) == COUNT
    for ticket in all_tickets:
        assert NOW - timedelta(days=121) <= ticket.created_at <= NOW
        assert tickets.validate_description(ticket.description)[1] is None
        events = seeded.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
        ).all()
        assert events[0].from_status is None and events[0].to_status == "received"
        for before, after in zip(events, events[1:]):
            assert after.from_status == before.to_status, ticket.number
            assert before.at <= after.at <= NOW, ticket.number
        assert events[-1].to_status == ticket.status
        if ticket.status in ("resolved", "rated"):
            assert ticket.reply and ticket.resolved_at and ticket.first_resolved_at
            assert ticket.first_resolved_at <= ticket.resolved_at
        ratings = seeded.scalars(select(Rating).where(Rating.ticket_id == ticket.id)).all()
        assert (ticket.status == "rated") <= bool(ratings)
        assert ticket.reopen_count == sum(e.to_status == "reopened" for e in events)
        assert ticket.escalated == (ticket.reopen_count > 0)
    # demo chats are no channel: nothing to deliver
    assert seeded.scalar(select(func.count()).select_from(NotificationOutbox)) == 0


def test_a_realistic_mix(seeded: Session) -> None:
    statuses = Counter(seeded.scalars(select(Ticket.status)))
    assert statuses["rated"] > COUNT / 2
    assert statuses["resolved"] > 0 and statuses["dispatched"] + statuses["in_progress"] > 0
    assert len(Counter(seeded.scalars(select(Ticket.topic)))) >= 12
    levels = Counter(seeded.scalars(select(Rating.level)))
    assert levels["satisfied"] > levels["basically_satisfied"] + levels["dissatisfied"]
    assert seeded.scalar(select(func.count()).select_from(Ticket).where(Ticket.escalated)) >= 1
    overdue = [t for t in seeded.scalars(select(Ticket))
               if t.status in {s.value for s in OPEN_STATUSES} and t.deadline < NOW]
    assert overdue, "some open tickets should be past their deadline"
    assert len(set(seeded.scalars(select(Ticket.description)))) > COUNT * 0.6


def test_statistics_over_the_seed_are_consistent(seeded: Session) -> None:
    report = stats.compute(seeded, NOW - timedelta(days=200), NOW, now=NOW, by="department")
    total = report.total
    assert total.received == COUNT
    assert 0 < total.resolved <= total.received
    assert total.resolved_on_time + total.resolved_late == total.resolved
    for rate in (total.resolution_rate, total.on_time_rate, total.satisfaction_rate):
        assert rate is not None and 0 <= rate <= 1
    assert total.satisfaction_rate > 0.85 and total.avg_handling_hours > 0
    assert sum(g.received for g in report.groups) == total.received
    assert sum(g.red for g in report.groups) == total.red


def test_rerunning_adds_nothing_and_more_adds_only_the_rest(fresh: Session) -> None:
    numbers = set(fresh.scalars(select(Ticket.number)))
    again = seed.seed_demo(fresh, count=COUNT, seed=7, now=NOW + timedelta(days=3))
    assert (again.created, again.skipped) == (0, COUNT)
    assert fresh.scalar(select(func.count()).select_from(Enterprise)) == seed.ENTERPRISE_COUNT
    assert set(fresh.scalars(select(Ticket.number))) == numbers
    more = seed.seed_demo(fresh, count=COUNT + 5, seed=7, now=NOW)
    assert (more.created, more.skipped) == (5, COUNT)
    assert fresh.scalar(select(func.count()).select_from(Ticket)) == COUNT + 5


def test_same_seed_same_data(seeded: Session, db_url: str) -> None:
    with session_scope(db_url) as other:
        seed.seed_demo(other, count=COUNT, seed=7, now=NOW)
        theirs = [(t.number, t.topic, t.description, t.status)
                  for t in other.scalars(select(Ticket).order_by(Ticket.number))]
    ours = [(t.number, t.topic, t.description, t.status)
            for t in seeded.scalars(select(Ticket).order_by(Ticket.number))]
    assert ours == theirs
