"""The relay routes by handoff mode before Rasa is asked (Rasa is down here on purpose:
in queued and human mode it must not be needed)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
import redis
from redis.asyncio import Redis
from sqlalchemy import select

from bot import messages
from bot.rasa_client import RasaClient
from bot.relay import Relay
from hotline import handoff, live, transcripts
from hotline.db import session_scope
from hotline.handoff import Mode
from hotline.local.stack import free_port
from hotline.models import Attachment, TranscriptMessage


@pytest.fixture
def env(redis_url: str, db_url: str):  # type: ignore[no-untyped-def]
    url = redis_url.rsplit("/", 1)[0] + "/10"
    sync = redis.Redis.from_url(url)
    sync.flushdb()
    yield url, sync, db_url
    sync.close()


def _run(env, steps):  # type: ignore[no-untyped-def]
    url, sync, db_url = env

    async def main():  # type: ignore[no-untyped-def]
        rasa = RasaClient(f"http://127.0.0.1:{free_port()}", 2)
        aredis = Redis.from_url(url)
        relay = Relay(rasa, aredis, sync, db_url)
        try:
            return await steps(relay)
        finally:
            await rasa.aclose()
            await aredis.aclose()

    return asyncio.run(main())


def test_queued_chat_is_told_its_place_and_can_cancel(env) -> None:  # type: ignore[no-untyped-def]
    _url, sync, db_url = env
    handoff.request_human(sync, "tg:1")

    async def steps(relay: Relay):  # type: ignore[no-untyped-def]
        waiting = await relay.handle("tg:1", "telegram", "还要等多久？")
        cancelled = await relay.handle("tg:1", "telegram", "取消")
        again = await relay.handle("tg:1", "telegram", handoff.CANCEL_PAYLOAD, is_payload=True)
        return waiting, cancelled, again

    waiting, cancelled, again = _run(env, steps)
    assert "您是下一位" in waiting[0].text and waiting[0].buttons == [handoff.CANCEL_BUTTON]
    assert cancelled[0].text == messages.QUEUE_CANCELLED
    assert again[0].text == "您当前没有在排队等待人工客服。"
    assert handoff.mode_of(sync, "tg:1") is Mode.BOT
    with session_scope(db_url) as session:
        said = [m.text for m in transcripts.history(session, "tg:1")]
    assert said[0] == "还要等多久？" and messages.QUEUE_CANCELLED in said


def test_with_a_person_the_bot_is_silent_but_everything_is_kept(env) -> None:  # type: ignore[no-untyped-def]
    _url, sync, db_url = env
    handoff.request_human(sync, "web:a")
    handoff.claim(sync, "web:a", "op1")
    before = sync.xlen(live.STREAM) if sync.exists(live.STREAM) else 0

    async def steps(relay: Relay):  # type: ignore[no-untyped-def]
        text = await relay.handle("web:a", "web", "材料我都交了")
        photo = await relay.handle_file("web:a", "web", "回执.png", "image/png", b"\x89PNG data")
        bad = await relay.handle_file("web:a", "web", "a.exe", "application/x-msdownload", b"MZ")
        big = await relay.handle_file("web:a", "web", "b.pdf", "application/pdf", b"x" * 11_000_000)
        return text, photo, bad, big

    text, photo, bad, big = _run(env, steps)
    assert text == [] and photo == []
    assert "不支持该文件类型" in bad[0].text and "超过 10 MB" in big[0].text
    assert sync.xlen(live.STREAM) >= before + 2
    with session_scope(db_url) as session:
        lines = session.scalars(select(TranscriptMessage).where(
            TranscriptMessage.conversation_id == "web:a").order_by(TranscriptMessage.id)).all()
        assert [m.text for m in lines][:2] == ["材料我都交了", "[图片] 回执.png"]
        assert session.get(Attachment, lines[1].attachment_id).data == b"\x89PNG data"


def test_a_closed_chat_reopens_with_the_bot(env) -> None:  # type: ignore[no-untyped-def]
    _url, sync, _db = env
    handoff.request_human(sync, "tg:3")
    handoff.close(sync, "tg:3", "op1")

    async def steps(relay: Relay):  # type: ignore[no-untyped-def]
        return await relay.handle("tg:3", "telegram", "你好")

    replies = _run(env, steps)
    assert replies[0].text == messages.RASA_BUSY  # it went on to the bot (down here)
    assert handoff.mode_of(sync, "tg:3") is Mode.BOT


def test_files_in_bot_mode_are_not_kept(env) -> None:  # type: ignore[no-untyped-def]
    async def steps(relay: Relay):  # type: ignore[no-untyped-def]
        return await relay.handle_file("tg:4", "telegram", "x.pdf", "application/pdf", b"%PDF")

    assert "转人工" in _run(env, steps)[0].text


def test_transcripts_older_than_the_retention_are_purged(db_url: str) -> None:
    now = datetime.now(timezone.utc)
    with session_scope(db_url) as session:
        transcripts.add(session, "tg:9", "telegram", "in", "enterprise", "old", at=now - timedelta(days=800))
        transcripts.add(session, "tg:9", "telegram", "in", "enterprise", "new", at=now)
    with session_scope(db_url) as session:
        assert transcripts.purge(session, 730, now=now) == 1
    with session_scope(db_url) as session:
        assert [m.text for m in transcripts.history(session, "tg:9")] == ["new"]
    with pytest.raises(ValueError):
        with session_scope(db_url) as session:
            transcripts.purge(session, 0)


def test_buttons_while_a_person_has_the_chat(env) -> None:  # type: ignore[no-untyped-def]
    _url, sync, _db = env
    handoff.request_human(sync, "tg:7")
    handoff.claim(sync, "tg:7", "op1")

    async def steps(relay: Relay):  # type: ignore[no-untyped-def]
        other = await relay.handle("tg:7", "telegram", "/open_ticket", is_payload=True)
        rating = await relay.handle(
            "tg:7", "telegram", '/inform{"ticket_id":"T20261122-0001","rating":"s","round":0}',
            is_payload=True)
        return other, rating

    other, rating = _run(env, steps)
    assert other[0].text == messages.BUTTON_WITH_PERSON
    assert rating[0].text == messages.RASA_BUSY  # went on to the bot (down in this test)
    assert handoff.mode_of(sync, "tg:7") is Mode.HUMAN


def test_the_gateway_applies_the_retention(db_url: str) -> None:
    from bot.housekeeping import purge_once

    now = datetime.now(timezone.utc)
    with session_scope(db_url) as session:
        transcripts.add(session, "tg:8", "telegram", "in", "enterprise", "old", at=now - timedelta(days=40))
        transcripts.add(session, "tg:8", "telegram", "in", "enterprise", "new", at=now)
    assert purge_once(db_url, 30) == 1
    assert purge_once(db_url, 30) == 0
