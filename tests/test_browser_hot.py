"""Hot issues, the reply check and the periodic report in a real headless Chromium.

The console alone is served (uvicorn in a thread, real SQLite and Redis: no Rasa stack
needed). The data are the hand-labelled dev tickets placed over the last two months —
realistic hot issues — with some of them answered with labelled replies (good, incomplete,
boilerplate) and rated. Screenshots go to test-artifacts/screenshots/:

- ``15_dashboard_hot_panel.png`` (the panel) and ``16_dashboard_with_hot_issues.png``;
- ``17_hot_issue_detail.png``; ``18_reply_check_warnings.png``;
- ``19_report_month.png`` (the printable report page);
- ``20_dashboard_new_hot_issue_live.png``: a hot issue raised while the dashboard is open
  appears without a reload (the gateway's announcement on the live stream).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest
import redis.asyncio as aioredis
import uvicorn

from bot import hot_announce
from console.dashboard import today_of
from hotline import lifecycle, reply_check_eval, tickets
from hotline.db import session_scope
from hotline.hot import evaluate
from hotline.hot import service as hot
from hotline.local import seed
from hotline.local.stack import free_port
from hotline.models import Enterprise
from tests.browser_helpers import login_at, shot
from tests.console_helpers import PASSWORD, ConsoleHarness, make_harness

NEW_PROBLEM = [
    "昆山花桥这边的物流园区今天一早开始断网，光缆被挖断了，订单系统全部瘫痪。",
    "花桥物流园断网一整天了，运营商说光缆被施工挖断，什么时候能修好？",
    "我们在花桥物流园，网络中断到现在，仓库扫码出库全停了。",
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[tuple[ConsoleHarness, str]]:
    from hotline.cli.db import upgrade

    db_url = f"sqlite:///{tmp_path_factory.mktemp('hotdb') / 'hotline.db'}"
    upgrade(db_url)
    hot.forget_index()
    harness = make_harness(db_url, redis_url)
    _fill(harness)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(harness.app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "console did not start"
        time.sleep(0.05)
    yield harness, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    harness.redis.close()


def _fill(harness: ConsoleHarness) -> None:
    """The dev tickets, ending today; replies of the labelled set on some; a few ratings."""
    now = datetime.now(timezone.utc)
    labelled = [t for t in evaluate.load("dev") if t.source == "ticket"]
    shift = now - max(t.at for t in labelled) - timedelta(hours=2)
    firms: dict[str, int] = {}
    numbers: dict[str, list[str]] = {}
    for t in labelled:
        with session_scope(harness.db_url) as s:
            if t.reporter not in firms:
                k = len(firms)
                name = (f"苏州{seed.BRANDS[k % len(seed.BRANDS)]}"
                        f"{seed.INDUSTRIES[(k // len(seed.BRANDS)) % len(seed.INDUSTRIES)]}有限公司")
                firm = Enterprise(uscc=f"91320500MB{k:08d}", name=name, district=t.district)
                s.add(firm)
                s.flush()
                firms[t.reporter] = firm.id
            made = tickets.create_ticket(s, topic=t.topic, description=t.text,
                                         conversation_id=None, enterprise_id=firms[t.reporter],
                                         now=t.at + shift, notify=False)
            numbers.setdefault(t.group, []).append(made.number)
    replies = reply_check_eval.load("dev")
    answered = [n for group in sorted(numbers) for n in numbers[group][:2]]
    for i, number in enumerate(answered[:40]):
        reply = replies[i % len(replies)]
        level = "dissatisfied" if reply.expect else "satisfied"
        if reply.expect and i % 3 == 0:
            level = "basically_satisfied"
        with session_scope(harness.db_url) as s:
            ticket = tickets.by_number(s, number)
            at = max(ticket.created_at + timedelta(hours=3), now - timedelta(hours=1))
            at = min(at, now)
            lifecycle.take(s, ticket, actor="staff:经办人", now=at)
            lifecycle.resolve(s, ticket, reply.text, actor="staff:经办人", now=at,
                              warnings_shown=bool(reply.expect))
            lifecycle.rate(s, ticket, level, actor="enterprise", now=at)
    with session_scope(harness.db_url) as s:
        issues = hot.active_issues(s, now)
        assert len(issues) >= 8, [i.title for i in issues]
        hot.set_state(s, issues[1].id, "acknowledged", actor="staff:陈督办", now=now)
        hot.supervise(s, issues[0].id, (now + timedelta(days=5)).date(), actor="staff:陈督办",
                      note="统一答复口径，三日内上门核查", now=now)


def test_dashboard_hot_panel_issue_page_and_report(served, browser) -> None:  # type: ignore[no-untyped-def]
    harness, base = served
    page = login_at(browser, base, "boss", password=PASSWORD)
    # the data span the last two months: the default period (this month, local time) holds
    # almost none of them in a month's first days, so ask for the span itself
    today = today_of(datetime.now(timezone.utc))
    span = urlencode({"from": (today - timedelta(days=62)).isoformat(), "to": today.isoformat()})
    page.goto(f"{base}/console/dashboard?{span}")
    panel = page.locator("#hot-panel")
    rows = panel.locator("tr[data-issue]")
    assert rows.count() >= 8
    text = panel.inner_text()
    assert "处置中" in text and "已确认" in text and "新发现" in text
    assert page.locator("#reply-quality tbody tr").count() >= 5
    panel.screenshot(path=str(shot(page, "16_dashboard_with_hot_issues").parent
                              / "15_dashboard_hot_panel.png"))

    rows.first.locator("a").first.click()
    page.wait_for_load_state()
    assert "热点问题 #" in page.locator("h1").inner_text()
    assert page.locator("#hot-members tbody tr").count() >= 5
    assert "督办期限" in page.locator("main").inner_text()
    shot(page, "17_hot_issue_detail")

    # the month in which the latest hot issue was raised: the data end today, but on a month's
    # first days the issues were all raised the month before
    with session_scope(harness.db_url) as s:
        raised = max(i.raised_at for i in hot.list_issues(s))
    page.goto(f"{base}/console/reports/view?kind=month&day={today_of(raised).isoformat()}")
    assert "企业诉求办理情况月报" in page.locator("h1").inner_text()
    assert page.locator("#report-hot tbody tr").count() >= 1
    shot(page, "19_report_month")
    page.context.close()


def test_department_sees_the_reply_check_before_sending(served, browser) -> None:  # type: ignore[no-untyped-def]
    harness, base = served
    with session_scope(harness.db_url) as s:
        firm = Enterprise(uscc="91320594MA99999999", name="苏州恒瑞达建设有限公司",
                          district="苏州工业园区")
        s.add(firm)
        s.flush()
        ticket = tickets.create_ticket(
            s, topic="construction_permit", enterprise_id=firm.id, conversation_id=None,
            description="我们园区的新厂房消防验收申请提交五十天没动静，预约不上，设备进不了场。",
            notify=False)
        lifecycle.take(s, ticket, actor="staff:周住建")
        number = ticket.number
    page = login_at(browser, base, "zhujian", password=PASSWORD)
    page.goto(f"{base}/console/tickets/{number}")
    assert "本工单属于热点问题" in page.locator("#hot-issue").inner_text()
    page.fill("textarea[name=reply]", "已协调审批科，消防验收将于下周安排。")
    page.click("button[name=intent][value=send]")
    page.wait_for_load_state()
    review = page.locator("#reply-review")
    assert "未说明依据" in review.inner_text() and "未留联系方式" in review.inner_text()
    assert page.locator("#send-anyway").is_visible()
    shot(page, "18_reply_check_warnings")
    page.context.close()


def test_a_new_hot_issue_appears_on_the_open_dashboard(served, browser) -> None:  # type: ignore[no-untyped-def]
    harness, base = served
    page = login_at(browser, base, "boss", password=PASSWORD)
    page.goto(f"{base}/console/dashboard")
    before = page.locator("#hot-panel tr[data-issue]").count()
    assert page.locator("#hot-alert").is_hidden()
    page.wait_for_timeout(1500)  # the event stream connects

    async def announce() -> int:
        r = aioredis.Redis.from_url(harness.ctx.settings.redis_url)
        try:
            await hot_announce.announce_once(harness.db_url, r)  # what was raised before
            for i, text in enumerate(NEW_PROBLEM):
                with session_scope(harness.db_url) as s:
                    firm = Enterprise(uscc=f"91320583MA{i:08d}", name=f"昆山花桥物流{i}有限公司",
                                      district="昆山市")
                    s.add(firm)
                    s.flush()
                    tickets.create_ticket(s, topic="utilities", description=text,
                                          conversation_id=None, enterprise_id=firm.id,
                                          notify=False)
            return await hot_announce.announce_once(harness.db_url, r)
        finally:
            await r.aclose()

    # Playwright's sync API keeps an event loop in this thread: the gateway's step runs in another
    with ThreadPoolExecutor(max_workers=1) as pool:
        assert pool.submit(asyncio.run, announce()).result(timeout=60) == 1
    page.locator("#hot-alert").wait_for(state="visible", timeout=15_000)
    rows = page.locator("#hot-panel tr[data-issue]")
    assert rows.count() == min(before + 1, 10)  # the dashboard shows the ten latest
    assert "昆山市（3）" in rows.first.inner_text()  # the newest on top
    assert "查看全部" in page.locator("#hot-panel").inner_text()
    shot(page, "20_dashboard_new_hot_issue_live")
    page.context.close()
