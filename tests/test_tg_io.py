"""Telegram's quirks handled once (bot/tg_io.py): what a chat sees when a message is long,
a file is a GIF, Telegram asks to slow down, a button's payload is long, or an update
arrives twice.

A stand-in ``Bot`` records the calls; Redis is the real one.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from telegram.error import RetryAfter

from bot import tg_io

# PTB reads the deprecated int form of retry_after while building the exception.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


class RecordingBot:
    """Records ``(method, chat id, first argument, keyword arguments)``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, Any, dict[str, Any]]] = []

    def __getattr__(self, method: str) -> Any:
        async def call(chat_id: int, what: Any, **kwargs: Any) -> str:
            self.calls.append((method, chat_id, what, kwargs))
            return method

        return call


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def down() -> AsyncIterator[Redis]:
    """A Redis nobody listens on (refused at once, not tried again)."""
    client = Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))
    yield client
    await client.aclose()


async def test_a_long_text_arrives_in_parts_with_the_buttons_under_the_last() -> None:
    bot = RecordingBot()
    markup = tg_io.keyboard([("满意", "/inform{}")])
    text = "政" * tg_io.TEXT_LIMIT + "策"
    await tg_io.send_text(bot, 7, text, reply_markup=markup)  # type: ignore[arg-type]
    assert [(c[2], c[3]["reply_markup"]) for c in bot.calls] == [
        ("政" * tg_io.TEXT_LIMIT, None), ("策", markup)]
    bot.calls.clear()
    await tg_io.send_text(bot, 7, "", reply_markup=markup)  # type: ignore[arg-type]
    assert bot.calls == []


@pytest.mark.parametrize(("mime", "method"), [
    ("image/png", "send_photo"), ("image/jpeg", "send_photo"),
    ("image/gif", "send_document"), ("application/pdf", "send_document"), (None, "send_document"),
])
async def test_a_file_goes_as_a_photo_only_when_telegram_shows_it_as_one(
        mime: str | None, method: str) -> None:
    bot = RecordingBot()
    sent = await tg_io.send_file(bot, 7, b"data", filename="营业执照", mime=mime,  # type: ignore[arg-type]
                                 caption="附件")
    assert sent == method
    (name, chat, upload, kwargs), = bot.calls
    assert (name, chat, upload.filename, kwargs) == (method, 7, "营业执照", {"caption": "附件"})


async def test_flood_control_is_waited_out_then_given_up(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(tg_io.asyncio, "sleep", sleep)
    refusals = [RetryAfter(3), RetryAfter(timedelta(seconds=300))]

    async def send() -> str:
        if refusals:
            raise refusals.pop(0)
        return "sent"

    assert await tg_io.flood_retry(send) == "sent"
    assert waits == [3.0, tg_io.MAX_FLOOD_WAIT_S]  # a long wait is capped

    async def always_refused() -> str:
        raise RetryAfter(1)

    with pytest.raises(RetryAfter):
        await tg_io.flood_retry(always_refused)
    assert len(waits) == 2 + tg_io.SEND_ATTEMPTS - 1
    assert tg_io.retry_after(RetryAfter(5)) == timedelta(seconds=5)


async def test_button_payloads_of_any_length_come_back_when_pressed(redis: Redis) -> None:
    payloads = tg_io.CallbackPayloads(redis)
    short = "/affirm"
    long = "/inform" + '{"ticket_id": "' + "工单" * 30 + '"}'
    markup = await payloads.keyboard([{"title": "是", "payload": short},
                                      {"title": "查询", "payload": long}])
    assert markup is not None
    (yes,), (query,) = markup.inline_keyboard
    assert yes.callback_data == short
    assert isinstance(query.callback_data, str)
    assert len(query.callback_data.encode()) <= tg_io.CALLBACK_LIMIT
    assert await payloads.payload_of(short) == short
    assert await payloads.payload_of(query.callback_data) == long
    assert await payloads.payload_of("cb:" + "0" * 20) is None  # expired: the bot says so
    assert await payloads.keyboard([]) is None


async def test_a_long_payload_button_is_dropped_when_redis_is_down(down: Redis) -> None:
    payloads = tg_io.CallbackPayloads(down)
    markup = await payloads.keyboard([{"title": "是", "payload": "/affirm"},
                                      {"title": "长", "payload": "/inform" + "x" * 80}])
    assert markup is not None and [[b.text for b in row] for row in markup.inline_keyboard] == [["是"]]


def test_callback_data_and_keyboard_layout() -> None:
    assert tg_io.checked_callback("opg:take:tg:1") == "opg:take:tg:1"
    with pytest.raises(ValueError):
        tg_io.checked_callback("x" * (tg_io.CALLBACK_LIMIT + 1))
    buttons = [("满意", "a"), ("基本满意", "b"), ("不满意", "c")]
    one_row = tg_io.keyboard(buttons, one_row=True)
    stacked = tg_io.keyboard(buttons)
    assert one_row is not None and stacked is not None
    assert [len(row) for row in one_row.inline_keyboard] == [3]
    assert [len(row) for row in stacked.inline_keyboard] == [1, 1, 1]
    assert tg_io.keyboard([]) is None


async def test_an_update_delivered_twice_is_handled_once_per_handler(redis: Redis) -> None:
    update_id = uuid.uuid4().int % 10**9
    assert await tg_io.first_time(redis, "tg", 99, update_id)
    assert not await tg_io.first_time(redis, "tg", 99, update_id)
    assert await tg_io.first_time(redis, "opg", 99, update_id)  # the other handler's own mark
    await redis.delete(*tg_io.dedupe_keys(99, update_id))  # a crashed update, handed out again
    assert await tg_io.first_time(redis, "tg", 99, update_id)


async def test_with_redis_down_an_update_is_handled_only_when_failing_open(down: Redis) -> None:
    assert await tg_io.first_time(down, "tg", 99, 1, fail_open=True)
    with pytest.raises(RedisError):
        await tg_io.first_time(down, "opg", 99, 1)
