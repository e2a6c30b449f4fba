"""Hot issues in the console and their announcement: the dashboard panel, one issue's page
and the supervisors' steps over HTTP, the live update and the operators' group post."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
import redis.asyncio as aioredis
from sqlalchemy import select

from bot import hot_announce
from hotline import lifecycle, live, tickets
from hotline.db import session_scope
from hotline.hot import service as hot
from hotline.models import Enterprise, HotIssue, ReplyCheck
from tests.console_helpers import ConsoleHarness

NOW = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)  # Friday noon, Shanghai
OUTAGE = [
    "木渎工业园这周停了三次电，事先没有任何通知，注塑机全部停机。",
    "吴中区木渎镇金枫路一带又停电了，供电所电话打不通。",
    "园区突然断电没有预告，木渎这边的厂子都停了，什么时候恢复供电？",
]
REFUND = [
    "出口退税申报四十天了，退税款还没到账。",
    "我们的出口退税一直显示审核中，什么时候能退？",
    "出口退税迟迟不到，企业现金流很紧张。",
]


@pytest.fixture
def app(console_app: ConsoleHarness) -> ConsoleHarness:
    console_app.ctx.extra["clock"] = lambda: NOW
    hot.forget_index()
    return console_app


def _file(app: ConsoleHarness, texts: list[str], topic: str, start: int,
          district: str = "吴中区") -> list[str]:
    numbers = []
    for i, text in enumerate(texts):
        with session_scope(app.db_url) as s:
            firm = Enterprise(uscc=f"91320500MA{start + i:08d}", name=f"企业{start + i}",
                              district=district)
            s.add(firm)
            s.flush()
            t = tickets.create_ticket(s, topic=topic, description=text,
                                      conversation_id=f"tg:{start + i}", enterprise_id=firm.id,
                                      now=NOW - timedelta(hours=10 - i))
            numbers.append(t.number)
    return numbers


def _issue(app: ConsoleHarness, number: str) -> int:
    with session_scope(app.db_url) as s:
        t = tickets.by_number(s, number)
        return service_issue(s, t.id)


def service_issue(s, ticket_id: int) -> int:  # type: ignore[no-untyped-def]
    return hot.for_tickets(s, [ticket_id])[ticket_id].issue_id


def test_dashboard_shows_hot_issues_and_reply_quality(app: ConsoleHarness) -> None:
    numbers = _file(app, OUTAGE, "utilities", 1)
    with session_scope(app.db_url) as s:  # one reply sent with warnings
        t = tickets.by_number(s, numbers[0])
        lifecycle.take(s, t, actor="staff:x", now=NOW - timedelta(hours=2))
        lifecycle.resolve(s, t, "已收悉，按规定办理。", actor="staff:x",
                          now=NOW - timedelta(hours=1))
        assert s.scalars(select(ReplyCheck)).one().warnings == ["boilerplate"]
    page = app.login("boss").get("/console/dashboard").text
    issue = _issue(app, numbers[0])
    assert 'id="hot-panel"' in page and f'data-issue="{issue}"' in page
    assert "吴中区（3）" in page and "<svg" in page and "新发现" in page
    assert 'id="reply-quality"' in page and "发展和改革委员会（能源）" in page
    assert "100.0%" in page  # the one reply went out with a warning
    panel = app.login("boss").get("/console/hot/panel")
    assert panel.status_code == 200 and f'data-issue="{issue}"' in panel.text
    assert app.login("zhujian").get("/console/hot").status_code == 403
    assert app.login("op1").get("/console/hot/panel").status_code == 403


def test_supervisor_steps_over_http(app: ConsoleHarness) -> None:
    outage = _file(app, OUTAGE, "utilities", 1)
    refund = _file(app, REFUND, "tax", 20, district="张家港市")
    a, b = _issue(app, outage[0]), _issue(app, refund[0])
    boss = app.login("boss")
    page = boss.get(f"/console/hot/{a}")
    assert page.status_code == 200 and "成员（3）" in page.text and "确认热点" in page.text
    for number in outage:
        assert f'href="/console/tickets/{number}"' in page.text
    assert boss.post(f"/console/hot/{a}/state", data={"to": "acknowledged"}).status_code == 403

    ok = boss.post(f"/console/hot/{a}/state", data={"csrf_token": boss.csrf, "to": "acknowledged"})
    assert ok.status_code == 303 and ok.headers["location"] == f"/console/hot/{a}?ok=state"
    refused = boss.post(f"/console/hot/{a}/state", data={"csrf_token": boss.csrf, "to": "new"})
    assert refused.status_code == 409 and "不能改为" in refused.text

    bad_day = boss.post(f"/console/hot/{a}/supervise",
                        data={"csrf_token": boss.csrf, "deadline": "2026-11-19"})
    assert bad_day.status_code == 409 and "督办期限须晚于今天" in bad_day.text
    done = boss.post(f"/console/hot/{a}/supervise",
                     data={"csrf_token": boss.csrf, "deadline": "2026-11-27", "note": "统一答复口径"})
    assert done.status_code == 303
    ticket_page = app.login("zhujian").get(f"/console/tickets/{outage[0]}")
    assert ticket_page.status_code == 403  # a utilities ticket is not 住建's
    shown = boss.get(f"/console/tickets/{outage[1]}").text
    assert "热点督办：请于 <b>2026-11-27</b> 前办结（统一答复口径）" in shown

    merged = boss.post(f"/console/hot/{a}/merge", data={"csrf_token": boss.csrf, "source": str(b)})
    assert merged.status_code == 303
    page = boss.get(f"/console/hot/{a}").text
    assert "成员（6）" in page and "合并热点" in page
    with session_scope(app.db_url) as s:
        assert s.get(HotIssue, b).merged_into_id == a
        doc = next(m for m in hot.issue_detail(s, a).members if m.number == refund[2])
    dropped = boss.post(f"/console/hot/{a}/drop", data={"csrf_token": boss.csrf, "doc": str(doc.doc_id)})
    assert dropped.status_code == 303
    assert "成员（5）" in boss.get(f"/console/hot/{a}").text
    closed = boss.post(f"/console/hot/{a}/state", data={"csrf_token": boss.csrf, "to": "closed"})
    assert closed.status_code == 303
    assert "当前没有未关闭的热点问题" in boss.get("/console/hot").text
    assert f"#{a}" in boss.get("/console/hot?state=closed").text
    # every step told the open dashboards
    kinds = [f[b"kind"] for _, f in app.redis.xrange(live.STREAM)]
    assert kinds.count(b"hot_issue") == 5  # acknowledged, supervised, merged, dropped, closed
    assert boss.get("/console/hot/999").status_code == 404


def test_new_issues_are_announced_live_and_in_the_operator_group(app: ConsoleHarness) -> None:
    numbers = _file(app, OUTAGE, "utilities", 1)
    issue = _issue(app, numbers[0])
    posted: list[str] = []

    async def post(text: str) -> None:
        posted.append(text)

    async def run() -> tuple[int, int]:
        r = aioredis.Redis.from_url(app.ctx.settings.redis_url)
        try:
            first = await hot_announce.announce_once(app.db_url, r, post,
                                                     public_url="https://rx.example.gov.cn")
            again = await hot_announce.announce_once(app.db_url, r, post)
            return first, again
        finally:
            await r.aclose()

    assert asyncio.run(run()) == (1, 0)
    assert len(posted) == 1
    text = posted[0]
    assert f"发现热点问题 #{issue}" in text and "企业3家" in text and "共3件工单" in text
    assert f'href="https://rx.example.gov.cn/console/hot/{issue}"' in text
    entries = app.redis.xrange(live.STREAM)
    assert [(f[b"conversation"], f[b"kind"]) for _, f in entries] == [
        (f"hot:{issue}".encode(), b"hot_issue")]
