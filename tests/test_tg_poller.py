"""One Telegram poller among several gateways (bot/tg_poller.py), on a real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis
from redis.asyncio import Redis

from bot.tg_poller import PollerLease
from hotline import redis_keys

pytestmark = pytest.mark.sqlite_only  # no database involved


@pytest.fixture
async def aredis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    await client.delete(redis_keys.TELEGRAM_POLLER)
    yield client
    await client.delete(redis_keys.TELEGRAM_POLLER)
    await client.aclose()


class Poller:
    """What a gateway's updater does, recorded."""

    def __init__(self) -> None:
        self.running = False
        self.starts = 0

    async def start(self) -> None:
        self.running, self.starts = True, self.starts + 1

    async def stop(self) -> None:
        self.running = False


async def test_only_the_lease_holder_polls(aredis: Redis) -> None:
    one, two = Poller(), Poller()
    a = PollerLease(aredis, "gw-a:8080", ttl_s=5)
    b = PollerLease(aredis, "gw-b:8080", ttl_s=5)
    await a.step(one.start, one.stop)
    await b.step(two.start, two.stop)
    await a.step(one.start, one.stop)  # renewing does not start it again
    assert (one.running, two.running) == (True, False)
    assert one.starts == 1
    assert await aredis.get(redis_keys.TELEGRAM_POLLER) == b"gw-a:8080"


async def test_another_gateway_takes_over_when_the_holder_dies(aredis: Redis) -> None:
    one, two = Poller(), Poller()
    a = PollerLease(aredis, "gw-a:8080", ttl_s=0.5)
    b = PollerLease(aredis, "gw-b:8080", ttl_s=0.5)
    await a.step(one.start, one.stop)
    await b.step(two.start, two.stop)
    assert not two.running
    await asyncio.sleep(0.8)  # gw-a stopped renewing (killed): its lease runs out
    await b.step(two.start, two.stop)
    assert two.running
    # gw-a comes back (a stalled process, not restarted): it finds the lease taken, stops.
    await a.step(one.start, one.stop)
    assert not one.running


async def test_a_restarted_gateway_takes_its_own_lease_back_at_once(aredis: Redis) -> None:
    before, after = Poller(), Poller()
    await PollerLease(aredis, "gw-a:8080", ttl_s=60).step(before.start, before.stop)
    # The process was killed (no release); its replacement has the same name.
    await PollerLease(aredis, "gw-a:8080", ttl_s=60).step(after.start, after.stop)
    assert after.running


async def test_a_clean_stop_gives_the_lease_up(aredis: Redis, redis_url: str) -> None:
    one, two = Poller(), Poller()
    a = PollerLease(aredis, "gw-a:8080", ttl_s=60, renew_s=0.05)
    task = asyncio.create_task(a.run(one.start, one.stop))
    while not one.running:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert redis.Redis.from_url(redis_url).get(redis_keys.TELEGRAM_POLLER) is None
    await PollerLease(aredis, "gw-b:8080").step(two.start, two.stop)
    assert two.running
