"""The relay's transcript writer: lines committed together, in order, each caller told of its
own; the console told of an enterprise's message once it is in the database."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
import redis
from sqlalchemy.exc import IntegrityError

from bot import transcript_writer
from bot.transcript_writer import TranscriptWriter
from hotline import live, transcripts
from hotline.db import session_scope


@pytest.fixture
def sync(redis_url: str):  # type: ignore[no-untyped-def]
    client = redis.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/11")
    client.flushdb()
    yield client
    client.close()


def _said(db_url: str, conversation: str) -> list[tuple[str, str]]:
    with session_scope(db_url) as session:
        return [(m.author, m.text) for m in transcripts.history(session, conversation)]


def test_a_message_is_committed_and_announced_when_write_returns(db_url: str, sync) -> None:  # type: ignore[no-untyped-def]
    async def main() -> list[tuple[str, str]]:
        writer = TranscriptWriter(db_url, sync)
        await writer.write("web:a", "web", "in", "enterprise", ["你好"], announce=True)
        return _said(db_url, "web:a")

    assert asyncio.run(main()) == [("enterprise", "你好")]
    entries = sync.xrange(live.STREAM)
    assert [e[1][b"conversation"] for e in entries] == [b"web:a"]


def test_replies_ride_with_the_next_message_and_keep_their_order(db_url: str, sync) -> None:  # type: ignore[no-untyped-def]
    async def main() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        writer = TranscriptWriter(db_url, sync)
        await writer.write("web:b", "web", "in", "enterprise", ["一"], announce=True)
        writer.write_soon("web:b", "web", "out", "bot", ["答一", "答一之二"])
        before = _said(db_url, "web:b")  # queued, not yet committed
        await writer.write("web:b", "web", "in", "enterprise", ["二"], announce=True)
        return before, _said(db_url, "web:b")

    before, after = asyncio.run(main())
    assert before == [("enterprise", "一")]
    assert after == [("enterprise", "一"), ("bot", "答一"), ("bot", "答一之二"),
                     ("enterprise", "二")]
    # Replies are not announced: the console hears of each enterprise message once.
    assert sync.xlen(live.STREAM) == 2


def test_replies_alone_are_committed_soon_and_settled_waits_for_them(db_url: str, sync) -> None:  # type: ignore[no-untyped-def]
    async def main() -> tuple[float, list[tuple[str, str]], list[tuple[str, str]]]:
        writer = TranscriptWriter(db_url, sync)
        writer.write_soon("web:c", "web", "out", "bot", ["稍后"])
        writer.write_soon("web:d", "web", "out", "bot", ["另一个"])
        started = time.perf_counter()
        await writer.settled("web:c")
        waited = time.perf_counter() - started
        await asyncio.sleep(transcript_writer.LINGER_S * 4)  # nobody waits for web:d
        return waited, _said(db_url, "web:c"), _said(db_url, "web:d")

    waited, c, d = asyncio.run(main())
    assert c == [("bot", "稍后")] and d == [("bot", "另一个")]
    assert waited < 5


def test_one_refused_entry_fails_alone(db_url: str, sync) -> None:  # type: ignore[no-untyped-def]
    async def main() -> list[object]:
        writer = TranscriptWriter(db_url, sync)
        # Queued together, so committed in one batch: the NULL author is refused.
        writer.write_soon("web:e", "web", "out", "bot", ["好的"])
        bad = writer.write("web:f", "web", "in", None, ["坏的"])  # type: ignore[arg-type]
        good = writer.write("web:g", "web", "in", "enterprise", ["好的"], announce=True)
        return list(await asyncio.gather(bad, good, writer.settled("web:e"),
                                         return_exceptions=True))

    bad, good, replies = asyncio.run(main())
    assert isinstance(bad, IntegrityError)
    assert good is None and replies is None
    assert _said(db_url, "web:e") == [("bot", "好的")]
    assert _said(db_url, "web:f") == []
    assert _said(db_url, "web:g") == [("enterprise", "好的")]
    assert [e[1][b"conversation"] for e in sync.xrange(live.STREAM)] == [b"web:g"]


def test_redis_down_the_message_is_kept_all_the_same(db_url: str) -> None:
    down = redis.Redis(port=1, socket_connect_timeout=0.2)  # nothing listens on port 1

    async def main() -> None:
        writer = TranscriptWriter(db_url, down)
        await writer.write("web:h", "web", "in", "enterprise", ["在吗"], announce=True)

    asyncio.run(main())
    assert _said(db_url, "web:h") == [("enterprise", "在吗")]


def test_close_commits_what_is_queued(db_url: str, sync) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        writer = TranscriptWriter(db_url, sync)
        writer.write_soon("web:i", "web", "out", "bot", ["再见"])
        await writer.aclose()

    asyncio.run(main())
    assert _said(db_url, "web:i") == [("bot", "再见")]



def test_a_message_is_committed_while_the_loops_shared_threads_are_all_busy(
        db_url: str, sync) -> None:  # type: ignore[no-untyped-def]
    """The writer commits on a thread of its own: an enterprise's message does not wait
    behind the other work queued in the event loop's shared pool."""
    async def main() -> list[tuple[str, str]]:
        gate = threading.Event()
        busy = [asyncio.ensure_future(asyncio.to_thread(gate.wait, 30))
                for _ in range(64)]  # more than the shared pool's threads
        await asyncio.sleep(0.05)
        writer = TranscriptWriter(db_url, sync)
        try:
            await asyncio.wait_for(writer.write("web:busy", "web", "in", "enterprise",
                                                ["在吗"], announce=True), 5)
            return _said(db_url, "web:busy")
        finally:
            gate.set()
            await asyncio.gather(*busy)
            await writer.aclose()

    assert asyncio.run(main()) == [("enterprise", "在吗")]
