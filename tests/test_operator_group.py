"""The operators' Telegram group (bot/operator_group.py), end to end through the gateway.

The real gateway (PTB Application, outbox delivery, announcer) talks to the fake Bot API;
Redis and the database are real; Rasa is the scripted stand-in. Escalations are made with
:func:`hotline.handoff.request_human` directly, as the action server would.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
import redis

from bot.app import create_app
from bot.operator_group import OPERATOR_PREFIX, TAKE_PREFIX, operator_of, take_data
from hotline import handoff
from hotline.db import session_scope
from hotline.handoff import Mode
from hotline.identity import claim
from hotline.settings import Settings
from tests.factories import until
from tests.fake_telegram import FakeTelegram, SentMessage
from tests.rasa_standin import RasaStandIn
from tests.telegram_helpers import serve_asgi

CHAT = 4242  # the enterprise's private chat
CONV = f"tg:{CHAT}"
GROUP = -1001234567890  # the operators' supergroup
ZHANG = {"id": 501, "first_name": "张", "last_name": "三", "is_bot": False}
LI = {"id": 502, "first_name": "李四", "is_bot": False}
USCC = "91440300MA5F7XYZ1K"


@dataclass
class Env:
    fake: FakeTelegram
    rasa: RasaStandIn
    r: redis.Redis
    db_url: str


@pytest.fixture
def group_redis_url(redis_url: str) -> str:
    url = redis_url.rsplit("/", 1)[0] + "/9"
    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture
async def env(fake_telegram: FakeTelegram, group_redis_url: str,
              db_url: str, request: pytest.FixtureRequest) -> AsyncIterator[Env]:
    allow = getattr(request, "param", "")  # HOTLINE_OPERATOR_GROUP_ALLOW for the test
    fake_telegram.register_chat(GROUP, chat_type="supergroup", title="企业服务热线·值班群")
    rasa = RasaStandIn()
    client = redis.Redis.from_url(group_redis_url)
    async with serve_asgi(rasa.app()) as rasa_url:
        settings = Settings(
            redis_url=group_redis_url, rasa_url=rasa_url, database_url=db_url,
            rasa_timeout_s=5, telegram_token=fake_telegram.token,
            telegram_base_url=fake_telegram.base_url, telegram_mode="polling",
            operator_chat_id=GROUP, operator_group_allow=allow,
        )
        async with serve_asgi(create_app(settings)):
            yield Env(fake_telegram, rasa, client, db_url)
    client.close()


def says(fake: FakeTelegram, text: str, *, user: dict = ZHANG, reply_to: int | None = None) -> int:
    """An operator writes in the group."""
    return fake.user_says(GROUP, text, user=user, reply_to=reply_to, chat_type="supergroup")


async def escalate(env: Env, *said: str) -> SentMessage:
    """The enterprise writes (answered by the bot), then asks for a person."""
    for text in said:
        env.fake.user_says(CHAT, text)
        await env.fake.await_reply(CHAT, contains=text, timeout=10)
    mark = env.fake.mark()
    handoff.request_human(env.r, CONV)
    return await env.fake.await_reply(GROUP, contains="新的人工服务请求", since=mark, timeout=10)


async def take(env: Env, announcement: SentMessage, user: dict = ZHANG) -> SentMessage:
    mark = env.fake.mark()
    env.fake.user_presses(GROUP, take_data(CONV), message_id=announcement.message_id, user=user)
    return await env.fake.await_reply(GROUP, contains="您已接入", since=mark, timeout=10)


def press_answer(env: Env, update_id: int) -> dict | None:
    for pressed in env.fake.callback_queries:
        if pressed.update_id == update_id:
            return pressed.answer
    return None


def replies_to(message_id: int) -> Callable[[SentMessage], bool]:
    def check(m: SentMessage) -> bool:
        return (m.message.get("reply_to_message") or {}).get("message_id") == message_id

    return check


# --- tests ----------------------------------------------------------------------------------


def test_identity_and_callback_data() -> None:
    from telegram import User

    assert operator_of(User(501, "张", False, last_name="三")) == ("tg-op-501", "张 三")
    assert operator_of(User(7, "Li", False)) == ("tg-op-7", "Li")
    longest = take_data(f"web:{uuid.uuid4()}")
    assert longest.startswith(TAKE_PREFIX) and len(longest.encode()) <= 64
    assert len(take_data("tg:-10012345678901234567").encode()) <= 64


async def test_escalation_is_announced_with_a_take_button(env: Env) -> None:
    with session_scope(env.db_url) as s:
        claim(s, CONV, uscc=USCC, name="深圳市<华兴>精密有限公司", contact_name=None,
              contact_phone=None, actor="enterprise")
    ann = await escalate(env, "请问贷款贴息怎么申请", "我们厂 <b>急需</b> 资金 & 设备")
    assert ann.parse_mode == "HTML"
    assert ann.buttons == [["接入"]]
    assert ann.callback_data == [f"opg:take:{CONV}"]
    text = ann.plain_text or ""
    for part in ("渠道：Telegram", "企业：深圳市<华兴>精密有限公司", "原因：企业要求转人工",
                 CONV, "请问贷款贴息怎么申请", "我们厂 <b>急需</b> 资金 & 设备"):
        assert part in text, text
    assert "您说的是" not in text  # only the enterprise's own words are quoted


async def test_take_from_the_group_claims_the_chat(env: Env) -> None:
    ann = await escalate(env, "我要咨询社保补贴")
    thread = await take(env, ann)
    state = handoff.state_of(env.r, CONV)
    assert state.mode is Mode.HUMAN and state.operator == f"{OPERATOR_PREFIX}501"
    assert thread.plain_text.startswith("张 三：您已接入 Telegram 会话 tg:4242")
    assert "/handback" in thread.plain_text and "/close" in thread.plain_text
    assert replies_to(ann.message_id)(thread)
    notice = await env.fake.await_reply(CHAT, contains="已接入", timeout=10)
    assert notice.text == "您好，人工客服（张 三）已接入，正在查看您之前的对话，请稍候。"
    # The announcement now says who took it and has no button any more.
    await until(lambda: "已由 张 三 接入" in (env.fake.message(GROUP, ann.message_id).plain_text
                                               or ""))
    assert env.fake.message(GROUP, ann.message_id).buttons == []
    answered = env.fake.callback_queries[-1].answer
    assert answered is not None and "已接入" in answered.get("text", "")


async def test_a_second_operator_gets_an_alert(env: Env) -> None:
    ann = await escalate(env, "我要咨询社保补贴")
    await take(env, ann)
    # A stale client still shows the button: 李四 presses it after 张三 took the chat.
    update_id = env.fake.user_presses(GROUP, take_data(CONV), message_id=ann.message_id,
                                      user=LI, strict=False)
    answer = await until(lambda: press_answer(env, update_id))
    assert answer["show_alert"] is True
    assert answer["text"] == "该会话由客服 张 三 接待，不能重复接入。"
    assert handoff.owner_of(env.r, CONV) == "tg-op-501"


async def test_replies_go_both_ways(env: Env) -> None:
    ann = await escalate(env, "我要咨询社保补贴")
    thread = await take(env, ann)
    await env.fake.await_reply(CHAT, contains="已接入", timeout=10)
    says(env.fake, "您好，请问贵企业的参保人数是多少？", reply_to=thread.message_id)
    got = await env.fake.await_reply(CHAT, contains="参保人数", timeout=10)
    assert got.text == "人工客服（张 三）：您好，请问贵企业的参保人数是多少？"
    # A reply to the announcement works too.
    says(env.fake, "补贴标准以人社局公告为准。", reply_to=ann.message_id)
    await env.fake.await_reply(CHAT, contains="人社局公告", timeout=10)

    received = len(env.rasa.received)
    env.fake.user_says(CHAT, "大概 120 人 <含外包>")
    forwarded = await env.fake.await_reply(GROUP, contains="120 人", timeout=10)
    assert forwarded.plain_text == "💬 企业：大概 120 人 <含外包>"
    assert replies_to(thread.message_id)(forwarded)
    # Replying to the forwarded message reaches the enterprise as well.
    says(env.fake, "好的，收到。", reply_to=forwarded.message_id)
    await env.fake.await_reply(CHAT, contains="好的，收到。", timeout=10)
    assert len(env.rasa.received) == received  # with a person, the bot is silent


async def test_messages_written_while_queued_follow_the_take(env: Env) -> None:
    ann = await escalate(env, "第一句")
    env.fake.user_says(CHAT, "排队时补充的话")
    await env.fake.await_reply(CHAT, contains="排队", timeout=10)  # the queue notice
    thread = await take(env, ann)
    forwarded = await env.fake.await_reply(GROUP, contains="排队时补充的话", timeout=10)
    assert replies_to(thread.message_id)(forwarded)
    assert not [m for m in env.fake.sent(GROUP) if "企业：第一句" in (m.plain_text or "")]


async def test_files_go_both_ways(env: Env) -> None:
    ann = await escalate(env, "我发个文件")
    thread = await take(env, ann)
    env.fake.user_sends(CHAT, "document", content=b"%PDF-1.4 fake", file_name="营业执照.pdf",
                        mime_type="application/pdf")
    doc = await env.fake.await_reply(GROUP, lambda m: m.kind == "document", timeout=10)
    assert "营业执照.pdf" in (doc.caption or "")
    assert replies_to(thread.message_id)(doc)
    env.fake.user_sends(GROUP, "photo", content=b"\xff\xd8 fake jpeg", caption="请看示例",
                        user=ZHANG, reply_to=thread.message_id, chat_type="supergroup")
    await env.fake.await_reply(CHAT, contains="请看示例", timeout=10)
    await env.fake.await_reply(CHAT, lambda m: m.kind == "photo", timeout=10)


async def test_a_non_owner_cannot_reply(env: Env) -> None:
    ann = await escalate(env, "我要咨询社保补贴")
    thread = await take(env, ann)
    await env.fake.await_reply(CHAT, contains="已接入", timeout=10)
    says(env.fake, "我来回答吧", user=LI, reply_to=thread.message_id)
    refusal = await env.fake.await_reply(GROUP, contains="接待", timeout=10)
    assert refusal.plain_text == "该会话由客服 张 三 接待，只有接待的客服可以回复。"
    says(env.fake, "/handback", user=LI, reply_to=thread.message_id)
    refusal = await env.fake.await_reply(GROUP, contains="接待", timeout=10)
    assert "只有接待的客服可以交回智能客服" in (refusal.plain_text or "")
    await env.fake.await_no_reply(CHAT, within=1.0)
    assert handoff.owner_of(env.r, CONV) == "tg-op-501"


async def test_handback_returns_the_chat_to_the_bot(env: Env) -> None:
    ann = await escalate(env, "我要咨询社保补贴")
    thread = await take(env, ann)
    await env.fake.await_reply(CHAT, contains="已接入", timeout=10)
    says(env.fake, "/handback", reply_to=thread.message_id)
    done = await env.fake.await_reply(GROUP, contains="交回智能客服", timeout=10)
    assert done.plain_text == "↩️ 张 三 已将会话交回智能客服。"
    assert replies_to(thread.message_id)(done)
    assert handoff.mode_of(env.r, CONV) is Mode.BOT
    await env.fake.await_reply(CHAT, contains="智能客服继续为您服务", timeout=10)
    mark = env.fake.mark()
    env.fake.user_says(CHAT, "那我再问问机器人")
    assert (await env.fake.await_reply(CHAT, timeout=10)).text == "您说的是：那我再问问机器人"
    await env.fake.await_no_reply(GROUP, within=0.5, since=mark)  # no longer forwarded
    # A late reply in the old thread is refused with the console's words.
    says(env.fake, "还有问题吗？", reply_to=thread.message_id)
    late = await env.fake.await_reply(GROUP, timeout=10)
    assert "已交回智能客服" in (late.plain_text or "")


async def test_close_without_replying_acts_on_the_only_owned_chat(env: Env) -> None:
    ann = await escalate(env, "我要咨询社保补贴")
    thread = await take(env, ann)
    await env.fake.await_reply(CHAT, contains="已接入", timeout=10)
    says(env.fake, "/close")
    done = await env.fake.await_reply(GROUP, contains="会话已结束", timeout=10)
    assert replies_to(thread.message_id)(done)
    assert handoff.mode_of(env.r, CONV) is Mode.CLOSED
    await env.fake.await_reply(CHAT, contains="本次人工服务已结束", timeout=10)
    says(env.fake, "/close", user=LI)  # 李四 owns nothing
    hint = await env.fake.await_reply(GROUP, timeout=10)
    assert hint.plain_text == "请回复要操作的会话消息后再发送 /close。"


async def test_cancel_and_console_take_update_the_announcement(env: Env) -> None:
    ann = await escalate(env, "我要咨询社保补贴")
    handoff.cancel(env.r, CONV)
    await until(lambda: "企业已取消排队" in (env.fake.message(GROUP, ann.message_id).plain_text
                                              or ""))
    assert env.fake.message(GROUP, ann.message_id).buttons == []
    mark = env.fake.mark()
    handoff.request_human(env.r, CONV)
    again = await env.fake.await_reply(GROUP, contains="新的人工服务请求", since=mark, timeout=10)
    handoff.claim(env.r, CONV, "wangwu")  # from the web console (no staff row: username shown)
    await until(lambda: "已由 wangwu 接入" in (env.fake.message(GROUP, again.message_id).plain_text
                                              or ""))
    # A console operator's chat is not mirrored into the group.
    mark = env.fake.mark()
    env.fake.user_says(CHAT, "控制台在处理")
    await env.fake.await_no_reply(GROUP, within=1.0, since=mark)


async def test_group_messages_never_reach_rasa(env: Env) -> None:
    fake = env.fake
    says(fake, "大家好，今天谁值班？")
    says(fake, "/start")
    says(fake, "/help")
    fake.user_sends(GROUP, "sticker", user=ZHANG, chat_type="supergroup")
    ann = await escalate(env, "我要咨询社保补贴")
    says(fake, "这个我来", reply_to=ann.message_id, user=LI)  # not taken yet: refused
    refusal = await fake.await_reply(GROUP, contains="排队", timeout=10)
    assert "请先点击" in (refusal.plain_text or "")
    thread = await take(env, ann)
    says(fake, "/start", reply_to=thread.message_id)
    says(fake, "/help", reply_to=thread.message_id)
    await asyncio.sleep(1.0)
    assert all(p["sender"] != f"tg:{GROUP}" for p in env.rasa.received), env.rasa.received
    group_texts = [m.plain_text or "" for m in fake.sent(GROUP)]
    assert not any("您说的是" in t or "只能识别文字" in t for t in group_texts), group_texts


async def test_a_long_message_is_cut_without_breaking_the_html(env: Env) -> None:
    ann = await escalate(env, "我要咨询社保补贴")
    await take(env, ann)
    env.fake.user_says(CHAT, "<a&b>" * 600)  # 3000 characters, every one needing care
    forwarded = await env.fake.await_reply(GROUP, contains="全文请在控制台查看", timeout=10)
    assert (forwarded.plain_text or "").startswith("💬 企业：<a&b><a&b>")
    env.fake.user_says(CHAT, "后面的消息照常转发")
    await env.fake.await_reply(GROUP, contains="后面的消息照常转发", timeout=10)


@pytest.mark.parametrize("env", ["501"], indirect=True)
async def test_only_listed_operators_may_take(env: Env) -> None:
    ann = await escalate(env, "我要咨询社保补贴")
    update_id = env.fake.user_presses(GROUP, take_data(CONV), message_id=ann.message_id, user=LI)
    answer = await until(lambda: press_answer(env, update_id))
    assert answer["show_alert"] is True and "不在人工客服名单" in answer["text"]
    assert handoff.mode_of(env.r, CONV) is handoff.Mode.QUEUED
    await take(env, ann, user=ZHANG)  # 张三 (501) is on the list
    assert handoff.owner_of(env.r, CONV) == "tg-op-501"


@pytest.mark.parametrize("env", ["501"], indirect=True)
async def test_a_linked_console_account_acts_under_its_own_name(env: Env) -> None:
    from hotline.db import session_scope
    from hotline.staff import create_staff, set_telegram

    with session_scope(env.db_url) as session:
        staff = create_staff(session, "lisi", "李四（话务）", "Secret-pass-2026", "operator")
        set_telegram(session, staff.id, str(LI["id"]))  # 李四 is not on the allow-list
    ann = await escalate(env, "我要咨询社保补贴")
    await take(env, ann, user=LI)
    assert handoff.owner_of(env.r, CONV) == "lisi"
    notice = await env.fake.await_reply(CHAT, contains="已接入", timeout=10)
    assert "李四（话务）" in notice.text


async def test_whoami_tells_the_telegram_id(env: Env) -> None:
    mark = env.fake.mark()
    says(env.fake, "/whoami", user=LI)
    got = await env.fake.await_reply(GROUP, contains="Telegram 用户 ID", since=mark, timeout=10)
    assert str(LI["id"]) in got.text
