"""Fuzzing what a web page may send: websocket frames, session ids, button payloads.

The page is not ours once it runs in a browser: any frame may arrive (binary, text, JSON of
any shape and depth, escapes JSON allows and no database takes). Each is read as a frame or
refused with an error frame the page can show, and the connection stays open. A ``payload``
frame is believed only when the bot offered that button to that conversation.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Any

import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import example, given
from hypothesis import strategies as st
from redis.asyncio import Redis

from bot import flood, offered, webchat, webframes
from bot.rasa_client import BotMessage, RasaClient
from bot.relay import Relay
from hotline import lifecycle, outbox
from hotline.models import RatingLevel
from tests.fuzz_helpers import any_text, fuzz, fuzz_report, ran  # noqa: F401
from tests.rasa_standin import RasaStandIn
from tests.telegram_helpers import serve_asgi

CJK = re.compile(r"[\u4e00-\u9fff]")

json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)
lone_surrogate = st.integers(0xD800, 0xDFFF).map(lambda n: f"\\u{n:04x}")
json_frame = st.one_of(
    json_value.map(json.dumps),
    json_value.map(lambda v: json.dumps(v, ensure_ascii=False)),
    st.fixed_dictionaries({"text": json_value, "payload": json_value}).map(json.dumps),
    st.fixed_dictionaries({"text": any_text, "payload": st.booleans()}).map(json.dumps),
    lone_surrogate.map(lambda s: '{"text": "' + s + '", "payload": false}'),
    st.integers(1, 50_000).map(lambda n: "[" * n),
    st.integers(1, 50_000).map(lambda n: '{"text":' * n),
)
text_frame = any_text | json_frame
received = st.one_of(
    text_frame.map(lambda t: {"type": "websocket.receive", "text": t}),
    st.binary(max_size=200).map(lambda b: {"type": "websocket.receive", "bytes": b}),
    st.just({"type": "websocket.receive", "bytes": b"\x00" * 100_000}),
)


def _refusal_is_shown(bad: webframes.BadFrame) -> None:
    reply = bad.reply()
    assert reply["error"] == bad.code == "bad_frame"
    assert CJK.search(reply["messages"][0]["text"])
    json.dumps(reply, ensure_ascii=False)


@fuzz(400)
@given(received)
@example({"type": "websocket.receive", "text": "[" * 30_000})  # regression: RecursionError
@example({"type": "websocket.receive", "text": '{"text": "\\ud800"}'})  # regression: lone surrogate
@example({"type": "websocket.receive", "text": '{"text": "' + "字" * 30_000 + '"}'})
@example({"type": "websocket.receive", "text": "字" * 30_000})
def test_any_frame_is_read_or_refused(message: dict[str, Any]) -> None:
    ran("webframes.parse: read or refused")
    try:
        frame = webframes.parse(message)
    except webframes.BadFrame as bad:
        _refusal_is_shown(bad)
        return
    assert isinstance(frame.text, str) and isinstance(frame.is_payload, bool)
    assert len(frame.text) <= webframes.MAX_FRAME_CHARS
    frame.text.encode("utf-8")  # what the transcript, Redis and Rasa will be given


@fuzz(200)
@given(any_text, st.booleans())
def test_a_well_formed_frame_is_taken_as_sent(text: str, is_payload: bool) -> None:
    ran("webframes.parse: well-formed accepted")
    raw = json.dumps({"text": text, "payload": is_payload}, ensure_ascii=bool(len(text) % 2))
    assert webframes.parse({"text": raw}) == webframes.Frame(text[:webframes.MAX_FRAME_CHARS],
                                                             is_payload)
    if not text.lstrip().startswith(("{", "[")):
        assert webframes.parse({"text": text}) == webframes.Frame(
            text[:webframes.MAX_FRAME_CHARS], False)


@fuzz(200)
@given(any_text | st.uuids().map(str))
def test_session_ids_are_uuids_or_nothing(raw: str) -> None:
    ran("webframes.session_id: canonical or None")
    session = webframes.session_id(raw)
    if session is not None:
        assert session == str(uuid.UUID(session)) and webframes.session_id(session) == session


@fuzz(100)
@given(st.uuids())
def test_every_spelling_of_a_session_id_is_one_visitor(session: uuid.UUID) -> None:
    ran("webframes.session_id: spellings agree")
    for spelt in (str(session).upper(), "{" + str(session) + "}", session.hex,
                  "urn:uuid:" + str(session), f"  {session}\n"):
        assert webframes.session_id(spelt) == str(session)


# --- payloads: only what was offered -----------------------------------------------------------


@pytest.fixture(scope="module")
def payload_redis(redis_url: str) -> Iterator[str]:
    url = redis_url.rsplit("/", 1)[0] + "/14"
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    yield url


payload = any_text | st.sampled_from(["/greet", "/affirm", '/inform{"ticket_topic":"tax"}',
                                      "/rate_service:s:1-0", " /affirm ", "/open_ticket"])
bot_message = st.builds(
    BotMessage, text=any_text,
    buttons=st.lists(st.fixed_dictionaries({"title": any_text, "payload": payload}), max_size=4),
)


@fuzz(100)
@given(st.lists(bot_message, max_size=3), st.lists(payload, max_size=6))
def test_a_payload_is_believed_exactly_when_it_was_offered(
    payload_redis: str, shown: list[BotMessage], pressed: list[str],
) -> None:
    ran("offered: believed iff offered")
    frame = {"messages": [asdict(m) for m in shown]}
    offered_now = offered.payloads_of(frame)
    assert offered_now == [b["payload"].strip() for m in shown for b in m.buttons]
    conversation = f"web:{uuid.uuid4()}"

    async def check() -> None:
        client = Redis.from_url(payload_redis)
        try:
            await offered.remember(client, conversation, offered_now)
            believed = {p for p in offered_now if p} | offered.ALWAYS
            for p in offered_now + pressed:
                assert await offered.was_offered(client, conversation, p) == (
                    p.strip() in believed), p
            # another conversation was offered nothing
            for p in offered_now:
                other = await offered.was_offered(client, f"web:{uuid.uuid4()}", p)
                assert other == (p.strip() in offered.ALWAYS)
        finally:
            await client.aclose()

    asyncio.run(check())


@fuzz(200)
@given(st.from_regex(r"T[0-9]{8}-[0-9]{4}", fullmatch=True), st.sampled_from(list(RatingLevel)),
       st.integers(0, 10**6))
def test_rating_buttons_fit_telegram_and_read_back(number: str, level: RatingLevel,
                                                   round_: int) -> None:
    ran("rating payload: fits 64 bytes, round trip")
    try:
        payload = outbox.rating_payload(number, level, round_)
    except ValueError:
        assert round_ >= 10_000  # a ticket reopened ten thousand times: refused, not cut
        return
    assert len(payload.encode()) <= outbox.CALLBACK_LIMIT_BYTES
    assert payload.startswith("/inform{")
    entities = json.loads(payload[len("/inform"):])
    assert entities == {"ticket_id": number, "rating": level.code, "round": round_}
    assert lifecycle.parse_level(entities["rating"]) is level


@fuzz(200)
@given(any_text | st.sampled_from(["s", "满意", " 基本满意 ", "dissatisfied", "S"]))
def test_a_rating_level_is_read_or_refused_in_chinese(raw: str) -> None:
    ran("lifecycle.parse_level: level or Chinese refusal")
    try:
        level = lifecycle.parse_level(raw)
    except lifecycle.InvalidInput as refused:
        assert CJK.search(refused.message)
    else:
        assert raw.strip() in (level.value, level.code, level.zh)


# --- the websocket handler itself ------------------------------------------------------------


@asynccontextmanager
async def _relay_lifespan(app: FastAPI, db_url: str, redis_url: str,
                          rasa: RasaStandIn) -> AsyncIterator[None]:
    async with serve_asgi(rasa.app()) as rasa_url:  # the Rasa stand-in, over HTTP
        client = RasaClient(rasa_url, 5)
        aredis, sync = Redis.from_url(redis_url), redis.Redis.from_url(redis_url)
        app.state.relay = Relay(client, aredis, sync, db_url)
        try:
            yield
        finally:
            await client.aclose()
            await aredis.aclose()
            sync.close()


@pytest.fixture
def web_chat(db_url: str, redis_url: str) -> Iterator[TestClient]:
    url = redis_url.rsplit("/", 1)[0] + "/15"
    redis.Redis.from_url(url).flushdb()
    rasa = RasaStandIn()
    app = FastAPI(lifespan=lambda a: _relay_lifespan(a, db_url, url, rasa))
    many = flood.Limits(session_per_min=10**6, ip_per_min=10**6, queued_per_ip=10**6)
    app.include_router(webchat.router(lambda: app.state.relay, db_url, many))
    with TestClient(app) as client:
        yield client


# What a browser can send: text frames are valid UTF-8 (no lone surrogates outside JSON
# escapes), binary frames anything; a few words ask the stand-in Rasa for buttons.
browser_frame = st.one_of(
    st.text(max_size=300).map(lambda t: ("text", t)),
    json_frame.filter(lambda t: len(t) < 5000).map(lambda t: ("text", t)),
    st.sampled_from(["给我按钮", '{"text": "/affirm", "payload": true}',
                     '{"text": "/open_ticket", "payload": true}', "/restart"]).map(
        lambda t: ("text", t)),
    st.binary(max_size=100).map(lambda b: ("bytes", b)),
)


def test_the_chat_socket_answers_every_frame_and_stays_open(web_chat: TestClient) -> None:
    """One connection for the whole run: each frame gets exactly one answer frame."""
    with web_chat.websocket_connect(f"/ws/chat/{uuid.uuid4()}") as ws:

        @fuzz(80)
        @given(browser_frame)
        @example(("text", '{"text": "\\udc00hello", "payload": false}'))  # regression: the socket died (UnicodeEncodeError in the transcript insert)
        @example(("text", "[" * 4000))
        @example(("bytes", b"\xff\xfe"))
        def exchange(frame: tuple[str, str | bytes]) -> None:
            ran("websocket: one answer per frame, stays open")
            kind, data = frame
            if kind == "bytes":
                ws.send_bytes(data)  # type: ignore[arg-type]
            else:
                ws.send_text(data)  # type: ignore[arg-type]
            answer = json.loads(ws.receive_text())
            assert isinstance(answer["messages"], list)
            assert answer.get("error") in (None, "bad_frame")
            if answer.get("error"):
                assert CJK.search(answer["messages"][0]["text"])

        exchange()
        ws.send_text("还在吗")
        assert json.loads(ws.receive_text())["messages"][0]["text"] == "您说的是：还在吗"
