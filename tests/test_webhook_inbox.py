"""Telegram webhook updates are stored before they are acknowledged, handled again when the
gateway that took them died, and processed concurrently across chats but in order within one.

The real PTB Application behind the real gateway app, the fake Bot API server delivering by
webhook (with Telegram's retry on failure), a scripted Rasa stand-in, real Redis and SQLite.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import redis
from sqlalchemy import select, text, update

from bot import messages
from bot.tg_io import dedupe_keys
from hotline import telegram_inbox, transcripts
from hotline.db import get_engine, session_scope
from hotline.models import TelegramInbox
from tests.factories import Gateway, inbound_texts, run_gateway, until
from tests.fake_telegram import FakeTelegram
from tests.rasa_standin import RasaStandIn

LEASE_S = 1.5


@pytest.fixture(autouse=True)
def _clean_redis(redis_url: str) -> None:
    redis.Redis.from_url(redis_url).flushdb()


@pytest.fixture
def rasa() -> RasaStandIn:
    return RasaStandIn()


# The gateway in webhook mode, with a short lease on the updates it has taken.
_serve = functools.partial(run_gateway, telegram_mode="webhook", rasa_timeout_s=10,
                           telegram_inbox_lease_s=LEASE_S)


@pytest.fixture
async def gateway(fake_telegram: FakeTelegram, redis_url: str, db_url: str,
                  rasa: RasaStandIn) -> AsyncIterator[Gateway]:
    fake_telegram.webhook_retry_s = 0.3
    async with _serve(fake_telegram, redis_url, db_url, rasa) as gw:
        yield gw


def _rows(db_url: str) -> list[TelegramInbox]:
    with session_scope(db_url) as session:
        return list(session.scalars(select(TelegramInbox).order_by(TelegramInbox.update_id)))


async def test_an_update_is_stored_before_telegram_hears_200_and_done_after(
    gateway: Gateway, rasa: RasaStandIn,
) -> None:
    rasa.delays["慢一点"] = 1.0  # still being handled when the webhook has already answered
    update_id = gateway.fake.user_says(77, "慢一点也没关系")
    delivery = await until(lambda: next(
        (d for d in gateway.fake.deliveries if d.update_id == update_id), None))
    assert delivery.ok
    rows = _rows(gateway.db_url)
    assert [r.update_id for r in rows] == [update_id]
    assert rows[0].done_at is None and rows[0].claimed_by  # acknowledged, not yet handled
    assert (await gateway.fake.await_reply(77, timeout=10)).text == "您说的是：慢一点也没关系"
    await until(lambda: _rows(gateway.db_url)[0].done_at is not None)


async def test_database_down_answers_503_and_telegrams_retry_gets_it_through(
    gateway: Gateway,
) -> None:
    engine = get_engine(gateway.db_url)
    with engine.begin() as conn:  # the store fails as when the database is away
        conn.execute(text("ALTER TABLE telegram_inbox RENAME TO telegram_inbox_away"))
    update_id = gateway.fake.user_says(78, "数据库暂时不在")
    failed = await until(lambda: next(
        (d for d in gateway.fake.deliveries if d.update_id == update_id), None))
    assert failed.status_code == 503  # not 200: Telegram keeps the update
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE telegram_inbox_away RENAME TO telegram_inbox"))
    assert (await gateway.fake.await_reply(78, timeout=10)).text == "您说的是：数据库暂时不在"
    assert sum(1 for d in gateway.fake.deliveries if d.update_id == update_id) >= 2
    assert [r.update_id for r in _rows(gateway.db_url)] == [update_id]


async def test_the_same_update_posted_twice_is_handled_once(
    gateway: Gateway, rasa: RasaStandIn,
) -> None:
    update = gateway.fake.build_text_update(79, "重复投递的消息")
    first = await gateway.fake.apost_to_webhook(update)
    second = await gateway.fake.apost_to_webhook(update)
    assert first.ok and second.ok  # a retry is acknowledged, so Telegram stops sending it
    await gateway.fake.await_reply(79, timeout=10)
    await asyncio.sleep(0.5)
    assert [m["message"] for m in rasa.received].count("重复投递的消息") == 1


async def test_an_update_left_by_a_dead_gateway_is_handled_after_its_lease(
    fake_telegram: FakeTelegram, redis_url: str, db_url: str, rasa: RasaStandIn,
) -> None:
    """As `kill -9` leaves it: stored and acknowledged, taken by a gateway that is gone, and
    already marked as taken in Redis. The next gateway handles it once the lease runs out."""
    update = fake_telegram.build_text_update(80, "网关崩溃前收到的消息")
    now = datetime.now(timezone.utc)
    with session_scope(db_url) as session:
        assert telegram_inbox.store(session, fake_telegram.bot_id, update, worker="dead:1:x",
                                    now=now, lease=timedelta(seconds=LEASE_S))
    redis.Redis.from_url(redis_url).set(dedupe_keys(fake_telegram.bot_id,
                                                    update["update_id"])[0], b"1")
    with session_scope(db_url) as session:  # recorded, then the gateway died before answering
        transcripts.add(session, "tg:80", "telegram", "in", "enterprise", "网关崩溃前收到的消息",
                        source_ref=f"tg-update:{update['update_id']}")
    async with _serve(fake_telegram, redis_url, db_url, rasa) as gw:
        reply = await gw.fake.await_reply(80, timeout=15)
        assert reply.text == "您说的是：网关崩溃前收到的消息"
        await until(lambda: _rows(db_url)[0].done_at is not None)
        row = _rows(db_url)[0]
        assert row.attempts == 2
        inbound = inbound_texts(db_url, "tg:80")
        assert inbound == ["网关崩溃前收到的消息"]


async def test_a_poison_update_is_given_up_after_the_attempt_limit(db_url: str) -> None:
    now = datetime.now(timezone.utc)
    lease = timedelta(seconds=1)
    with session_scope(db_url) as session:
        telegram_inbox.store(session, 1, {"update_id": 5}, worker="a", now=now, lease=lease)
    for attempt in range(2, telegram_inbox.MAX_ATTEMPTS + 1):
        now += timedelta(seconds=2)
        with session_scope(db_url) as session:
            claimed, given_up = telegram_inbox.claim_abandoned(
                session, 1, worker=f"w{attempt}", now=now, lease=lease)
        assert [c.update_id for c in claimed] == [5] and given_up == []
        with session_scope(db_url) as session:  # a second gateway at the same time wins nothing
            assert telegram_inbox.claim_abandoned(session, 1, worker="other", now=now,
                                                  lease=lease) == ([], [])
    now += timedelta(seconds=2)
    with session_scope(db_url) as session:
        assert telegram_inbox.claim_abandoned(session, 1, worker="last", now=now,
                                              lease=lease) == ([], [5])
        assert telegram_inbox.pending_count(session, 1) == 0


async def test_a_live_gateway_renews_its_lease_so_a_slow_update_is_not_taken_twice(
    gateway: Gateway, rasa: RasaStandIn,
) -> None:
    rasa.delays["很慢"] = 3 * LEASE_S  # longer than the lease: renewals keep it
    gateway.fake.user_says(81, "很慢的问题")
    assert (await gateway.fake.await_reply(81, timeout=15)).text == "您说的是：很慢的问题"
    await asyncio.sleep(LEASE_S)
    assert [m["message"] for m in rasa.received].count("很慢的问题") == 1
    assert _rows(gateway.db_url)[0].attempts == 1


async def test_chats_are_handled_concurrently_and_each_chat_in_order(
    gateway: Gateway, rasa: RasaStandIn,
) -> None:
    rasa.delays["第一条"] = 2.0
    gateway.fake.user_says(90, "甲的第一条")
    gateway.fake.user_says(90, "甲的第二条")
    gateway.fake.user_says(91, "乙的消息")
    # Chat 91 does not wait for chat 90's slow Rasa round trip ...
    await gateway.fake.await_reply(91, timeout=10)
    assert "甲的第一条" not in rasa.answered
    # ... and chat 90's second message waits for its first.
    first = await gateway.fake.await_reply(90, text="您说的是：甲的第一条", timeout=10)
    second = await gateway.fake.await_reply(90, text="您说的是：甲的第二条", timeout=10)
    assert first.seq < second.seq
    assert rasa.answered.index("甲的第一条") < rasa.answered.index("甲的第二条")
    assert rasa.answered.index("乙的消息") < rasa.answered.index("甲的第一条")


async def test_a_button_press_handled_again_after_a_crash_still_reaches_the_bot(
    gateway: Gateway, rasa: RasaStandIn,
) -> None:
    """The dead gateway had answered the press and marked the choice on its message; doing
    either again is refused by Telegram, and that must not swallow the press itself."""
    gateway.fake.user_says(82, "给我按钮")
    await gateway.fake.await_reply(82, timeout=10)
    update_id = gateway.fake.user_presses(82, "/open_ticket")
    await gateway.fake.await_reply(82, text="收到按钮：/open_ticket", timeout=10)
    await until(lambda: all(r.done_at for r in _rows(gateway.db_url)))
    with session_scope(gateway.db_url) as session:  # as a crash right after the edit leaves it
        session.execute(update(TelegramInbox).where(TelegramInbox.update_id == update_id)
                        .values(done_at=None, claimed_by="dead:1:x",
                                claimed_until=datetime.now(timezone.utc)))
    await until(lambda: [m["message"] for m in rasa.received].count("/open_ticket") == 2,
                 timeout=15)
    presses = [t for t in inbound_texts(gateway.db_url, "tg:82") if t == "/open_ticket"]
    assert presses == ["/open_ticket"]  # handled twice, recorded once


async def test_the_gateway_publishes_no_schema_or_docs(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        for path in ("/openapi.json", "/docs", "/redoc"):
            assert (await client.get(path)).status_code == 404, path


async def test_metrics_count_messages_and_read_the_shared_state(
    gateway: Gateway, rasa: RasaStandIn,
) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        before = (await client.get("/metrics")).text
        gateway.fake.user_says(83, "计数一下")
        await gateway.fake.await_reply(83, timeout=10)
        rasa.down = True
        gateway.fake.user_says(83, "Rasa不在")
        await gateway.fake.await_reply(83, text=messages.RASA_BUSY, timeout=10)
        # The reply leaves before its update is marked done: read the gauges once it is.
        await until(lambda: all(r.done_at for r in _rows(gateway.db_url)))
        after = (await client.get("/metrics")).text
        ready = await client.get("/readyz")

    def value(text: str, name: str) -> float:
        line = next((x for x in text.splitlines() if x.startswith(name + " ")), f"{name} 0")
        return float(line.split()[-1])

    assert value(after, 'hotline_messages_in_total{channel="telegram"}') \
        - value(before, 'hotline_messages_in_total{channel="telegram"}') == 2
    assert value(after, 'hotline_rasa_failures_total{kind="unavailable"}') \
        - value(before, 'hotline_rasa_failures_total{kind="unavailable"}') == 1
    assert value(after, 'hotline_telegram_webhook_updates_total{result="stored"}') >= 2
    assert 'hotline_reply_seconds_bucket{channel="telegram"' in after
    assert value(after, 'hotline_up{source="redis"}') == 1
    assert value(after, 'hotline_up{source="database"}') == 1
    assert value(after, "hotline_queue_length") == 0
    assert value(after, "hotline_telegram_inbox_pending") == 0
    # The stand-in has no /status: readiness names Rasa as what is down, and only Rasa.
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks["redis"] == "ok" and checks["database"] == "ok"
    assert checks["rasa"].startswith("down")
