"""Human-service figures from the handoff events (real Redis)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import redis

from hotline import handoff, handoff_stats


@pytest.fixture
def r(redis_url: str):  # type: ignore[no-untyped-def]
    client = redis.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/8")
    client.flushdb()
    yield client
    client.close()


def test_waits_and_counts(r: redis.Redis) -> None:
    t0 = datetime.now(timezone.utc).replace(microsecond=0)
    handoff.request_human(r, "tg:1", now=t0)
    handoff.request_human(r, "tg:2", now=t0 + timedelta(seconds=10))
    handoff.request_human(r, "tg:3", now=t0 + timedelta(seconds=20))
    handoff.claim(r, "tg:1", "op1", now=t0 + timedelta(seconds=60))
    handoff.claim(r, "tg:2", "op2", now=t0 + timedelta(seconds=190))
    handoff.cancel(r, "tg:3", now=t0 + timedelta(seconds=200))
    handoff.claim(r, "tg:4", "op1", now=t0 + timedelta(seconds=210))  # picked from bot mode
    got = handoff_stats.summary(r, t0 - timedelta(hours=1), t0 + timedelta(hours=1))
    assert (got.escalations, got.taken, got.cancelled) == (3, 2, 1)
    assert got.waits_s == (60.0, 180.0)
    assert got.avg_wait_s == 120.0 and got.p90_wait_s == 180.0
    empty = handoff_stats.summary(r, t0 - timedelta(days=3), t0 - timedelta(days=2))
    assert (empty.escalations, empty.avg_wait_s, empty.p90_wait_s) == (0, None, None)
