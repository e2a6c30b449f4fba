"""Issue 10 (never lose a message, hostile input): the gateway and ticket numbering under
concurrency, failures of Redis and Rasa, and what a client may send."""

from __future__ import annotations

import os
import threading
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from hotline import tickets
from hotline.db import session_scope
from hotline.db_cli import upgrade
from hotline.models import Ticket

NOON = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)  # Friday 12:00 in Shanghai


# --- 1. ticket numbers under concurrency -----------------------------------------------------


def _create_concurrently(db_url: str, count: int, description: str) -> list[BaseException]:
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        barrier.wait()
        try:
            with session_scope(db_url) as session:
                tickets.create_ticket(session, topic="tax", description=f"{description} {i}",
                                      conversation_id=f"tg:{1000 + i}", now=NOON)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return errors


@pytest.mark.parametrize("existing_day", [False, True], ids=["first-of-day", "day-under-way"])
def test_eight_concurrent_tickets_get_eight_distinct_numbers(db_url: str,
                                                             existing_day: bool) -> None:
    if existing_day:
        with session_scope(db_url) as session:
            tickets.create_ticket(session, topic="tax", description="早上的一单",
                                  conversation_id="tg:1", now=NOON)
    errors = _create_concurrently(db_url, 8, "并发诉求")
    assert errors == []
    with session_scope(db_url) as session:
        numbers = sorted(session.scalars(select(Ticket.number)))
    expected = 9 if existing_day else 8
    assert numbers == [f"T20261120-{n:04d}" for n in range(1, expected + 1)]


def test_the_counter_is_one_atomic_upsert_on_postgresql_too() -> None:
    """No PostgreSQL driver in the test environment: check the statement it would run."""
    from sqlalchemy.dialects import postgresql

    sql = str(tickets.sequence_statement("postgresql", "20261120").compile(
        dialect=postgresql.dialect()))
    assert "ON CONFLICT (day) DO UPDATE SET last = (ticket_sequences.last +" in sql
    assert sql.rstrip().endswith("RETURNING ticket_sequences.last")


@pytest.mark.skipif(not os.environ.get("HOTLINE_TEST_PG_URL"),
                    reason="set HOTLINE_TEST_PG_URL to a scratch PostgreSQL database")
def test_eight_concurrent_tickets_on_postgresql() -> None:
    url = os.environ["HOTLINE_TEST_PG_URL"]
    upgrade(url)
    query = select(Ticket.number).where(Ticket.number.like("T20261120-%"))
    with session_scope(url) as session:
        before = set(session.scalars(query))
    errors = _create_concurrently(url, 8, "并发诉求")
    assert errors == []
    with session_scope(url) as session:
        created = set(session.scalars(query)) - before
    assert len(created) == 8
