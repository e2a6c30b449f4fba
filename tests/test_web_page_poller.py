"""The gateway's one outbox poll for all its open web pages: a page with a notice waiting is
woken (and then delivered to by its pump), the others are left alone; one page open per
conversation or several, and the poll stops with the last page."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.outbox_web import PagePoller, pump_web
from tests.test_outbox_delivery import open_ticket, statuses, wait_until

A = "web:7d0c2b9e-3f0e-4b7a-9a51-1f2e3d4c5b6a"
B = "web:0e9d8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b"


async def test_a_page_with_a_notice_is_woken_and_delivered_to_the_others_are_left_alone(
        db_url: str) -> None:
    poller = PagePoller(db_url, interval=0.05)
    wake_a, wake_b, wake_a2 = asyncio.Event(), asyncio.Event(), asyncio.Event()
    poller.add(A, wake_a)
    poller.add(B, wake_b)
    poller.add(A, wake_a2)  # the same chat open in a second tab
    frames: list[dict[str, Any]] = []

    async def page(frame: dict[str, Any]) -> None:
        frames.append(frame)

    pump = asyncio.create_task(pump_web(db_url, A, page, interval=None, wake=wake_a))
    try:
        await asyncio.sleep(0.15)
        assert not wake_a.is_set() and not wake_b.is_set() and frames == []
        open_ticket(db_url, A)  # committed elsewhere, nobody published a wake-up
        await wait_until(lambda: len(frames) == 1)
        await wait_until(lambda: statuses(db_url) == ["delivered"])
        assert wake_a2.is_set() and not wake_b.is_set()
        assert "已受理" in frames[0]["messages"][0]["text"]
    finally:
        pump.cancel()
        poller.remove(A, wake_a)
        poller.remove(A, wake_a2)
    running = poller._task
    assert running is not None and not running.done()  # B is still open
    poller.remove(B, wake_b)
    await asyncio.sleep(0)
    assert running.cancelled() or running.done()
