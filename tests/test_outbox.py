"""The outbox table's rules: leases, order per conversation, backoff, giving up, requeue."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline import outbox
from hotline.db import session_scope
from hotline.models import NotificationOutbox, OutboxStatus, RatingLevel, TranscriptMessage

T0 = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)
SEC = timedelta(seconds=1)


def put(session: Session, conversation_id: str, text: str) -> NotificationOutbox:
    row = outbox.enqueue(session, conversation_id, "test", text, now=T0)
    assert row is not None
    return row


def test_channel_of_and_rows_only_for_deliverable_chats(session: Session) -> None:
    assert outbox.channel_of("tg:123") == "tg"
    assert outbox.channel_of("web:5f0c") == "web"
    assert outbox.channel_of("demo:7:1") is None
    assert outbox.channel_of(None) is None and outbox.channel_of("tg123") is None
    assert outbox.enqueue(session, None, "test", "x", now=T0) is None
    with pytest.raises(ValueError):
        outbox.enqueue(session, "tg:1", "test", "  ", now=T0)
    with pytest.raises(ValueError, match="64 bytes"):
        outbox.enqueue(session, "tg:1", "test", "x", now=T0,
                       buttons=[{"title": "长", "payload": "/inform" + "x" * 58}])


def test_rating_payload_fits_telegram_callback_data() -> None:
    payload = outbox.rating_payload("T20261122-0042", RatingLevel.BASICALLY_SATISFIED, 12)
    assert payload == '/inform{"ticket_id":"T20261122-0042","rating":"b","round":12}'
    assert len(payload.encode()) <= 64


def test_backoff_doubles_up_to_the_cap() -> None:
    policy = outbox.RetryPolicy(base=timedelta(seconds=2), max_delay=timedelta(seconds=30))
    assert [policy.delay(n).total_seconds() for n in (1, 2, 3, 4, 5, 6)] == [2, 4, 8, 16, 30, 30]


def test_a_lease_keeps_a_row_from_a_second_worker_until_it_expires(db_url: str) -> None:
    with session_scope(db_url) as s:
        row_id = put(s, "tg:1", "甲").id
    with session_scope(db_url) as s:
        first = outbox.claim_due(s, channel="tg", worker="A", now=T0, lease=60 * SEC)
    with session_scope(db_url) as s:
        second = outbox.claim_due(s, channel="tg", worker="B", now=T0 + 30 * SEC, lease=60 * SEC)
    assert [r.id for r in first] == [row_id] and second == []
    # A died without finishing: after the lease B takes over, and A can no longer finish.
    with session_scope(db_url) as s:
        again = outbox.claim_due(s, channel="tg", worker="B", now=T0 + 61 * SEC)
    assert [r.id for r in again] == [row_id]
    with session_scope(db_url) as s:
        assert outbox.mark_delivered(s, row_id, worker="A", now=T0 + 62 * SEC) is False
        assert outbox.mark_delivered(s, row_id, worker="B", now=T0 + 62 * SEC) is True
    with session_scope(db_url) as s:
        row = s.get(NotificationOutbox, row_id)
        assert row is not None and row.status == "delivered" and row.claimed_by is None
        assert row.delivered_at == T0 + 62 * SEC and row.attempts == 1
        said = s.scalars(select(TranscriptMessage)).all()
        assert [(m.conversation_id, m.author, m.text) for m in said] == [("tg:1", "bot:notify", "甲")]


def test_only_the_first_pending_row_of_a_conversation_is_due(db_url: str) -> None:
    with session_scope(db_url) as s:
        a1, a2, b1 = put(s, "tg:1", "a1").id, put(s, "tg:1", "a2").id, put(s, "tg:2", "b1").id
        put(s, "web:x", "web rows are not Telegram's")
    with session_scope(db_url) as s:
        claimed = outbox.claim_due(s, channel="tg", worker="A", now=T0)
        assert [r.id for r in claimed] == [a1, b1]
        outbox.mark_failed_attempt(s, a1, worker="A", now=T0, error="Bad Gateway")
        outbox.mark_delivered(s, b1, worker="A", now=T0)
    with session_scope(db_url) as s:
        # a1 waits for its retry; a2 must not overtake it.
        assert outbox.claim_due(s, channel="tg", worker="A", now=T0 + SEC) == []
        assert [r.id for r in outbox.claim_due(s, channel="tg", worker="A", now=T0 + 2 * SEC)] == [a1]
        outbox.mark_delivered(s, a1, worker="A", now=T0 + 2 * SEC)
    with session_scope(db_url) as s:
        assert [r.id for r in outbox.claim_due(s, channel="tg", worker="A", now=T0 + 2 * SEC)] == [a2]


def test_failures_back_off_then_give_up_and_can_be_requeued(db_url: str) -> None:
    policy = outbox.RetryPolicy(base=timedelta(seconds=2), max_attempts=3)
    with session_scope(db_url) as s:
        row_id = put(s, "tg:1", "x").id
    now = T0
    statuses = []
    for _ in range(3):
        with session_scope(db_url) as s:
            assert outbox.claim_due(s, channel="tg", worker="A", now=now)
            statuses.append(outbox.mark_failed_attempt(
                s, row_id, worker="A", now=now, error="Forbidden: bot was blocked", policy=policy))
            row = s.get(NotificationOutbox, row_id)
            assert row is not None
            now = row.next_attempt_at
    assert statuses == [OutboxStatus.PENDING, OutboxStatus.PENDING, OutboxStatus.FAILED]
    with session_scope(db_url) as s:
        row = s.get(NotificationOutbox, row_id)
        assert row is not None and row.attempts == 3 and "blocked" in (row.last_error or "")
        assert row.next_attempt_at == T0 + 2 * SEC + 4 * SEC  # 2 s, then 4 s
        assert outbox.claim_due(s, channel="tg", worker="A", now=T0 + timedelta(days=1)) == []
        outbox.requeue(s, row_id, now=T0 + timedelta(days=1))
    with session_scope(db_url) as s:
        assert outbox.claim_due(s, channel="tg", worker="A", now=T0 + timedelta(days=1))


def test_retry_after_replaces_the_backoff(db_url: str) -> None:
    with session_scope(db_url) as s:
        row_id = put(s, "tg:1", "x").id
    with session_scope(db_url) as s:
        outbox.claim_due(s, channel="tg", worker="A", now=T0)
        outbox.mark_failed_attempt(s, row_id, worker="A", now=T0, error="429",
                                   retry_after=timedelta(seconds=17))
        row = s.get(NotificationOutbox, row_id)
        assert row is not None and row.next_attempt_at == T0 + 17 * SEC


def test_web_rows_are_claimed_per_conversation_in_order(db_url: str) -> None:
    with session_scope(db_url) as s:
        ids = [put(s, "web:abc", f"w{i}").id for i in range(3)]
        put(s, "web:other", "not mine")
    with session_scope(db_url) as s:
        rows = outbox.claim_for_conversation(s, "web:abc", worker="page", now=T0)
        assert [r.id for r in rows] == ids
        assert [r.text for r in rows] == ["w0", "w1", "w2"]
    with session_scope(db_url) as s:  # leased: a second page tab does not get them too
        assert outbox.claim_for_conversation(s, "web:abc", worker="tab2", now=T0 + SEC) == []
        outbox.release(s, ids, worker="page")
    with session_scope(db_url) as s:
        assert len(outbox.claim_for_conversation(s, "web:abc", worker="tab2", now=T0 + SEC)) == 3
        assert [r.conversation_id for r in outbox.pending_for(s, "web:other")] == ["web:other"]
