"""Handoff state machine over a real Redis (its own database, flushed per test)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
import redis

from hotline import handoff as h
from hotline.handoff import AlreadyClaimed, InvalidHandoff, Mode, NotOwner, Reason

T0 = datetime(2025, 11, 24, 2, 0, tzinfo=timezone.utc)  # Mon 10:00 Shanghai


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def r(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/13")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def test_default_mode_is_bot(r: redis.Redis) -> None:
    assert h.mode_of(r, "tg:1") is Mode.BOT
    state = h.state_of(r, "tg:1")
    assert (state.mode, state.operator, state.since) == (Mode.BOT, None, None)
    assert h.queue_position(r, "tg:1") is None
    assert h.estimated_wait(r, "tg:1") is None


def test_full_cycle_and_events_in_order(r: redis.Redis) -> None:
    h.request_human(r, "tg:1", Reason.TWO_FALLBACKS, who="bot", now=at(0))
    assert h.mode_of(r, "tg:1") is Mode.QUEUED
    assert h.state_of(r, "tg:1").reason == "two_fallbacks"
    ev = h.claim(r, "tg:1", "op-a", now=at(1))
    assert (ev.from_mode, ev.to_mode, ev.who, ev.reason) == (Mode.QUEUED, Mode.HUMAN, "op-a",
                                                             "claim")
    state = h.state_of(r, "tg:1")
    assert (state.mode, state.operator, state.since) == (Mode.HUMAN, "op-a", at(1))
    assert h.owner_of(r, "tg:1") == "op-a"
    assert h.owned_by(r, "op-a") == ["tg:1"]
    assert h.queue_position(r, "tg:1") is None
    h.hand_back(r, "tg:1", "op-a", now=at(2))
    assert h.mode_of(r, "tg:1") is Mode.BOT
    assert h.owner_of(r, "tg:1") is None
    assert h.owned_by(r, "op-a") == []
    h.close(r, "tg:1", "enterprise", now=at(3))
    h.reopen(r, "tg:1", now=at(4))
    got = [(e.from_mode, e.to_mode, e.who, e.at, e.reason) for e in h.events(r, "tg:1")]
    assert got == [
        (Mode.BOT, Mode.QUEUED, "bot", at(0), "two_fallbacks"),
        (Mode.QUEUED, Mode.HUMAN, "op-a", at(1), "claim"),
        (Mode.HUMAN, Mode.BOT, "op-a", at(2), "hand_back"),
        (Mode.BOT, Mode.CLOSED, "enterprise", at(3), "close"),
        (Mode.CLOSED, Mode.BOT, "enterprise", at(4), "reopen"),
    ]
    ids = [e.id for e in h.events(r)]
    assert ids == sorted(ids, key=lambda i: tuple(int(x) for x in i.split("-")))
    assert h.events(r, "tg:1", count=2)[-1].reason == "reopen"


def test_events_interleave_conversations(r: redis.Redis) -> None:
    h.request_human(r, "a", now=at(0))
    h.request_human(r, "b", now=at(1))
    h.cancel(r, "a", now=at(2))
    assert [(e.conversation, e.to_mode) for e in h.events(r)] == [
        ("a", Mode.QUEUED), ("b", Mode.QUEUED), ("a", Mode.BOT)]
    assert [e.to_mode for e in h.events(r, "b")] == [Mode.QUEUED]


@pytest.mark.parametrize("reason", sorted(h.QUEUE_REASONS))
def test_request_human_reasons(r: redis.Redis, reason: Reason) -> None:
    ev = h.request_human(r, "c", reason, now=at(0))
    assert ev.reason == reason.value
    assert h.state_of(r, "c").reason == reason.value


def test_request_human_rejects_other_reasons(r: redis.Redis) -> None:
    with pytest.raises(ValueError):
        h.request_human(r, "c", Reason.HAND_BACK)
    with pytest.raises(ValueError):
        h.request_human(r, "c", "whatever")
    assert h.events(r) == []


def test_claim_from_bot_is_operator_pick(r: redis.Redis) -> None:
    ev = h.claim(r, "c", "op-a", now=at(0))
    assert (ev.from_mode, ev.reason) == (Mode.BOT, "operator_pick")
    assert h.mode_of(r, "c") is Mode.HUMAN


def _refused(r: redis.Redis, fn, *args, **kwargs) -> InvalidHandoff:  # noqa: ANN001
    before = len(h.events(r))
    with pytest.raises(InvalidHandoff) as info:
        fn(r, *args, **kwargs)
    assert len(h.events(r)) == before, "a refused transition must not record an event"
    assert str(info.value) and info.value.message == str(info.value)
    return info.value


def test_refusals_from_bot(r: redis.Redis) -> None:
    err = _refused(r, h.cancel, "c")
    assert (err.action, err.current) == ("cancel", Mode.BOT)
    assert "没有在排队" in str(err)
    err = _refused(r, h.hand_back, "c", "op-a")
    assert err.current is Mode.BOT
    _refused(r, h.reopen, "c")
    assert h.mode_of(r, "c") is Mode.BOT


def test_refusals_from_queued(r: redis.Redis) -> None:
    h.request_human(r, "c", now=at(0))
    err = _refused(r, h.request_human, "c")
    assert "已在排队" in str(err)
    _refused(r, h.hand_back, "c", "op-a")
    _refused(r, h.reopen, "c")
    assert h.mode_of(r, "c") is Mode.QUEUED
    assert h.queue_position(r, "c") == 1


def test_refusals_from_human(r: redis.Redis) -> None:
    h.claim(r, "c", "op-a", now=at(0))
    assert "已接入人工" in str(_refused(r, h.request_human, "c"))
    _refused(r, h.cancel, "c")
    _refused(r, h.reopen, "c")
    err = _refused(r, h.claim, "c", "op-b")
    assert isinstance(err, AlreadyClaimed) and err.owner == "op-a" and "op-a" in str(err)
    err = _refused(r, h.claim, "c", "op-a")  # the owner claiming again: no second event
    assert isinstance(err, AlreadyClaimed) and err.owner == "op-a"
    assert h.owner_of(r, "c") == "op-a"


def test_refusals_from_closed(r: redis.Redis) -> None:
    h.request_human(r, "c", now=at(0))
    h.close(r, "c", "op-a", reason="spam", now=at(1))
    assert h.queue_position(r, "c") is None
    assert h.state_of(r, "c").reason == "spam"
    for fn, args in [(h.request_human, ()), (h.cancel, ()), (h.claim, ("op-a",)),
                     (h.hand_back, ("op-a",)), (h.close, ("op-a",))]:
        assert _refused(r, fn, "c", *args).current is Mode.CLOSED
    assert "已结束" in str(_refused(r, h.claim, "c", "op-a"))
    h.reopen(r, "c", now=at(2))
    assert h.mode_of(r, "c") is Mode.BOT


def test_close_from_every_open_mode(r: redis.Redis) -> None:
    h.close(r, "bot", "system", now=at(0))
    h.request_human(r, "q", now=at(0))
    h.close(r, "q", "enterprise", now=at(1))
    h.claim(r, "hu", "op-a", now=at(0))
    h.close(r, "hu", "op-a", now=at(1))
    assert {c: h.mode_of(r, c) for c in ("bot", "q", "hu")} == dict.fromkeys(
        ("bot", "q", "hu"), Mode.CLOSED)
    assert h.queue(r, now=at(2)) == []
    assert h.owned_by(r, "op-a") == []


def test_hand_back_only_by_owner(r: redis.Redis) -> None:
    h.request_human(r, "c", now=at(0))
    h.claim(r, "c", "op-a", now=at(1))
    err = _refused(r, h.hand_back, "c", "op-b")
    assert isinstance(err, NotOwner)
    assert (err.owner, err.operator) == ("op-a", "op-b")
    assert "op-a" in str(err)
    assert h.mode_of(r, "c") is Mode.HUMAN and h.owner_of(r, "c") == "op-a"
    h.hand_back(r, "c", "op-a", now=at(2))
    assert h.mode_of(r, "c") is Mode.BOT


def test_queue_positions_cancel_and_waits(r: redis.Redis) -> None:
    for i, conv in enumerate(["a", "b", "c", "d"]):
        h.request_human(r, conv, now=at(i))
    assert [h.queue_position(r, c) for c in "abcd"] == [1, 2, 3, 4]
    h.cancel(r, "b", now=at(5))
    assert [h.queue_position(r, c) for c in "abcd"] == [1, None, 2, 3]
    h.claim(r, "a", "op-a", now=at(6))
    assert [h.queue_position(r, c) for c in "cd"] == [1, 2]
    entries = h.queue(r, now=at(10))
    assert [(e.conversation, e.position, e.enqueued_at, e.waited, e.reason) for e in entries] == [
        ("c", 1, at(2), timedelta(minutes=8), "request_human"),
        ("d", 2, at(3), timedelta(minutes=7), "request_human"),
    ]
    # back in the queue after cancelling: at the end
    h.request_human(r, "b", now=at(11))
    assert h.queue_position(r, "b") == 3


def test_estimated_wait(r: redis.Redis) -> None:
    for i, conv in enumerate("abc"):
        h.request_human(r, conv, now=at(i))
    assert h.estimated_wait(r, "a", avg_handle_s=300) == timedelta(minutes=5)
    assert h.estimated_wait(r, "c", avg_handle_s=300) == timedelta(minutes=15)
    assert h.estimated_wait(r, "c", avg_handle_s=300, operators=2) == timedelta(minutes=10)
    assert h.estimated_wait(r, "a", avg_handle_s=61) == timedelta(minutes=2)  # rounded up
    with pytest.raises(ValueError):
        h.estimated_wait(r, "a", operators=0)


def test_owned_by_several(r: redis.Redis) -> None:
    h.claim(r, "x", "op-a", now=at(0))
    h.claim(r, "y", "op-a", now=at(0))
    h.claim(r, "z", "op-b", now=at(0))
    assert h.owned_by(r, "op-a") == ["x", "y"]
    assert h.owned_by(r, "op-b") == ["z"]
    h.close(r, "x", "op-a", now=at(1))
    assert h.owned_by(r, "op-a") == ["y"]


def test_concurrent_claims_exactly_one_wins(r: redis.Redis, redis_url: str) -> None:
    url = redis_url.rsplit("/", 1)[0] + "/13"
    clients = [redis.Redis.from_url(url) for _ in range(2)]
    for client in clients:
        client.ping()  # connect before the race
    try:
        for round_ in range(200):
            conv = f"race:{round_}"
            if round_ % 2:
                h.request_human(r, conv, now=at(0))  # from the queue and from bot mode
            barrier = threading.Barrier(2)
            results: dict[str, object] = {}

            def attempt(op: str, client: redis.Redis, conv: str = conv,
                        barrier: threading.Barrier = barrier,
                        results: dict[str, object] = results) -> None:
                barrier.wait()
                try:
                    results[op] = h.claim(client, conv, op, now=at(1))
                except AlreadyClaimed as error:
                    results[op] = error

            threads = [threading.Thread(target=attempt, args=(op, c))
                       for op, c in zip(["op-a", "op-b"], clients, strict=True)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(10)
            winners = [op for op, res in results.items() if isinstance(res, h.Event)]
            losers = [res for res in results.values() if isinstance(res, AlreadyClaimed)]
            assert len(winners) == 1 and len(losers) == 1, results
            assert losers[0].owner == winners[0]
            assert h.owner_of(r, conv) == winners[0]
            assert len(h.events(r, conv)) == 1 + round_ % 2
        owned = h.owned_by(r, "op-a") + h.owned_by(r, "op-b")
        assert sorted(owned) == sorted(f"race:{i}" for i in range(200))
    finally:
        for client in clients:
            client.close()


def test_fallback_counter(r: redis.Redis) -> None:
    assert h.fallbacks(r, "c") == 0
    assert h.note_fallback(r, "c") == 1
    h.reset_fallbacks(r, "c")  # an understood message in between
    assert h.note_fallback(r, "c") == 1
    assert h.note_fallback(r, "c") == h.FALLBACK_LIMIT
    assert 0 < r.ttl(h.FALLBACK_PREFIX + "c") <= h.FALLBACK_TTL_S
    h.request_human(r, "c", Reason.TWO_FALLBACKS, who="bot", now=at(0))
    assert h.fallbacks(r, "c") == 0  # every transition starts the count again
    assert h.note_fallback(r, "other") == 1


def test_naive_now_is_utc(r: redis.Redis) -> None:
    ev = h.request_human(r, "c", now=datetime(2025, 11, 24, 2, 0))
    assert ev.at == T0
    assert h.state_of(r, "c").since == T0


def test_reserved_conversation_ids(r: redis.Redis) -> None:
    for bad in ["", "queue", "events", "operator:x", "fallbacks:y"]:
        with pytest.raises(ValueError):
            h.request_human(r, bad, now=at(0))
    with pytest.raises(ValueError):
        h.close(r, "c", "op", reason="a,b", now=at(0))
    assert h.events(r) == []
