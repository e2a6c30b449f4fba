"""End to end: real Redis, real Rasa with the trained model, real action server, the
gateway; the enterprise's phone is the fake Bot API server (polling mode)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

from hotline import tickets
from hotline.db import session_scope
from hotline.stack import Ports, Stack
from tests.fake_telegram import FakeTelegram

pytestmark = pytest.mark.stack
OWNER, STRANGER = 7001, 7002


class Running:
    def __init__(self, stack: Stack, fake: FakeTelegram) -> None:
        self.stack, self.fake = stack, fake
        self.db_url = f"sqlite:///{stack.var_dir / 'hotline.db'}"
        self.rasa_url = f"http://127.0.0.1:{stack.ports.rasa}"

    def say(self, chat: int, text: str, timeout: float = 30):
        self.fake.user_says(chat, text)
        return self.fake.wait_for_reply(chat, timeout=timeout)

    def parse(self, text: str) -> dict:
        return httpx.post(f"{self.rasa_url}/model/parse", json={"text": text}, timeout=30).json()


@pytest.fixture(scope="session")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    fake = FakeTelegram().start()
    var_dir: Path = tmp_path_factory.mktemp("stack-var")
    stack = Stack(
        var_dir=var_dir,
        ports=Ports.free(),
        extra_env={
            "TELEGRAM_TOKEN": fake.token,
            "HOTLINE_TELEGRAM_BASE_URL": fake.base_url,
            "HOTLINE_TELEGRAM_MODE": "polling",
            "HOTLINE_DATABASE_URL": "",
            "REDIS_URL": "",
        },
    )
    os.environ.pop("REDIS_URL", None)
    stack.start(log=lambda line: print(line, flush=True))
    try:
        yield Running(stack, fake)
    finally:
        stack.stop()
        fake.stop()


def test_greeting_gets_the_welcome(running: Running) -> None:
    reply = running.say(OWNER, "你好")
    assert "企业服务热线" in reply.text


def test_ticket_status_by_number_comes_from_the_database(running: Running) -> None:
    with session_scope(running.db_url) as s:
        ticket = tickets.create_ticket(
            s, topic="construction_permit", description="施工许可三个月没批下来",
            conversation_id=f"tg:{OWNER}", now=datetime.now(timezone.utc),
        )
        number = ticket.number
    reply = running.say(OWNER, f"帮我查一下工单{number}现在办到哪一步了")
    assert number in reply.text
    assert "已分派" in reply.text
    assert "住房和城乡建设局" in reply.text
    assert "绿灯" in reply.text


def test_another_enterprise_cannot_see_the_ticket(running: Running) -> None:
    with session_scope(running.db_url) as s:
        number = tickets.create_ticket(
            s, topic="tax", description="留抵退税迟迟不到账", conversation_id=f"tg:{OWNER}",
        ).number
    reply = running.say(STRANGER, f"查询工单 {number} 的进度")
    assert "不属于" in reply.text
    assert "税务局" not in reply.text


def test_unknown_ticket_number(running: Running) -> None:
    reply = running.say(OWNER, "查一下T20990101-0999的进度")
    assert "没有找到工单 T20990101-0999" in reply.text


def test_non_text_update_is_answered_politely(running: Running) -> None:
    running.fake.user_sends(OWNER, "sticker")
    reply = running.fake.wait_for_reply(OWNER, timeout=30)
    assert "只能识别文字" in reply.text
    assert "企业服务热线" in running.say(OWNER, "在吗").text


def test_traditional_message_gets_the_same_understanding(running: Running) -> None:
    simplified = running.parse("我们公司资金周转不过来，想申请银行贷款")
    traditional = running.parse("我們公司資金周轉不過來，想申請銀行貸款")
    assert simplified["intent"]["name"] == traditional["intent"]["name"] == "financing"
    reply = running.say(OWNER, "請問你是機器人嗎")
    assert "機器人" in reply.text  # answered in the writer's script
