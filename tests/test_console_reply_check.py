"""The console's 办结 form: the reply check shows what is missing before sending, staff may
send anyway, the warnings stay with the reply; a ticket of a hot issue says so."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from hotline import lifecycle, tickets
from hotline.db import session_scope
from hotline.hot import service as hot
from hotline.models import Enterprise, ReplyCheck
from tests.console_helpers import ConsoleHarness

NOW = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)  # Friday noon, Shanghai
REQUEST = "厂房竣工了，消防验收一直预约不上，设备进不了场。"
THIN = "已协调审批科，消防验收将于下周安排现场验收。"
GOOD = ("经查，贵司项目的消防验收申请因两项整改未上传佐证材料未能排期，我局已于11月18日电话告知"
        "补传，现已安排11月25日现场验收。根据《建设工程消防设计审查验收管理暂行规定》第二十八条，"
        "材料齐全的应在十五日内出具意见。如对验收结果有异议，可申请复查。联系人：周工，"
        "电话0512-62598741。")


@pytest.fixture
def app(console_app: ConsoleHarness) -> ConsoleHarness:
    console_app.ctx.extra["clock"] = lambda: NOW
    hot.forget_index()
    return console_app


def _ticket(app: ConsoleHarness, text: str = REQUEST, n: int = 1, taken: bool = True) -> str:
    with session_scope(app.db_url) as s:
        firm = Enterprise(uscc=f"91320594MA{n:08d}", name=f"苏州测试{n}有限公司",
                          district="苏州工业园区")
        s.add(firm)
        s.flush()
        t = tickets.create_ticket(s, topic="construction_permit", description=text,
                                  conversation_id=f"tg:{n}", enterprise_id=firm.id,
                                  now=NOW - timedelta(hours=n))
        if taken:
            lifecycle.take(s, t, actor="staff:周住建", now=NOW - timedelta(minutes=30))
        return t.number


def test_a_thin_reply_is_shown_its_gaps_and_may_still_be_sent(app: ConsoleHarness) -> None:
    number = _ticket(app)
    client = app.login("zhujian")
    url = f"/console/tickets/{number}/reply"
    shown = client.post(url, data={"csrf_token": client.csrf, "reply": THIN, "intent": "send"})
    assert shown.status_code == 200
    for code in ("no_basis", "no_next_step", "no_contact"):
        assert f'data-code="{code}"' in shown.text
    assert "仍然发送（已阅提示）" in shown.text and THIN in shown.text  # the draft is kept
    with session_scope(app.db_url) as s:
        assert tickets.by_number(s, number).status == "in_progress"

    sent = client.post(url, data={"csrf_token": client.csrf, "reply": THIN, "confirm": "1"})
    assert sent.status_code == 303
    page = client.get(sent.headers["location"]).text
    assert "第 1 轮答复的检查：未说明依据、未告知下一步、未留联系方式（经办人已阅提示后发送）" in page
    with session_scope(app.db_url) as s:
        t = tickets.by_number(s, number)
        row = s.scalars(select(ReplyCheck).where(ReplyCheck.ticket_id == t.id)).one()
        assert t.status == "resolved" and row.shown
        assert row.warnings == ["no_basis", "no_next_step", "no_contact"]


def test_a_complete_reply_goes_straight_out_and_check_only_sends_nothing(
        app: ConsoleHarness) -> None:
    number = _ticket(app)
    client = app.login("zhujian")
    url = f"/console/tickets/{number}/reply"
    checked = client.post(url, data={"csrf_token": client.csrf, "reply": GOOD, "intent": "check"})
    assert checked.status_code == 200 and "答复检查未发现问题" in checked.text
    assert "仍然发送" not in checked.text
    sent = client.post(url, data={"csrf_token": client.csrf, "reply": GOOD, "intent": "send"})
    assert sent.status_code == 303
    with session_scope(app.db_url) as s:
        t = tickets.by_number(s, number)
        row = s.scalars(select(ReplyCheck).where(ReplyCheck.ticket_id == t.id)).one()
        assert t.status == "resolved" and row.warnings == [] and not row.shown


def test_a_ticket_of_a_hot_issue_tells_the_department(app: ConsoleHarness) -> None:
    texts = [REQUEST, "消防验收排期排到两个月以后，新厂房设备进不了场。",
             "我们园区的新厂房消防验收申请提交五十天没动静，预约不上。"]
    numbers = [_ticket(app, text, n + 1, taken=False) for n, text in enumerate(texts)]
    client = app.login("zhujian")
    page = client.get(f"/console/tickets/{numbers[0]}").text
    assert "本工单属于热点问题" in page and "共 3 件、3 家企业" in page
    assert 'href="/console/hot/' not in page  # departments see the note, not the issue page
    listing = client.get("/console/tickets").text
    assert listing.count('title="热点问题 #') == 3


def test_the_json_api_checks_a_draft_and_shows_the_hot_issue(app: ConsoleHarness) -> None:
    texts = [REQUEST, "消防验收排期排到两个月以后，新厂房设备进不了场。",
             "我们园区的新厂房消防验收申请提交五十天没动静，预约不上。"]
    numbers = [_ticket(app, text, n + 1) for n, text in enumerate(texts)]
    client = app.login("zhujian")
    headers = {"X-CSRF-Token": client.csrf}
    draft = client.post(f"/console/api/tickets/{numbers[0]}/reply-check", headers=headers,
                        json={"reply": THIN})
    assert draft.status_code == 200
    body = draft.json()
    assert not body["ok"] and "消防验收" in body["key_terms"]
    assert [w["code"] for w in body["warnings"]] == ["no_basis", "no_next_step", "no_contact"]
    with session_scope(app.db_url) as s:
        assert s.scalars(select(ReplyCheck)).all() == []  # a draft check stores nothing
    done = client.post(f"/console/api/tickets/{numbers[0]}/reply", headers=headers,
                       json={"reply": GOOD})
    assert done.status_code == 200
    detail = done.json()
    assert detail["hot_issue"]["tickets"] == 3 and detail["hot_issue"]["enterprises"] == 3
    assert detail["reply_checks"] == [
        {"round": 0, "warnings": [], "shown": False, "at": detail["reply_checks"][0]["at"]}]
    assert client.post(f"/console/api/tickets/{numbers[0]}/reply-check",
                       json={"reply": THIN}).status_code == 403  # no CSRF token
