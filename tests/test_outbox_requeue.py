"""Issue 10, outbox: a lease per row (no double send when a batch or one send outlives the
lease), requeueing rows that gave up (CLI and console), retention of delivered rows."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select

from bot.outbox_delivery import OutboxDelivery
from hotline import outbox
from hotline.db import session_scope
from hotline.models import NotificationOutbox

T0 = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)
SEC = timedelta(seconds=1)


class StepClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class GatedBot:
    """Records sends; a send to a chat in ``gates`` waits until its event is set."""

    def __init__(self, sent: list[tuple[int, str]]) -> None:
        self.sent = sent
        self.gates: dict[int, asyncio.Event] = {}
        self.entered: set[int] = set()

    async def send_message(self, chat_id: int, text: str, reply_markup: Any = None) -> None:
        self.entered.add(chat_id)
        gate = self.gates.get(chat_id)
        if gate is not None:
            await gate.wait()
        self.sent.append((chat_id, text))


async def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def put_rows(db_url: str, *conversations: str) -> list[int]:
    with session_scope(db_url) as s:
        return [outbox.enqueue(s, c, "test", f"通知 {c}", now=T0).id  # type: ignore[union-attr]
                for c in conversations]


def lease_of(db_url: str, row_id: int) -> datetime | None:
    with session_scope(db_url) as s:
        row = s.get(NotificationOutbox, row_id)
        assert row is not None
        return row.claimed_until


async def test_a_batch_and_a_send_that_outlive_the_lease_are_not_sent_twice(db_url: str) -> None:
    slow_row, _ = put_rows(db_url, "tg:1", "tg:2")
    sent: list[tuple[int, str]] = []
    clock = StepClock(T0)
    first_bot, second_bot = GatedBot(sent), GatedBot(sent)
    first_bot.gates[1] = asyncio.Event()
    first = OutboxDelivery(first_bot, db_url, clock=clock, lease=60 * SEC,  # type: ignore[arg-type]
                           batch_size=10, worker="A", renew_every=0.01)
    second = OutboxDelivery(second_bot, db_url, clock=clock, lease=60 * SEC,  # type: ignore[arg-type]
                            batch_size=10, worker="B", renew_every=0.01)
    pass_a = asyncio.create_task(first.deliver_due())  # claims both, hangs sending to chat 1
    await wait_until(lambda: 1 in first_bot.entered)
    for _ in range(3):  # the send to chat 1 takes 120 s, twice the lease
        clock.advance(40 * SEC)
        await wait_until(lambda: (lease_of(db_url, slow_row) or T0) > clock.now)

    # The second gateway runs meanwhile: chat 1 is still being sent, chat 2 waited too long.
    assert await second.deliver_due() == 1
    assert sent == [(2, "通知 tg:2")]
    first_bot.gates[1].set()
    assert await pass_a == 1
    assert sorted(sent) == [(1, "通知 tg:1"), (2, "通知 tg:2")]  # each exactly once
    with session_scope(db_url) as s:
        assert list(s.scalars(select(NotificationOutbox.status).order_by(NotificationOutbox.id))) \
            == ["delivered", "delivered"]
