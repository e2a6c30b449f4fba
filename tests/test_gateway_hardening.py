"""Issue 10 (never lose a message, hostile input): the gateway and ticket numbering under
concurrency, failures of Redis and Rasa, and what a client may send."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import subprocess
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import websockets
from sqlalchemy import select

from bot.app import WEBHOOK_PATH
from hotline import handoff, outbox, tickets
from hotline.db import session_scope
from hotline.handoff import Mode
from hotline.local.stack import free_port, redis_server_binary
from hotline.models import Ticket, TranscriptMessage
from tests import test_operator_group as og
from tests.factories import Gateway, run_gateway, transcript
from tests.fake_telegram import FakeTelegram
from tests.rasa_standin import RasaStandIn, default_reply

NOON = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)  # Friday 12:00 in Shanghai


# --- 1. ticket numbers under concurrency -----------------------------------------------------


def _create_concurrently(db_url: str, count: int, description: str) -> list[BaseException]:
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        barrier.wait()
        try:
            with session_scope(db_url) as session:
                tickets.create_ticket(session, topic="tax", description=f"{description} {i}",
                                      conversation_id=f"tg:{1000 + i}", now=NOON)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return errors


@pytest.mark.both_databases  # SQLite's write lock and PostgreSQL's row lock (ON CONFLICT)
@pytest.mark.parametrize("existing_day", [False, True], ids=["first-of-day", "day-under-way"])
def test_eight_concurrent_tickets_get_eight_distinct_numbers(db_url: str,
                                                             existing_day: bool) -> None:
    if existing_day:
        with session_scope(db_url) as session:
            tickets.create_ticket(session, topic="tax", description="早上的一单",
                                  conversation_id="tg:1", now=NOON)
    errors = _create_concurrently(db_url, 8, "并发诉求")
    assert errors == []
    with session_scope(db_url) as session:
        numbers = sorted(session.scalars(select(Ticket.number)))
    expected = 9 if existing_day else 8
    assert numbers == [f"T20261120-{n:04d}" for n in range(1, expected + 1)]


# --- the gateway, driven over HTTP (fake Bot API, scripted Rasa) -----------------------------

CHAT = 5151
SECRET = "s3cret-token-for-hardening"
CONFIRM_PROMPT = {
    "text": "请核对诉求信息：\n类别：税费\n内容：退税迟迟不到账",
    "buttons": [{"title": "确认提交", "payload": "/affirm"},
                {"title": "取消", "payload": "/deny"}],
}


# The gateway on free ports against the fake Bot API and ``rasa``; keywords override Settings.
gateway = functools.partial(run_gateway, telegram_secret_token=SECRET)


@pytest.fixture
def clean_redis(redis_url: str) -> str:
    redis.Redis.from_url(redis_url).flushdb()
    return redis_url


# --- 2. an empty answer from Rasa is a failure -----------------------------------------------


def _scripted(created: list[str], db_url: str, *, create_then_fail: bool = False):  # type: ignore[no-untyped-def]
    def reply(sender: str, message: str) -> list[dict[str, Any]]:
        if message == "会让动作出错的问题":
            return []  # what Rasa says when the action server is down or an action raised
        if message == "提交诉求":
            return [{"recipient_id": sender, **CONFIRM_PROMPT}]
        if message == "/affirm":
            if create_then_fail:  # the ticket was written, then the action died
                with session_scope(db_url) as session:
                    ticket = tickets.create_ticket(session, topic="tax", description="退税",
                                                   conversation_id=sender, notify=False)
                    created.append(ticket.number)
            return []
        return default_reply(sender, message)
    return reply


async def test_an_empty_rasa_answer_tells_the_enterprise(
    fake_telegram: FakeTelegram, clean_redis: str, db_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rasa = RasaStandIn(_scripted([], db_url))
    async with gateway(fake_telegram, clean_redis, db_url, rasa):
        fake_telegram.user_says(CHAT, "会让动作出错的问题")
        reply = await fake_telegram.await_reply(CHAT, timeout=10)
    assert "系统暂时无法处理您的消息" in reply.text and "已记录" in reply.text
    assert ("in", "会让动作出错的问题") in transcript(db_url, f"tg:{CHAT}")
    assert any("empty answer" in r.getMessage() for r in caplog.records)


async def test_a_confirmed_ticket_that_was_not_created_is_reported(
    fake_telegram: FakeTelegram, clean_redis: str, db_url: str,
) -> None:
    rasa = RasaStandIn(_scripted([], db_url))
    async with gateway(fake_telegram, clean_redis, db_url, rasa):
        fake_telegram.user_says(CHAT, "提交诉求")
        await fake_telegram.await_reply(CHAT, timeout=10)
        fake_telegram.user_presses(CHAT, button_text="确认提交")
        reply = await fake_telegram.await_reply(CHAT, timeout=10)
    assert "诉求未能提交" in reply.text and "没有生成工单" in reply.text


async def test_a_confirmed_ticket_that_was_created_is_reported_with_its_number(
    fake_telegram: FakeTelegram, clean_redis: str, db_url: str,
) -> None:
    created: list[str] = []
    rasa = RasaStandIn(_scripted(created, db_url, create_then_fail=True))
    async with gateway(fake_telegram, clean_redis, db_url, rasa):
        fake_telegram.user_says(CHAT, "提交诉求")
        await fake_telegram.await_reply(CHAT, timeout=10)
        fake_telegram.user_presses(CHAT, button_text="确认提交")
        reply = await fake_telegram.await_reply(CHAT, timeout=10)
    assert created and created[0] in reply.text and "已受理" in reply.text


async def test_rasa_down_at_the_confirmation_press_says_the_ticket_was_not_created(
    fake_telegram: FakeTelegram, clean_redis: str, db_url: str,
) -> None:
    """Found by bench/chaos.py: a press of 确认提交 while Rasa was away got the generic busy
    notice, and the enterprise could not tell whether its request had been filed."""
    rasa = RasaStandIn(_scripted([], db_url))
    async with gateway(fake_telegram, clean_redis, db_url, rasa):
        fake_telegram.user_says(CHAT, "提交诉求")
        await fake_telegram.await_reply(CHAT, timeout=10)
        rasa.down = True
        fake_telegram.user_presses(CHAT, button_text="确认提交")
        reply = await fake_telegram.await_reply(CHAT, timeout=10)
    assert "诉求未能提交" in reply.text and "没有生成工单" in reply.text


async def test_rasa_timing_out_after_creating_the_ticket_still_gives_its_number(
    fake_telegram: FakeTelegram, clean_redis: str, db_url: str,
) -> None:
    created: list[str] = []
    rasa = RasaStandIn(_scripted(created, db_url, create_then_fail=True))
    rasa.delays["/affirm"] = 3.0  # longer than the gateway waits for Rasa
    async with gateway(fake_telegram, clean_redis, db_url, rasa, rasa_timeout_s=1):
        fake_telegram.user_says(CHAT, "提交诉求")
        await fake_telegram.await_reply(CHAT, timeout=10)
        fake_telegram.user_presses(CHAT, button_text="确认提交")
        await asyncio.sleep(3.5)  # the action has written the ticket meanwhile
        reply = await fake_telegram.await_reply(CHAT, timeout=10)
    assert created and created[0] in reply.text and "已受理" in reply.text


# --- 3. Redis down: the message is recorded and the enterprise told, not dropped -------------


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A Redis of this test alone, so it can be killed."""
    port = free_port()
    proc = subprocess.Popen(
        [redis_server_binary(), "--bind", "127.0.0.1", "--port", str(port), "--dir",
         str(tmp_path), "--save", ""], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline and proc.poll() is None, "redis did not start"
            time.sleep(0.05)
    proc.url = f"redis://127.0.0.1:{port}/0"  # type: ignore[attr-defined]
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


async def test_redis_down_telegram_message_is_recorded_and_answered(
    fake_telegram: FakeTelegram, own_redis: subprocess.Popen[bytes], db_url: str,
) -> None:
    async with gateway(fake_telegram, own_redis.url, db_url, RasaStandIn()):  # type: ignore[attr-defined]
        fake_telegram.user_says(CHAT, "你好")
        assert (await fake_telegram.await_reply(CHAT, timeout=10)).text == "您说的是：你好"
        own_redis.kill()
        own_redis.wait(10)
        fake_telegram.user_says(CHAT, "Redis停了我的消息还在吗")
        reply = await fake_telegram.await_reply(CHAT, timeout=20)
        assert "系统繁忙" in reply.text and "已记录" in reply.text
    assert ("in", "Redis停了我的消息还在吗") in transcript(db_url, f"tg:{CHAT}")
    assert ("out", reply.text) in transcript(db_url, f"tg:{CHAT}")


async def test_redis_down_web_chat_message_is_recorded_and_answered(
    fake_telegram: FakeTelegram, own_redis: subprocess.Popen[bytes], db_url: str,
) -> None:
    session = uuid.uuid4()
    async with gateway(fake_telegram, own_redis.url, db_url, RasaStandIn()) as gw:  # type: ignore[attr-defined]
        own_redis.kill()
        own_redis.wait(10)
        async with websockets.connect(gw.ws_url(str(session))) as ws:
            await ws.send(json.dumps({"text": "网页上Redis停了"}, ensure_ascii=False))
            frame = json.loads(await asyncio.wait_for(ws.recv(), 20))
    assert "系统繁忙" in frame["messages"][0]["text"]
    assert ("in", "网页上Redis停了") in transcript(db_url, f"web:{session}")


async def test_redis_down_at_the_confirmation_press_says_the_ticket_was_not_created(
    fake_telegram: FakeTelegram, own_redis: subprocess.Popen[bytes], db_url: str,
) -> None:
    rasa = RasaStandIn(_scripted([], db_url))
    async with gateway(fake_telegram, own_redis.url, db_url, rasa):  # type: ignore[attr-defined]
        fake_telegram.user_says(CHAT, "提交诉求")
        await fake_telegram.await_reply(CHAT, timeout=10)
        own_redis.kill()
        own_redis.wait(10)
        fake_telegram.user_presses(CHAT, button_text="确认提交")
        reply = await fake_telegram.await_reply(CHAT, timeout=20)
    assert "诉求未能提交" in reply.text


# --- 4. an edited Telegram message is marked in the transcript, not relayed again ------------


async def test_an_edited_message_is_recorded_as_an_edit_and_not_relayed(
    fake_telegram: FakeTelegram, clean_redis: str, db_url: str,
) -> None:
    rasa = RasaStandIn()
    async with gateway(fake_telegram, clean_redis, db_url, rasa):
        fake_telegram.user_says(CHAT, "营业执照怎么办理")
        await fake_telegram.await_reply(CHAT, timeout=10)
        message_id = fake_telegram.actions[-1].update["message"]["message_id"]
        fake_telegram.user_edits(CHAT, message_id, "营业执照怎么变更")
        note = await fake_telegram.await_reply(CHAT, timeout=10)
        await fake_telegram.await_no_reply(CHAT, within=1.0)
    assert [p["message"] for p in rasa.received] == ["营业执照怎么办理"]
    assert "重新发送" in note.text
    lines = transcript(db_url, f"tg:{CHAT}")
    assert ("in", "（修改了之前的消息）营业执照怎么变更") in lines
    assert lines.count(("in", "营业执照怎么变更")) == 0


# --- 5. hostile web-chat frames get a clear answer, and the connection stays -----------------


async def _exchange(ws: Any, frame: str | bytes) -> dict[str, Any]:
    await ws.send(frame)
    return json.loads(await asyncio.wait_for(ws.recv(), 10))


@pytest.mark.parametrize("bad", [
    b"\x00\x01binary",
    '{"text": "半截的JSON',
    '[1, 2, 3]',
    '{"text": {"nested": true}}',
], ids=["binary", "truncated-json", "json-array", "text-not-a-string"])
async def test_a_bad_web_chat_frame_gets_an_error_frame_and_the_chat_goes_on(
    fake_telegram: FakeTelegram, clean_redis: str, db_url: str, bad: str | bytes,
) -> None:
    rasa = RasaStandIn()
    async with gateway(fake_telegram, clean_redis, db_url, rasa) as gw:
        async with websockets.connect(gw.ws_url(str(uuid.uuid4()))) as ws:
            error = await _exchange(ws, bad)
            assert error["error"] == "bad_frame"
            assert "无法识别" in error["messages"][0]["text"]
            after = await _exchange(ws, json.dumps({"text": "还在吗"}, ensure_ascii=False))
            assert after["messages"][0]["text"] == "您说的是：还在吗"
    assert [p["message"] for p in rasa.received] == ["还在吗"]


# --- 6. one visitor is one conversation, however the session id is spelt ---------------------


async def test_session_id_spellings_are_one_conversation(
    fake_telegram: FakeTelegram, clean_redis: str, db_url: str,
) -> None:
    session = uuid.uuid4()
    spellings = [str(session).upper(), "%7B" + str(session) + "%7D", session.hex,
                 "urn:uuid:" + str(session)]
    async with gateway(fake_telegram, clean_redis, db_url, RasaStandIn()) as gw:
        for n, spelt in enumerate(spellings):
            async with websockets.connect(gw.ws_url(spelt)) as ws:
                await _exchange(ws, json.dumps({"text": f"第{n}句"}, ensure_ascii=False))
    conversations = {c for c in _conversations(db_url) if c.startswith("web:")}
    assert conversations == {f"web:{session}"}
    assert [t for d, t in transcript(db_url, f"web:{session}") if d == "in"] == [
        "第0句", "第1句", "第2句", "第3句"]


async def test_a_non_uuid_session_is_refused_in_chinese(
    fake_telegram: FakeTelegram, clean_redis: str, db_url: str,
) -> None:
    async with gateway(fake_telegram, clean_redis, db_url, RasaStandIn()) as gw:
        async with httpx.AsyncClient() as client:
            refused = await client.post(gw.url + "/chat/upload/not-a-session",
                                        files={"file": ("a.txt", b"x", "text/plain")})
    assert refused.status_code == 400
    assert "会话编号无效" in refused.json()["detail"]


def _conversations(db_url: str) -> set[str]:
    with session_scope(db_url) as session:
        return set(session.scalars(select(TranscriptMessage.conversation_id).distinct()))


# --- 7. a web client may press only the buttons the bot offered it ---------------------------

FORGED = '/inform{"ticket_id": "T20261120-0001", "rating": "满意", "round": 1}'


async def test_a_forged_button_payload_is_refused_politely(
    fake_telegram: FakeTelegram, clean_redis: str, db_url: str,
) -> None:
    rasa = RasaStandIn()
    async with gateway(fake_telegram, clean_redis, db_url, rasa) as gw:
        async with websockets.connect(gw.ws_url(str(uuid.uuid4()))) as ws:
            refused = await _exchange(ws, json.dumps({"text": FORGED, "payload": True}))
            assert "按钮已失效" in refused["messages"][0]["text"]
            greeted = await _exchange(ws, json.dumps({"text": "/greet", "payload": True}))
            assert greeted["messages"][0]["text"] == "收到按钮：/greet"  # the page's first frame
            offer = await _exchange(ws, json.dumps({"text": "给我按钮"}, ensure_ascii=False))
            payloads = [b["payload"] for b in offer["messages"][0]["buttons"]]
            pressed = await _exchange(ws, json.dumps({"text": payloads[1], "payload": True}))
            assert pressed["messages"][0]["text"] == f"收到按钮：{payloads[1]}"
    assert [p["message"] for p in rasa.received] == ["/greet", "给我按钮", payloads[1]]


async def test_buttons_pushed_by_the_outbox_may_be_pressed(
    fake_telegram: FakeTelegram, clean_redis: str, db_url: str,
) -> None:
    session = uuid.uuid4()
    rating = '/inform{"ticket_id": "T20261120-0009", "rating": "满意"}'
    with session_scope(db_url) as s:
        outbox.enqueue(s, f"web:{session}", "result", "请评价工单 T20261120-0009 的办理结果",
                       buttons=[{"title": "满意", "payload": rating}])
    rasa = RasaStandIn()
    async with gateway(fake_telegram, clean_redis, db_url, rasa) as gw:
        async with websockets.connect(gw.ws_url(str(session))) as ws:
            pushed = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert pushed["messages"][0]["buttons"][0]["payload"] == rating
            pressed = await _exchange(ws, json.dumps({"text": rating, "payload": True},
                                                     ensure_ascii=False))
    assert pressed["messages"][0]["text"] == f"收到按钮：{rating}"


# --- 8. the operator group's allow-list covers every command ---------------------------------

GROUP = -1009876543210
OP_LISTED = {"id": 601, "first_name": "王", "last_name": "五", "is_bot": False}
OP_UNLISTED = {"id": 602, "first_name": "赵六", "is_bot": False}


@pytest.fixture
async def group_env(fake_telegram: FakeTelegram, clean_redis: str,
                    db_url: str) -> AsyncIterator[og.Env]:
    fake_telegram.register_chat(GROUP, chat_type="supergroup", title="值班群")
    client = redis.Redis.from_url(clean_redis)
    rasa = RasaStandIn()
    async with gateway(fake_telegram, clean_redis, db_url, rasa, operator_chat_id=GROUP,
                       operator_group_allow=str(OP_LISTED["id"])):
        yield og.Env(fake_telegram, rasa, client, db_url)
    client.close()


async def _announce(env: og.Env) -> Any:
    env.fake.user_says(og.CHAT, "我要找人工")
    await env.fake.await_reply(og.CHAT, timeout=10)
    mark = env.fake.mark()
    handoff.request_human(env.r, og.CONV)
    return await env.fake.await_reply(GROUP, contains="新的人工服务请求", since=mark, timeout=10)


@pytest.mark.parametrize("command", ["/close", "/handback"])
async def test_an_unlisted_group_member_cannot_end_a_queued_chat(
    group_env: og.Env, command: str,
) -> None:
    announcement = await _announce(group_env)
    mark = group_env.fake.mark()
    group_env.fake.user_says(GROUP, command, user=OP_UNLISTED, reply_to=announcement.message_id,
                             chat_type="supergroup")
    refusal = await group_env.fake.await_reply(GROUP, since=mark, timeout=10)
    assert "不在人工客服名单" in refusal.text
    assert handoff.mode_of(group_env.r, og.CONV) is Mode.QUEUED


async def test_an_unlisted_group_member_cannot_reply_to_the_enterprise(group_env: og.Env) -> None:
    announcement = await _announce(group_env)
    mark = group_env.fake.mark()
    group_env.fake.user_says(GROUP, "我来回答", user=OP_UNLISTED,
                             reply_to=announcement.message_id, chat_type="supergroup")
    refusal = await group_env.fake.await_reply(GROUP, since=mark, timeout=10)
    assert "不在人工客服名单" in refusal.text


# --- 9. a webhook secret that is not ASCII is a 403 ------------------------------------------


async def test_a_non_ascii_webhook_secret_is_forbidden_not_an_error(
    fake_telegram: FakeTelegram, clean_redis: str, db_url: str,
) -> None:
    async with gateway(fake_telegram, clean_redis, db_url, RasaStandIn(),
                       telegram_mode="webhook") as gw:
        update = fake_telegram.build_text_update(CHAT, "伪造")
        async with httpx.AsyncClient() as client:
            for secret in ("秘密令牌".encode(), "s3cret-token-for-hardeninG\xe9".encode("latin-1"),
                           b"\xff\xfe"):
                answer = await client.post(gw.url + WEBHOOK_PATH, json=update,
                                           headers={"X-Telegram-Bot-Api-Secret-Token": secret})
                assert answer.status_code == 403, secret
            good = await client.post(gw.url + WEBHOOK_PATH, json=update,
                                     headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
        assert good.status_code == 200


# --- 10. flood control on the anonymous web chat ---------------------------------------------


async def _say(gw: Gateway, session: str, texts: list[str],
               forwarded_for: str | None = None) -> list[str]:
    """Each text on its own connection's turn; the first line of each answer."""
    answers = []
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else None
    async with websockets.connect(gw.ws_url(session), extra_headers=headers) as ws:
        for text in texts:
            frame = await _exchange(ws, json.dumps({"text": text}, ensure_ascii=False))
            answers.append(frame["messages"][0]["text"])
    return answers


async def test_one_session_sending_too_fast_is_slowed_down(
    fake_telegram: FakeTelegram, clean_redis: str, db_url: str,
) -> None:
    rasa = RasaStandIn()
    async with gateway(fake_telegram, clean_redis, db_url, rasa,
                       web_session_msgs_per_min=3) as gw:
        answers = await _say(gw, str(uuid.uuid4()), [f"第{n}条" for n in range(5)])
        other = await _say(gw, str(uuid.uuid4()), ["别的访客"])
    assert answers[:3] == ["您说的是：第0条", "您说的是：第1条", "您说的是：第2条"]
    assert all("发送太频繁" in a for a in answers[3:])
    assert other == ["您说的是：别的访客"]
    assert len(rasa.received) == 4


async def test_one_address_sending_too_fast_is_slowed_down(
    fake_telegram: FakeTelegram, clean_redis: str, db_url: str,
) -> None:
    rasa = RasaStandIn()
    async with gateway(fake_telegram, clean_redis, db_url, rasa,
                       web_ip_msgs_per_min=4) as gw:
        first = await _say(gw, str(uuid.uuid4()), ["一", "二", "三"])
        second = await _say(gw, str(uuid.uuid4()), ["四", "五"])
    assert first == ["您说的是：一", "您说的是：二", "您说的是：三"]
    assert second[0] == "您说的是：四" and "发送太频繁" in second[1]


async def test_behind_a_trusted_proxy_each_client_has_its_own_limit(
    fake_telegram: FakeTelegram, clean_redis: str, db_url: str,
) -> None:
    """Behind the load balancer every connection comes from it: without trusting it, one busy
    office would slow down every enterprise; a client's own X-Forwarded-For is not believed."""
    async with gateway(fake_telegram, clean_redis, db_url, RasaStandIn(),
                       web_ip_msgs_per_min=2, console_trusted_proxies="127.0.0.1") as gw:
        office = await _say(gw, str(uuid.uuid4()), ["一", "二", "三"], forwarded_for="203.0.113.7")
        other = await _say(gw, str(uuid.uuid4()), ["四"], forwarded_for="198.51.100.9")
    assert office[:2] == ["您说的是：一", "您说的是：二"] and "发送太频繁" in office[2]
    assert other == ["您说的是：四"]  # not counted with the first office


async def test_an_untrusted_peer_cannot_dodge_the_limit_with_a_forged_header(
    fake_telegram: FakeTelegram, clean_redis: str, db_url: str,
) -> None:
    async with gateway(fake_telegram, clean_redis, db_url, RasaStandIn(),
                       web_ip_msgs_per_min=2) as gw:
        answers = [(await _say(gw, str(uuid.uuid4()), [text], forwarded_for=f"192.0.2.{i}"))[0]
                   for i, text in enumerate(["一", "二", "三"])]
    assert "发送太频繁" in answers[2], answers


def _queue_on_request(sync: redis.Redis):  # type: ignore[no-untyped-def]
    def reply(sender: str, message: str) -> list[dict[str, Any]]:
        if message == "转人工":  # what the action server does
            handoff.request_human(sync, sender)
            return [{"recipient_id": sender, "text": "正在为您转接人工客服，请稍候。"}]
        return default_reply(sender, message)
    return reply


async def test_one_address_may_keep_only_a_few_chats_in_the_queue(
    fake_telegram: FakeTelegram, clean_redis: str, db_url: str,
) -> None:
    sync = redis.Redis.from_url(clean_redis)
    rasa = RasaStandIn(_queue_on_request(sync))
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    async with gateway(fake_telegram, clean_redis, db_url, rasa, web_queued_per_ip=1) as gw:
        assert (await _say(gw, first, ["转人工"]))[0] == "正在为您转接人工客服，请稍候。"
        refused = await _say(gw, second, ["转人工"])
    assert "排队" in refused[0] and "上限" in refused[0]
    assert handoff.mode_of(sync, f"web:{first}") is Mode.QUEUED
    assert handoff.mode_of(sync, f"web:{second}") is Mode.BOT
    sync.close()


async def test_an_oversized_upload_is_refused_before_its_body_is_read(
    fake_telegram: FakeTelegram, clean_redis: str, db_url: str,
) -> None:
    async with gateway(fake_telegram, clean_redis, db_url, RasaStandIn(),
                       attachment_max_mb=1) as gw:
        host, port = gw.url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        # Announces 500 MB and sends none of it: the answer must come without the body.
        try:
            writer.write((f"POST /chat/upload/{uuid.uuid4()} HTTP/1.1\r\nHost: {host}\r\n"
                          "Content-Type: multipart/form-data; boundary=x\r\n"
                          "Content-Length: 500000000\r\n\r\n").encode())
            await writer.drain()
            head = await asyncio.wait_for(reader.read(4096), 5)
        finally:
            writer.close()
        assert head.startswith(b"HTTP/1.1 413")
        assert "文件太大" in head.decode("utf-8", "replace")

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it comes
            yield b"--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n\r\n"
            for _ in range(40):
                yield b"\0" * 65536
            yield b"\r\n--x--\r\n"
        async with httpx.AsyncClient() as client:
            streamed = await client.post(
                gw.url + f"/chat/upload/{uuid.uuid4()}", content=chunks(),
                headers={"Content-Type": "multipart/form-data; boundary=x"})
            small = await client.post(gw.url + f"/chat/upload/{uuid.uuid4()}",
                                      files={"file": ("a.txt", b"hello", "text/plain")})
            page = await client.get(gw.url + "/")
        assert "const MAX_UPLOAD_MB = 1;" in page.text  # the page checks before sending
    assert streamed.status_code == 413 and "文件太大" in streamed.json()["detail"]
    assert small.status_code == 200


# --- 11. personal data stays out of logs and group posts -------------------------------------


async def test_a_failing_handler_logs_the_update_id_not_the_update(
    fake_telegram: FakeTelegram, clean_redis: str, db_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def crash(sender: str, message: str) -> list[dict[str, Any]]:
        return [{"recipient_id": sender, "text": "x" * 5, "buttons": "not a list"}]

    rasa = RasaStandIn(crash)  # the gateway chokes on the malformed buttons
    async with gateway(fake_telegram, clean_redis, db_url, rasa):
        update_id = fake_telegram.user_says(CHAT, "我的手机号是13800138000", user={
            "first_name": "陈", "last_name": "大文", "username": "chen_dawen"})
        for _ in range(100):
            if any("handler failed" in r.getMessage() for r in caplog.records):
                break
            await asyncio.sleep(0.05)
    failures = [r for r in caplog.records if "handler failed" in r.getMessage()]
    assert failures, "the failure is logged"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert str(update_id) in failures[0].getMessage()
    for personal in ("13800138000", "大文", "chen_dawen", str(CHAT)):
        assert personal not in logged


async def test_web_session_ids_stay_out_of_access_logs(
    fake_telegram: FakeTelegram, clean_redis: str, db_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    session = str(uuid.uuid4())
    async with gateway(fake_telegram, clean_redis, db_url, RasaStandIn()) as gw:
        # What uvicorn logs for each request (the test server runs with its access log off).
        access, error = logging.getLogger("uvicorn.access"), logging.getLogger("uvicorn.error")
        levels, propagate = (access.level, error.level), access.propagate
        access.setLevel(logging.INFO)
        error.setLevel(logging.INFO)
        access.propagate = True
        try:
            access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET",
                        f"/chat/files/7?c={session.upper()}", "1.1", 404)
            error.info('%s - "WebSocket %s" [accepted]', "127.0.0.1:5000", f"/ws/chat/{session}")
        finally:
            access.propagate = propagate
            access.setLevel(levels[0])
            error.setLevel(levels[1])
        await _say(gw, session, ["你好"])
        async with httpx.AsyncClient() as client:
            await client.post(gw.url + f"/chat/upload/{session}",
                              files={"file": ("a.txt", b"x", "text/plain")})
    # (httpx: this test's own client; the gateway runs with httpx at WARNING, bot/__main__.py)
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name != "httpx")
    assert "/chat/files/7?c=web:#" in logged and "/ws/chat/web:#" in logged
    assert session not in logged.lower()


async def test_operator_group_posts_hide_web_session_ids(group_env: og.Env) -> None:
    session = str(uuid.uuid4())
    conversation = f"web:{session}"
    mark = group_env.fake.mark()
    handoff.request_human(group_env.r, conversation)
    announcement = await group_env.fake.await_reply(GROUP, contains="新的人工服务请求",
                                                    since=mark, timeout=10)
    assert session not in (announcement.text or "")
    assert all(session not in data for data in announcement.callback_data)
    mark = group_env.fake.mark()
    group_env.fake.user_presses(GROUP, announcement.callback_data[0],
                                message_id=announcement.message_id, user=OP_LISTED)
    taken = await group_env.fake.await_reply(GROUP, contains="您已接入", since=mark, timeout=10)
    assert session not in (taken.text or "")
    assert handoff.owner_of(group_env.r, conversation) == f"tg-op-{OP_LISTED['id']}"
