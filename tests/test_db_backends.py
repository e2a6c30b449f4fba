"""The database layer on both backends the product supports: SQLite (the embedded default)
and PostgreSQL (deployment, several gateways). Each test runs once per backend."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text

from hotline import outbox, tickets, transcripts
from hotline.cli.db import alembic_config, upgrade
from hotline.db import make_engine, session_scope
from hotline.models import NotificationOutbox, Ticket, TranscriptMessage
from hotline.settings import get_settings

T0 = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)


def test_each_test_has_its_own_database_migrated_to_head(db_url: str, db_backend: str) -> None:
    head = ScriptDirectory.from_config(alembic_config(db_url)).get_current_head()
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            assert conn.dialect.name == db_backend
            assert conn.scalar(text("SELECT version_num FROM alembic_version")) == head
            if db_backend == "postgresql":
                assert conn.dialect.server_version_info >= (15,)
                assert conn.scalar(text("SELECT current_database()")) != "hotline_tmpl"
    finally:
        engine.dispose()
    with session_scope(db_url) as s:  # nothing left over from another test
        assert s.scalar(select(func.count()).select_from(Ticket)) == 0
        s.add(Ticket(number="T20261120-9999", topic="tax", act="appeal", description="x",
                     status="received", limit_days=5, created_at=T0, deadline=T0,
                     escalated=False, reopen_count=0))


def test_nul_characters_are_dropped_not_fatal(db_url: str) -> None:
    """PostgreSQL refuses U+0000 in text (SQLite keeps it): a web-chat frame or a form field
    carrying one must not fail the request, and both backends store the same text."""
    with session_scope(db_url) as s:
        transcripts.add(s, "web:nul", "web", "in", "enterprise", "退税\x00到账了吗")
        made = tickets.create_ticket(s, topic="tax", description="发票\x00开不出来",
                                     conversation_id="web:nul", contact_name="张\x00三", now=T0)
        number = made.number
    with session_scope(db_url) as s:
        assert s.scalars(select(TranscriptMessage.text)).all() == ["退税到账了吗"]
        ticket = s.scalars(select(Ticket).where(Ticket.number == number)).one()
        assert (ticket.description, ticket.contact_name) == ("发票开不出来", "张三")
        # Lookups with the same text find the stored row.
        assert s.scalar(select(func.count()).select_from(TranscriptMessage)
                        .where(TranscriptMessage.text == "退税\x00到账了吗")) == 1


def test_concurrent_gateways_never_claim_the_same_outbox_row(db_url: str) -> None:
    """Six senders claim due rows at the same instant, each in its own transaction: every row
    goes to at most one of them, and the table names the one that got it."""
    with session_scope(db_url) as s:
        for i in range(30):
            assert outbox.enqueue(s, f"tg:{7000 + i}", "test", f"通知{i}", now=T0) is not None
    workers = [f"gw{i}" for i in range(6)]
    barrier = threading.Barrier(len(workers))
    got: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def claim(worker: str) -> None:
        barrier.wait()
        try:
            with session_scope(db_url) as s:
                rows = outbox.claim_due(s, channel="tg", worker=worker, now=T0 + timedelta(1),
                                        lease=timedelta(minutes=2), limit=20)
            got[worker] = [r.id for r in rows]
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            errors.append(exc)

    threads = [threading.Thread(target=claim, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    claimed = [row_id for ids in got.values() for row_id in ids]
    assert len(claimed) == len(set(claimed)) >= 20
    with session_scope(db_url) as s:
        holders = dict(s.execute(select(NotificationOutbox.id, NotificationOutbox.claimed_by)
                                 .where(NotificationOutbox.claimed_by.is_not(None))).tuples().all())
    assert holders == {row_id: w for w, ids in got.items() for row_id in ids}


def test_the_settings_database_is_the_current_one(db_url: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """``session_scope()`` without a URL follows HOTLINE_DATABASE_URL as the settings now say
    (it kept the engine of the first URL it saw: the CLI tests read an earlier test's data)."""
    other = f"sqlite:///{tmp_path / 'other.db'}"
    upgrade(other)
    for url, expected in ((db_url, 1), (other, 0)):
        monkeypatch.setenv("HOTLINE_DATABASE_URL", url)
        get_settings.cache_clear()
        with session_scope() as s:
            if url == db_url:
                tickets.create_ticket(s, topic="tax", description="发票", conversation_id=None,
                                      now=T0)
        with session_scope() as s:
            assert s.scalar(select(func.count()).select_from(Ticket)) == expected, url
    get_settings.cache_clear()
