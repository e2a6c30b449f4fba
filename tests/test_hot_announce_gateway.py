"""New hot issues reach the operators' Telegram group through the real gateway.

The gateway (PTB Application against the fake Bot API, Redis and the database real, Rasa
the stand-in) runs its announcement loop; three enterprises file the same problem as the
action server would (:func:`hotline.tickets.create_ticket`), and the group gets one post
with the issue and a console link, and the live stream one ``hot_issue`` entry.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis

from bot.app import create_app
from hotline import live, tickets
from hotline.db import session_scope
from hotline.hot import service as hot
from hotline.hot.settings import get_hot_settings
from hotline.models import Enterprise
from hotline.settings import Settings
from tests.fake_telegram import FakeTelegram
from tests.rasa_standin import RasaStandIn
from tests.telegram_helpers import serve_asgi

GROUP = -1001234567999
OUTAGE = [
    "木渎工业园这周停了三次电，事先没有任何通知，注塑机全部停机。",
    "吴中区木渎镇金枫路一带又停电了，供电所电话打不通。",
    "园区突然断电没有预告，木渎这边的厂子都停了，什么时候恢复供电？",
]


@pytest.fixture
async def gateway(fake_telegram: FakeTelegram, redis_url: str, db_url: str,
                  monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[redis.Redis]:
    monkeypatch.setenv("HOTLINE_HOT_ANNOUNCE_EVERY_S", "0.3")
    get_hot_settings.cache_clear()
    hot.forget_index()
    url = redis_url.rsplit("/", 1)[0] + "/8"
    client = redis.Redis.from_url(url)
    client.flushdb()
    fake_telegram.register_chat(GROUP, chat_type="supergroup", title="企业服务热线·值班群")
    rasa = RasaStandIn()
    async with serve_asgi(rasa.app()) as rasa_url:
        settings = Settings(
            redis_url=url, rasa_url=rasa_url, database_url=db_url, rasa_timeout_s=5,
            telegram_token=fake_telegram.token, telegram_base_url=fake_telegram.base_url,
            telegram_mode="polling", operator_chat_id=GROUP,
            public_url="https://rx.example.gov.cn",
        )
        async with serve_asgi(create_app(settings)):
            yield client
    client.close()
    get_hot_settings.cache_clear()


async def test_a_new_hot_issue_is_posted_in_the_operator_group(
        gateway: redis.Redis, fake_telegram: FakeTelegram, db_url: str) -> None:
    mark = fake_telegram.mark()
    for i, text in enumerate(OUTAGE):
        with session_scope(db_url) as s:
            firm = Enterprise(uscc=f"91320506MA{i:08d}", name=f"苏州木渎{i}号精密有限公司",
                              district="吴中区")
            s.add(firm)
            s.flush()
            tickets.create_ticket(s, topic="utilities", description=text,
                                  conversation_id=f"tg:{700 + i}", enterprise_id=firm.id)
    post = await fake_telegram.await_reply(GROUP, contains="发现热点问题", since=mark, timeout=15)
    text = post.plain_text or ""
    assert "企业3家" in text and "共3件工单" in text and "吴中区3件" in text
    assert "发展和改革委员会（能源）" in text
    with session_scope(db_url) as s:
        issue = hot.active_issues(s)[0]
    assert f"https://rx.example.gov.cn/console/hot/{issue.id}" in (post.text or "")
    await asyncio.sleep(1.0)  # later passes announce nothing more
    posts = [m for m in fake_telegram.sent(GROUP) if "发现热点问题" in (m.text or "")]
    assert len(posts) == 1
    entries = [f for _, f in gateway.xrange(live.STREAM) if f.get(b"kind") == b"hot_issue"]
    assert entries == [{b"conversation": f"hot:{issue.id}".encode(), b"kind": b"hot_issue"}]
