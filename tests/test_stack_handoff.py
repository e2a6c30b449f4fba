"""Handoff in the real stack: 转人工, cancelling the queue, two fallbacks, a misconduct
complaint, a person answering (the bot stays silent), files, and the bot resuming."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hotline import handoff
from hotline.db import session_scope
from hotline.handoff import Mode
from hotline.models import Attachment
from tests.stack_helpers import Running

pytestmark = pytest.mark.stack


def _redis(running: Running):  # type: ignore[no-untyped-def]
    import redis

    return redis.Redis.from_url(running.stack.redis_url or f"redis://127.0.0.1:{running.stack.ports.redis}/0")


def test_ask_for_a_person_then_cancel(running: Running) -> None:
    chat = 7301
    reply = running.say(chat, "转人工")
    assert "已为您转接人工客服" in reply.text and "预计等待约" in reply.text
    assert reply.callback_data == [handoff.CANCEL_PAYLOAD]
    assert handoff.mode_of(_redis(running), f"tg:{chat}") is Mode.QUEUED
    waiting = running.say(chat, "还要等多久")
    assert "您正在排队等待人工客服" in waiting.text
    running.fake.user_presses(chat, handoff.CANCEL_PAYLOAD)
    cancelled = running.fake.wait_for_reply(chat, timeout=30)
    assert "已为您取消排队" in cancelled.text
    assert handoff.mode_of(_redis(running), f"tg:{chat}") is Mode.BOT
    assert "企业服务热线" in running.say(chat, "你好").text  # the bot answers again
    running.transcript(chat, "handoff_cancel")


def test_two_fallbacks_in_a_row_reach_a_person(running: Running) -> None:
    chat = 7302
    first = running.say(chat, "？？？")  # no words: nlu_fallback by its shape
    assert "没有完全理解" in first.text
    second = running.say(chat, "。。。")  # still nothing to understand
    assert "为您转接人工客服" in second.text
    state = handoff.state_of(_redis(running), f"tg:{chat}")
    assert state.mode is Mode.QUEUED and state.reason == "two_fallbacks"
    running.transcript(chat, "handoff_two_fallbacks")


def test_misconduct_complaint_offers_a_person(running: Running) -> None:
    chat = 7303
    first = running.say(chat, "街道办的工作人员吃拿卡要，不给好处就不给办手续")
    offer = first if first.callback_data else running.fake.wait_for_reply(chat, timeout=30)
    assert "/request_human" in offer.callback_data
    running.fake.user_presses(chat, "/request_human")
    queued = running.fake.wait_for_reply(chat, timeout=30)
    assert "为您转接人工客服" in queued.text
    assert handoff.state_of(_redis(running), f"tg:{chat}").reason == "misconduct"
    running.transcript(chat, "handoff_misconduct")


def test_with_a_person_the_bot_is_silent_and_files_are_kept(running: Running) -> None:
    chat, conv = 7304, "tg:7304"
    running.say(chat, "转人工")
    r = _redis(running)
    handoff.claim(r, conv, "op-stack")
    running.fake.user_says(chat, "你好，在吗？我的施工许可证怎么还没批")
    running.fake.assert_no_reply(chat, within=3)
    running.fake.user_sends(chat, "photo", content=b"\xff\xd8\xff fake jpeg", caption="受理回执")
    running.fake.assert_no_reply(chat, within=3)
    with session_scope(running.db_url) as s:
        files = s.scalars(select(Attachment).where(Attachment.conversation_id == conv)).all()
        assert len(files) == 1 and files[0].data == b"\xff\xd8\xff fake jpeg"
    handoff.hand_back(r, conv, "op-stack")
    assert "企业服务热线" in running.say(chat, "你好").text


def test_files_in_bot_mode_get_a_way_forward(running: Running) -> None:
    chat = 7305
    running.fake.user_sends(chat, "document", content=b"%PDF-1.4", file_name="营业执照.pdf",
                            mime_type="application/pdf")
    reply = running.fake.wait_for_reply(chat, timeout=30)
    assert "转人工" in reply.text
