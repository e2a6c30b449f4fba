"""Outbox delivery over the fake Bot API: sends, retries, 429, two gateways, restart, web chat."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
from sqlalchemy import func, select
from telegram import Bot, LinkPreviewOptions
from telegram.ext import Application, Defaults

from bot.outbox_delivery import OutboxDelivery
from bot.outbox_web import deliver_web, pump_web
from hotline import lifecycle, outbox, tickets
from hotline.db import session_scope
from hotline.models import NotificationOutbox, TranscriptMessage
from tests.fake_telegram import FakeTelegram

T0 = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)  # Friday noon, Shanghai
SEC = timedelta(seconds=1)
FAST = outbox.RetryPolicy(base=timedelta(seconds=2), max_attempts=15)


class StepClock:
    """Time the loop sees; tests move it instead of sleeping."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
async def bot(fake_telegram: FakeTelegram) -> AsyncIterator[Bot]:
    """The bot of a PTB Application built like the gateway's (defaults, no updater)."""
    app = (
        Application.builder().token(fake_telegram.token).base_url(fake_telegram.base_url)
        .defaults(Defaults(tzinfo=ZoneInfo("Asia/Shanghai"),
                           link_preview_options=LinkPreviewOptions(is_disabled=True)))
        .updater(None).build()
    )
    await app.initialize()
    yield app.bot
    await app.shutdown()


def open_ticket(db_url: str, conversation_id: str, *, resolve: bool = False) -> str:
    """A ticket for the chat: receipt, and with ``resolve`` also taken and answered."""
    with session_scope(db_url) as s:
        ticket = tickets.create_ticket(s, topic="utilities", description="厂区频繁停电",
                                       conversation_id=conversation_id, now=T0)
        if resolve:
            lifecycle.take(s, ticket, actor="staff:赵", now=T0 + SEC)
            lifecycle.resolve(s, ticket, "已协调供电公司完成线路改造。", actor="staff:赵",
                              now=T0 + 2 * SEC)
        return ticket.number


def statuses(db_url: str) -> list[str]:
    with session_scope(db_url) as s:
        return list(s.scalars(select(NotificationOutbox.status).order_by(NotificationOutbox.id)))


async def test_delivers_notices_in_order_with_rating_buttons(
    db_url: str, bot: Bot, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.register_chat(1001)
    number = open_ticket(db_url, "tg:1001", resolve=True)
    delivery = OutboxDelivery(bot, db_url, clock=StepClock(T0 + 3 * SEC), policy=FAST)

    sent = 0
    while (n := await delivery.deliver_due()) > 0:  # one row per conversation per pass
        sent += n
    assert sent == 3

    messages = fake_telegram.sent(1001)
    assert len(messages) == 3
    assert number in messages[0].text and "已受理" in messages[0].text
    assert "正在办理" in messages[1].text
    answer = messages[2]
    assert "已协调供电公司完成线路改造" in answer.text
    assert answer.buttons == [["满意", "基本满意", "不满意"]]
    payloads = answer.callback_data
    assert json.loads(payloads[2][len("/inform"):]) == {"ticket_id": number, "rating": "d", "round": 0}
    assert statuses(db_url) == ["delivered"] * 3
    with session_scope(db_url) as s:
        said = s.scalar(select(func.count()).select_from(TranscriptMessage)
                        .where(TranscriptMessage.author == outbox.NOTIFY_AUTHOR))
        assert said == 3
    assert await delivery.deliver_due() == 0
    assert len(fake_telegram.calls_to("sendMessage")) == 3


# PTB itself reads the deprecated int form of retry_after while building the exception.
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_429_retry_after_is_honoured(db_url: str, bot: Bot, fake_telegram: FakeTelegram) -> None:
    fake_telegram.register_chat(1002)
    open_ticket(db_url, "tg:1002")
    clock = StepClock(T0)
    delivery = OutboxDelivery(bot, db_url, clock=clock, policy=FAST)
    fake_telegram.fail_next("sendMessage", error_code=429, retry_after=1)

    assert await delivery.deliver_due() == 0
    with session_scope(db_url) as s:
        row = s.scalars(select(NotificationOutbox)).one()
        assert row.status == "pending" and row.attempts == 1
        assert row.next_attempt_at == T0 + SEC and "Flood" in (row.last_error or "")
    clock.advance(0.5 * SEC)
    assert await delivery.deliver_due() == 0  # too early: no second call at all
    assert len(fake_telegram.calls_to("sendMessage")) == 1
    clock.advance(0.5 * SEC)
    assert await delivery.deliver_due() == 1
    assert len(fake_telegram.calls_to("sendMessage")) == 2
    assert statuses(db_url) == ["delivered"]


async def test_server_errors_retry_with_exponential_backoff(
    db_url: str, bot: Bot, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.register_chat(1003)
    open_ticket(db_url, "tg:1003")
    clock = StepClock(T0)
    delivery = OutboxDelivery(bot, db_url, clock=clock, policy=FAST)
    fake_telegram.fail_next("sendMessage", error_code=500, times=2)

    assert await delivery.deliver_due() == 0  # fails; next try at +2 s
    clock.advance(2 * SEC)
    assert await delivery.deliver_due() == 0  # fails; next try 4 s later
    clock.advance(3 * SEC)
    assert await delivery.deliver_due() == 0  # not due yet
    clock.advance(1 * SEC)
    assert await delivery.deliver_due() == 1
    assert len(fake_telegram.calls_to("sendMessage")) == 3
    with session_scope(db_url) as s:
        row = s.scalars(select(NotificationOutbox)).one()
        assert row.attempts == 3 and row.last_error is None and row.delivered_at == T0 + 6 * SEC


async def test_unknown_chat_gives_up_then_requeue_delivers(
    db_url: str, bot: Bot, fake_telegram: FakeTelegram
) -> None:
    open_ticket(db_url, "tg:1004")  # the fake has never seen this chat: "chat not found"
    clock = StepClock(T0)
    delivery = OutboxDelivery(bot, db_url, clock=clock,
                              policy=outbox.RetryPolicy(base=SEC, max_attempts=2))
    assert await delivery.deliver_due() == 0
    clock.advance(SEC)
    assert await delivery.deliver_due() == 0
    assert statuses(db_url) == ["failed"]
    clock.advance(timedelta(hours=1))
    assert await delivery.deliver_due() == 0  # failed rows stay put, kept for operators
    fake_telegram.register_chat(1004)
    with session_scope(db_url) as s:
        outbox.requeue(s, s.scalars(select(NotificationOutbox.id)).one(), now=clock())
    assert await delivery.deliver_due() == 1
    assert len(fake_telegram.sent(1004)) == 1


async def test_a_failing_row_does_not_hold_up_other_chats_or_get_overtaken(
    db_url: str, bot: Bot, fake_telegram: FakeTelegram
) -> None:
    for chat in (2001, 2002):
        fake_telegram.register_chat(chat)
    open_ticket(db_url, "tg:2001", resolve=True)  # three notices for 2001
    open_ticket(db_url, "tg:2002")
    clock = StepClock(T0 + 3 * SEC)
    delivery = OutboxDelivery(bot, db_url, clock=clock, policy=FAST)
    fake_telegram.fail_next("sendMessage", error_code=502)  # hits 2001's first notice

    assert await delivery.deliver_due() == 1  # 2002 got its receipt
    assert len(fake_telegram.sent(2002)) == 1 and fake_telegram.sent(2001) == []
    assert await delivery.deliver_due() == 0  # 2001's later notices wait for the first
    clock.advance(2 * SEC)
    while await delivery.deliver_due():
        pass
    texts = [m.text or "" for m in fake_telegram.sent(2001)]
    assert ["已受理" in texts[0], "正在办理" in texts[1], "答复" in texts[2]] == [True] * 3


async def test_two_gateways_never_send_the_same_row(
    db_url: str, fake_telegram: FakeTelegram
) -> None:
    chats = list(range(3001, 3013))
    for chat in chats:
        fake_telegram.register_chat(chat)
        open_ticket(db_url, f"tg:{chat}")
    bots = [Bot(fake_telegram.token, base_url=fake_telegram.base_url) for _ in range(2)]
    for b in bots:
        await b.initialize()
    gateways = [OutboxDelivery(b, db_url, batch_size=3, clock=StepClock(T0)) for b in bots]
    try:
        for _ in range(10):
            await asyncio.gather(*(g.deliver_due() for g in gateways))
    finally:
        for b in bots:
            await b.shutdown()
    assert all(len(fake_telegram.sent(chat)) == 1 for chat in chats)
    assert len(fake_telegram.calls_to("sendMessage")) == len(chats)
    assert gateways[0].delivered + gateways[1].delivered == len(chats)
    assert statuses(db_url) == ["delivered"] * len(chats)


async def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


async def test_stopping_midway_and_restarting_loses_nothing(
    db_url: str, bot: Bot, fake_telegram: FakeTelegram
) -> None:
    chats = list(range(4001, 4021))
    for chat in chats:
        fake_telegram.register_chat(chat)
        open_ticket(db_url, f"tg:{chat}", resolve=True)  # 60 notices
    first = OutboxDelivery(bot, db_url, poll_interval=0.05, batch_size=5)
    first.start()
    await wait_until(lambda: len(fake_telegram.sent()) >= 4)
    await first.stop()
    midway = statuses(db_url)
    assert 4 <= midway.count("delivered") < 60 and "pending" in midway
    with session_scope(db_url) as s:  # a graceful stop hands its claims back at once
        assert s.scalar(select(func.count()).select_from(NotificationOutbox)
                        .where(NotificationOutbox.claimed_by.is_not(None))) == 0

    second = OutboxDelivery(bot, db_url, poll_interval=0.05, batch_size=5)
    second.start()
    try:
        await wait_until(lambda: statuses(db_url).count("delivered") == 60, timeout=30)
    finally:
        await second.stop()
    assert first.delivered + second.delivered == 60
    for chat in chats:  # each notice exactly once, in the order of the ticket's history
        texts = [m.text or "" for m in fake_telegram.sent(chat)]
        assert len(texts) == 3
        assert "已受理" in texts[0] and "正在办理" in texts[1] and "答复" in texts[2]


async def test_a_crashed_gateways_claims_are_sent_after_the_lease(
    db_url: str, bot: Bot, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.register_chat(5001)
    open_ticket(db_url, "tg:5001")
    with session_scope(db_url) as s:  # a gateway claimed it and died before sending
        assert outbox.claim_due(s, channel="tg", worker="dead", now=T0, lease=60 * SEC)
    clock = StepClock(T0 + 30 * SEC)
    survivor = OutboxDelivery(bot, db_url, clock=clock)
    assert await survivor.deliver_due() == 0
    clock.advance(31 * SEC)
    assert await survivor.deliver_due() == 1
    assert len(fake_telegram.sent(5001)) == 1


async def test_web_rows_wait_for_their_page(db_url: str, bot: Bot, fake_telegram: FakeTelegram) -> None:
    conversation = "web:8c0e9e1e-3b1f-4f7a-9a59-5d1c1f3b2a10"
    number = open_ticket(db_url, conversation, resolve=True)
    delivery = OutboxDelivery(bot, db_url, clock=StepClock(T0 + 3 * SEC))
    assert await delivery.deliver_due() == 0
    assert fake_telegram.calls_to("sendMessage") == []

    async def page_gone(frame: dict[str, Any]) -> None:
        raise ConnectionError("websocket closed")

    assert await deliver_web(db_url, conversation, page_gone, clock=lambda: T0 + 3 * SEC) == 0
    assert statuses(db_url) == ["pending"] * 3

    frames: list[dict[str, Any]] = []

    async def page(frame: dict[str, Any]) -> None:
        frames.append(frame)

    assert await deliver_web(db_url, conversation, page, clock=lambda: T0 + 4 * SEC) == 3
    shown = [f["messages"][0] for f in frames]
    assert number in shown[0]["text"]
    assert [b["title"] for b in shown[2]["buttons"]] == ["满意", "基本满意", "不满意"]
    assert shown[2]["custom"] == {"notification": "ticket.resolved"}
    assert statuses(db_url) == ["delivered"] * 3
    assert await deliver_web(db_url, conversation, page, clock=lambda: T0 + 5 * SEC) == 0


async def test_notice_follows_the_script_the_enterprise_writes(
    db_url: str, bot: Bot, fake_telegram: FakeTelegram, redis_url: str
) -> None:
    from redis.asyncio import Redis

    fake_telegram.register_chat(6001)
    open_ticket(db_url, "tg:6001", resolve=True)
    redis.Redis.from_url(redis_url).set("hotline:script:tg:6001", b"t")
    client = Redis.from_url(redis_url)
    try:
        delivery = OutboxDelivery(bot, db_url, clock=StepClock(T0 + 3 * SEC), redis=client)
        while await delivery.deliver_due():
            pass
    finally:
        await client.aclose()
    texts = [m.text or "" for m in fake_telegram.sent(6001)]
    assert "辦理" in texts[1] and "办理" not in texts[1]
    assert fake_telegram.sent(6001)[2].buttons == [["滿意", "基本滿意", "不滿意"]]


async def test_pump_web_delivers_while_the_page_is_open(db_url: str) -> None:
    conversation = "web:0b6f7c7e-2f7e-4a43-9d55-0c1f4f0f8e21"
    frames: list[dict[str, Any]] = []

    async def page(frame: dict[str, Any]) -> None:
        frames.append(frame)

    pump = asyncio.create_task(pump_web(db_url, conversation, page, interval=0.02))
    try:
        await asyncio.sleep(0.05)
        assert frames == []
        open_ticket(db_url, conversation)  # a notice appears while the page is open
        await wait_until(lambda: len(frames) == 1)
        # Marked delivered only after the page has it (at-least-once): wait for the mark.
        await wait_until(lambda: statuses(db_url) == ["delivered"])
    finally:
        pump.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pump
    assert "已受理" in frames[0]["messages"][0]["text"]
    assert statuses(db_url) == ["delivered"]
