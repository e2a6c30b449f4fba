"""Issue 15, item 5: outbound Telegram traffic stays within Telegram's limits, across replicas.

The fake Bot API keeps Telegram's flood control here (``flood_limits``: 30 messages a second,
about one a second per chat, 20 a minute per group, 429 with ``retry_after`` beyond): a burst
of 200 notices from two gateway replicas arrives exactly once with no 429, and when the fake
answers 429 anyway nothing is lost.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from telegram import Bot, LinkPreviewOptions
from telegram.error import RetryAfter
from telegram.ext import Application, Defaults, ExtBot

from bot import tg_io
from bot.outbox_delivery import OutboxDelivery
from bot.tg_rate import SharedRateLimiter, bot_id_of, counted
from hotline import outbox
from hotline.db import session_scope
from hotline.models import NotificationOutbox
from hotline.send_rate import SendLimits, SendRate, Window
from tests.fake_telegram import FakeTelegram, TelegramLimits

# PTB reads the deprecated int form of retry_after while building RetryAfter.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

MakeFake = Callable[..., FakeTelegram]
_tokens = iter(range(700001, 799999))


def fresh_token() -> str:
    """A bot of its own per test: the windows in the session's Redis are per bot."""
    return f"{next(_tokens)}:limits-test-token"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def gateway_bot(fake: FakeTelegram, limiter: SharedRateLimiter | None) -> Application:
    """A PTB Application's bot built like the gateway's (see bot.telegram), started."""
    builder = (Application.builder().token(fake.token).base_url(fake.base_url)
               .defaults(Defaults(tzinfo=ZoneInfo("Asia/Shanghai"),
                                  link_preview_options=LinkPreviewOptions(is_disabled=True)))
               .updater(None))
    if limiter is not None:
        builder = builder.rate_limiter(limiter)
    app = builder.build()
    await app.initialize()
    return app


def limiter(redis: Redis, fake: FakeTelegram, limits: SendLimits | None = None) -> SharedRateLimiter:
    return SharedRateLimiter(SendRate(redis, bot_id_of(fake.token), limits))


def put_notices(db_url: str, conversations: list[str]) -> None:
    now = datetime.now(timezone.utc)
    with session_scope(db_url) as s:
        for i, conversation in enumerate(conversations):
            outbox.enqueue(s, conversation, "test", f"通知{i:03d}：您的诉求已受理。", now=now)


def statuses(db_url: str) -> Counter[str]:
    with session_scope(db_url) as s:
        return Counter(s.scalars(select(NotificationOutbox.status)))


async def deliver_all(deliveries: list[OutboxDelivery], db_url: str, total: int,
                      timeout: float = 90.0) -> float:
    """Run the loops until every row is delivered; the seconds it took."""
    started = time.monotonic()
    for delivery in deliveries:
        delivery.poll_interval = 0.2
        delivery.start()
    try:
        while statuses(db_url)["delivered"] < total:
            if time.monotonic() - started > timeout:
                raise AssertionError(f"not all delivered: {statuses(db_url)}")
            await asyncio.sleep(0.1)
    finally:
        for delivery in deliveries:
            await delivery.stop()
    return time.monotonic() - started


def burst(fake: FakeTelegram) -> tuple[list[str], list[str]]:
    """200 notices: one each to 190 chats, and ten to one chat, interleaved."""
    many = [f"tg:{910000 + i}" for i in range(190)]
    for conversation in many:
        fake.register_chat(int(conversation[3:]))
    fake.register_chat(919999)
    one = ["tg:919999"] * 10
    conversations = many[:]
    for i, conversation in enumerate(one):
        conversations.insert(i * 19, conversation)
    return conversations, one


def assert_each_once_in_order(fake: FakeTelegram, conversations: list[str]) -> None:
    expected = Counter(int(c[3:]) for c in conversations)
    got = Counter(m.chat_id for m in fake.sent())
    assert got == expected  # every notice arrived, none twice
    texts = [m.text or "" for m in fake.sent(919999)]
    assert texts == sorted(texts)  # one chat's notices in the order they were written


# --- the core's windows --------------------------------------------------------------------


async def test_windows_are_shared_by_replicas_and_a_pause_holds_every_send(redis: Redis) -> None:
    bot = bot_id_of(fresh_token())
    limits = SendLimits(per_bot=Window(5, 1.0), per_chat=Window(2, 1.0),
                        per_group=Window(3, 2.0), margin_s=0.0)
    one, other = SendRate(redis, bot, limits), SendRate(redis, bot, limits)  # two replicas

    assert await one.reserve(1) == 0 and await other.reserve(1) == 0
    wait = await one.peek(1)
    assert 0.5 < wait <= 1.0  # the chat's window is full, on both replicas
    assert await other.reserve(1) == pytest.approx(wait, abs=0.1)
    assert await one.peek(2) == 0  # another chat is not held up
    for chat in (2, 3, 4):
        assert await (one if chat % 2 else other).reserve(chat) == 0
    assert await one.peek(5) > 0  # five sends this second: the bot's window is full
    assert await one.peek(None) > 0

    group = SendRate(redis, bot_id_of(fresh_token()), limits)
    for _ in range(3):
        assert await group.acquire(-100777) < 1.5  # a group: its chat window, then its own
    assert await group.peek(-100777) > 0.5 and await group.peek(777) == 0

    await other.pause(2.0)
    assert 1.5 < await one.peek(6) <= 2.0
    await one.pause(0.5)  # a shorter pause never shortens a longer one
    assert await one.peek(6) > 1.5


def test_only_messages_count() -> None:
    assert counted("sendMessage") and counted("sendDocument") and counted("copyMessage")
    assert not counted("sendChatAction") and not counted("answerCallbackQuery")
    assert not counted("editMessageText") and not counted("getMe")


# --- the fake keeps Telegram's limits ------------------------------------------------------


async def test_the_fake_answers_429_with_retry_after_beyond_a_chats_burst(
    fake_telegram_factory: MakeFake,
) -> None:
    fake = fake_telegram_factory(token=fresh_token(), flood_limits=TelegramLimits())
    fake.register_chat(42)
    bot = Bot(fake.token, base_url=fake.base_url)
    async with bot:
        for i in range(3):
            await bot.send_message(42, f"第{i}条")
        with pytest.raises(RetryAfter) as refused:
            await bot.send_message(42, "第3条")
    assert tg_io.retry_after(refused.value).total_seconds() == 3
    assert [r.scope for r in fake.flood_refusals] == ["chat"]
    assert len(fake.sent(42)) == 3


# --- bursts through the outbox --------------------------------------------------------------


@pytest.mark.sqlite_only
async def test_a_burst_of_200_notices_from_two_replicas_arrives_once_without_a_429(
    db_url: str, redis: Redis, fake_telegram_factory: MakeFake,
) -> None:
    fake = fake_telegram_factory(token=fresh_token(), flood_limits=TelegramLimits())
    conversations, _ = burst(fake)
    put_notices(db_url, conversations)
    apps = [await gateway_bot(fake, limiter(redis, fake)) for _ in range(2)]
    try:
        deliveries = [OutboxDelivery(app.bot, db_url, redis=redis, batch_size=20,
                                     rate=app.bot.rate_limiter.rate)  # type: ignore[union-attr]
                      for app in apps]
        took = await deliver_all(deliveries, db_url, len(conversations))
    finally:
        for app in apps:
            await app.shutdown()
    assert fake.flood_refusals == []
    assert_each_once_in_order(fake, conversations)
    assert statuses(db_url) == {"delivered": 200}
    assert sum(d.delivered for d in deliveries) == 200
    # Ten notices to one chat need three windows of three seconds; the 190 others 30 a second.
    assert took > 9.0
    print(f"\n200 notices (190 chats + 10 to one chat), 2 replicas: {took:.1f} s, "
          f"{200 / took:.1f}/s, {sum(d.deferred for d in deliveries)} rows put off, 0 × 429")


@pytest.mark.sqlite_only
async def test_without_the_limiter_the_fake_refuses_and_the_outbox_still_loses_nothing(
    db_url: str, redis: Redis, fake_telegram_factory: MakeFake,
) -> None:
    """The control: the same burst with no limiter crosses the limits (so the fake would
    show a broken limiter), and 429s cost time, not notices."""
    fake = fake_telegram_factory(token=fresh_token(), flood_limits=TelegramLimits())
    conversations, _ = burst(fake)
    put_notices(db_url, conversations)
    app = await gateway_bot(fake, None)
    try:
        delivery = OutboxDelivery(app.bot, db_url, redis=redis, batch_size=50,
                                  policy=outbox.RetryPolicy(max_attempts=50))
        took = await deliver_all([delivery], db_url, len(conversations), timeout=120)
    finally:
        await app.shutdown()
    assert len(fake.flood_refusals) > 0
    assert_each_once_in_order(fake, conversations)
    print(f"\nno limiter: {took:.1f} s, {len(fake.flood_refusals)} × 429, none lost")


@pytest.mark.sqlite_only
async def test_429s_forced_by_telegram_are_waited_out_and_nothing_is_lost(
    db_url: str, redis: Redis, fake_telegram_factory: MakeFake,
) -> None:
    fake = fake_telegram_factory(token=fresh_token(), flood_limits=TelegramLimits())
    conversations = [f"tg:{920000 + i}" for i in range(30)]
    for conversation in conversations:
        fake.register_chat(int(conversation[3:]))
    put_notices(db_url, conversations)
    fake.fail_next("sendMessage", retry_after=1, times=4)  # beyond the limiter's retries
    app = await gateway_bot(fake, limiter(redis, fake))
    try:
        delivery = OutboxDelivery(app.bot, db_url, redis=redis,
                                  rate=app.bot.rate_limiter.rate)  # type: ignore[union-attr]
        took = await deliver_all([delivery], db_url, len(conversations))
    finally:
        await app.shutdown()
    refused = [c for c in fake.calls_to("sendMessage") if c.status_code == 429]
    assert len(refused) == 4
    assert Counter(m.chat_id for m in fake.sent()) == Counter(int(c[3:]) for c in conversations)
    assert took >= 3.0  # the bot paused for each retry_after (three in the limiter, one row)


# --- replies and group posts: every sender of the bot ---------------------------------------


async def test_group_posts_from_two_replicas_keep_the_groups_window(
    redis: Redis, fake_telegram_factory: MakeFake,
) -> None:
    """Scaled down (a group's 20 a minute would take minutes): 3 posts in any 2 s."""
    fake = fake_telegram_factory(token=fresh_token(),
                                 flood_limits=TelegramLimits(per_group=(3, 2.0)))
    group = -1009876543210
    fake.register_chat(group)
    fake.register_chat(5150)
    limits = SendLimits(per_group=Window(3, 2.0), margin_s=0.1)
    apps = [await gateway_bot(fake, limiter(redis, fake, limits)) for _ in range(2)]
    started = time.monotonic()
    try:
        bots: list[ExtBot[None]] = [app.bot for app in apps]
        await asyncio.gather(
            *(bots[i % 2].send_message(group, f"群消息{i}") for i in range(8)),
            *(bots[i % 2].send_message(5150, f"回复{i}") for i in range(3)),  # not held up
            bots[0].send_chat_action(5150, "typing"),
        )
    finally:
        for app in apps:
            await app.shutdown()
    took = time.monotonic() - started
    assert fake.flood_refusals == []
    assert len(fake.sent(group)) == 8 and len(fake.sent(5150)) == 3
    assert took > 4.0  # 3 + 3 + 2 posts: two windows had to pass
