"""The gateway's Telegram and web-chat channels, driven over HTTP.

The real PTB Application talks to the fake Bot API server; Rasa is a scripted stand-in
(tests/rasa_standin.py); Redis and the database are real.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
import redis
import websockets

from tests.factories import GATEWAY_SECRET as SECRET
from tests.factories import Gateway, inbound_texts, run_gateway
from tests.fake_telegram import FakeTelegram

CHAT = 4242


@pytest.fixture(autouse=True)
def _clean_redis(redis_url: str) -> None:
    redis.Redis.from_url(redis_url).flushdb()


@pytest.fixture
async def polling_gateway(fake_telegram: FakeTelegram, redis_url: str, db_url: str):
    async with run_gateway(fake_telegram, redis_url, db_url) as gw:
        yield gw


@pytest.fixture
async def webhook_gateway(fake_telegram: FakeTelegram, redis_url: str, db_url: str):
    async with run_gateway(fake_telegram, redis_url, db_url, telegram_mode="webhook") as gw:
        yield gw


async def test_text_is_relayed_to_rasa_and_the_reply_arrives(polling_gateway: Gateway) -> None:
    fake = polling_gateway.fake
    fake.user_says(CHAT, "你好，请问怎么申请贷款贴息")
    reply = await fake.await_reply(CHAT, timeout=10)
    assert reply.text == "您说的是：你好，请问怎么申请贷款贴息"
    assert polling_gateway.rasa.received[-1]["sender"] == f"tg:{CHAT}"


async def test_rasa_buttons_become_an_inline_keyboard_and_presses_go_back(
    polling_gateway: Gateway,
) -> None:
    fake = polling_gateway.fake
    fake.user_says(CHAT, "给我按钮")
    reply = await fake.await_reply(CHAT, timeout=10)
    assert reply.buttons == [["提交诉求"], ["查询进度"]]
    short, long_ = reply.callback_data
    assert short == "/open_ticket"
    assert long_.startswith("cb:") and len(long_.encode()) <= 64  # stored in Redis
    fake.user_presses(CHAT, long_)
    answer = await fake.await_reply(CHAT, timeout=10)
    assert answer.text.startswith('收到按钮：/check_ticket{"ticket_id": "T20261122-0042"')
    assert fake.calls_to("answerCallbackQuery")
    edit = await fake.await_call("editMessageText", timeout=5)
    assert "已选择：查询进度" in edit.params["text"]


async def test_a_user_cannot_type_an_intent_payload(polling_gateway: Gateway) -> None:
    fake = polling_gateway.fake
    fake.user_says(CHAT, "/check_ticket")
    await fake.await_reply(CHAT, timeout=10)
    assert polling_gateway.rasa.received[-1]["message"] == "check_ticket"


@pytest.mark.parametrize("kind", ["sticker", "photo", "location", "voice", "document"])
async def test_non_text_updates_get_a_polite_reply(polling_gateway: Gateway, kind: str) -> None:
    fake = polling_gateway.fake
    fake.user_sends(CHAT, kind)
    reply = await fake.await_reply(CHAT, timeout=10)
    assert "只能识别文字" in reply.text
    fake.user_says(CHAT, "还在吗")  # the bot is still alive afterwards
    assert (await fake.await_reply(CHAT, timeout=10)).text == "您说的是：还在吗"


async def test_traditional_writer_gets_traditional_replies(polling_gateway: Gateway) -> None:
    fake = polling_gateway.fake
    fake.user_says(CHAT, "請問營業執照")
    reply = await fake.await_reply(CHAT, timeout=10)
    assert reply.text == "您說的是：請問營業執照"


async def test_html_answers_are_sent_in_html_mode(polling_gateway: Gateway) -> None:
    fake = polling_gateway.fake
    fake.user_says(CHAT, "html please")
    reply = await fake.await_reply(CHAT, timeout=10)
    assert reply.parse_mode == "HTML"
    assert reply.plain_text == "开办企业\n1. 申请书 <原件>"


async def test_rasa_down_gets_a_busy_reply_and_the_message_is_kept(
    polling_gateway: Gateway,
) -> None:
    polling_gateway.rasa.down = True
    fake = polling_gateway.fake
    fake.user_says(CHAT, "银行抽贷了怎么办")
    reply = await fake.await_reply(CHAT, timeout=15)
    assert "系统繁忙" in reply.text
    texts = inbound_texts(polling_gateway.db_url, f"tg:{CHAT}")
    assert "银行抽贷了怎么办" in texts


async def test_webhook_needs_the_secret_token(webhook_gateway: Gateway) -> None:
    fake = webhook_gateway.fake
    update_id = fake.user_says(CHAT, "你好")
    delivery = await fake.await_delivery(update_id, timeout=10)
    assert delivery.status_code == 200
    assert (await fake.await_reply(CHAT, timeout=10)).text == "您说的是：你好"
    for secret in (None, "wrong"):
        forged = await fake.apost_to_webhook(fake.build_text_update(CHAT, "伪造的消息"),
                                             secret=secret)
        assert forged.status_code == 403
    await fake.await_no_reply(CHAT, within=1.0)
    assert all(p["message"] != "伪造的消息" for p in webhook_gateway.rasa.received)


async def test_a_redelivered_update_is_handled_once(webhook_gateway: Gateway) -> None:
    fake = webhook_gateway.fake
    update = fake.build_text_update(CHAT, "重复投递")
    for _ in range(2):
        delivered = await fake.apost_to_webhook(update, secret=SECRET)
        assert delivered.status_code == 200
    await fake.await_reply(CHAT, timeout=10)
    await fake.await_no_reply(CHAT, within=1.0)
    assert [p["message"] for p in webhook_gateway.rasa.received].count("重复投递") == 1


async def test_web_chat_page_and_websocket(polling_gateway: Gateway) -> None:
    async with httpx.AsyncClient() as client:
        page = await client.get(polling_gateway.url + "/")
    assert page.status_code == 200 and "企业服务热线" in page.text
    ws_url = polling_gateway.ws_url(str(uuid.uuid4()))
    async with websockets.connect(ws_url) as ws:
        await ws.send(json.dumps({"text": "厂里老停电"}, ensure_ascii=False))
        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert frame["messages"][0]["text"] == "您说的是：厂里老停电"
        await ws.send("不是JSON的纯文本")
        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert frame["messages"][0]["text"] == "您说的是：不是JSON的纯文本"
        await ws.send(json.dumps({"text": "   "}))
        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert "空的" in frame["messages"][0]["text"]


async def test_web_chat_refuses_a_bad_session_id(polling_gateway: Gateway) -> None:
    ws_url = polling_gateway.ws_url("not-a-uuid")
    with pytest.raises(websockets.exceptions.WebSocketException):
        async with websockets.connect(ws_url) as ws:
            await asyncio.wait_for(ws.recv(), 5)
