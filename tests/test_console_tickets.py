"""Console ticket pages over HTTP against real SQLite/Redis: list, detail, handling steps."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from hotline import sla, tickets
from hotline.db import session_scope
from hotline.local import seed
from hotline.models import (
    OPEN_STATUSES,
    Enterprise,
    NotificationOutbox,
    Ticket,
    TicketEvent,
    TicketStatus,
)
from tests.console_helpers import ConsoleHarness

NOW = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)  # Friday noon, Shanghai
ROW_RE = re.compile(r'<a href="/console/tickets/(T\d{8}-\d{4})">')
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def app(console_app: ConsoleHarness) -> ConsoleHarness:
    console_app.ctx.extra["clock"] = lambda: NOW
    return console_app


@pytest.fixture
def demo(app: ConsoleHarness) -> list[Ticket]:
    """150 realistic tickets of the last 60 days with their history, and one yellow light."""
    with session_scope(app.db_url) as s:
        seed.seed_demo(s, count=150, now=NOW, days=60)
        # received last Friday with 5 working days: due tonight, half a day left
        tickets.create_ticket(s, topic="tax", description="出口退税进度", conversation_id=None,
                              now=NOW - timedelta(days=7))
        return list(s.scalars(select(Ticket).options(
            selectinload(Ticket.enterprise), selectinload(Ticket.department))))


@pytest.fixture
def mine(app: ConsoleHarness) -> dict[str, str]:
    """A housing ticket with a Telegram chat and markup in its text, and a tax one."""
    with session_scope(app.db_url) as s:
        company = Enterprise(uscc="91320594MA1XXXXX0X", name="苏州<b>恒瑞</b>建筑工程有限公司",
                             contact_name="王建国", contact_phone="13912345678",
                             district="苏州工业园区")
        s.add(company)
        s.flush()
        housing = tickets.create_ticket(s, topic="construction_permit",
                                        description="施工许可证办了20天。\n" + XSS,
                                        conversation_id="tg:42", enterprise_id=company.id,
                                        now=NOW - timedelta(hours=2))
        tax = tickets.create_ticket(s, topic="tax", description="发票额度不够",
                                    conversation_id="tg:43", now=NOW - timedelta(hours=1))
        return {"housing": housing.number, "tax": tax.number}


def _urgency(t: Ticket) -> tuple[int, object, int]:
    """Open tickets first, then the nearest deadline (the department's work order)."""
    return (0 if TicketStatus(t.status) in OPEN_STATUSES else 1, t.deadline, t.id)


def listed(client: TestClient, **params: str) -> tuple[list[str], dict[str, int], str]:
    """Every ticket number over all pages, the light counts and the first page's HTML."""
    numbers: list[str] = []
    first = ""
    page = 1
    while True:
        response = client.get("/console/tickets", params={**params, "page": str(page)})
        assert response.status_code == 200, response.text
        found = ROW_RE.findall(response.text)
        assert len(found) <= 50
        first = first or response.text
        numbers += found
        if "rel=\"next\"" not in response.text:
            break
        assert len(found) == 50
        page += 1
    counts = {key: int(re.search(rf'id="count-{key}"><b>(\d+)</b>', first).group(1))  # type: ignore[union-attr]
              for key in ("all", "red", "yellow", "green")}
    return numbers, counts, first


def expected(demo: list[Ticket], **where: object) -> list[Ticket]:
    """The tickets matching ``where``, worked out in Python from the ORM objects."""
    out = []
    for t in demo:
        local_day = sla.as_local(t.created_at).date()
        if "department" in where and t.department_id != where["department"]:
            continue
        if "status" in where and t.status != where["status"]:
            continue
        if "topic" in where and t.topic != where["topic"]:
            continue
        if "light" in where and tickets.light_of(t, NOW).value != where["light"]:
            continue
        if "from_" in where and local_day < where["from_"]:  # type: ignore[operator]
            continue
        if "to" in where and local_day > where["to"]:  # type: ignore[operator]
            continue
        if "company" in where and (t.enterprise is None or where["company"] not in t.enterprise.name):  # type: ignore[operator]
            continue
        out.append(t)
    return out


def light_counts(items: list[Ticket]) -> dict[str, int]:
    counts = {"red": 0, "yellow": 0, "green": 0}
    for t in items:
        counts[tickets.light_of(t, NOW).value] += 1
    return {"all": len(items), **counts}


# --- the list -----------------------------------------------------------------------------


def test_list_filters_and_counts_match_the_database(app: ConsoleHarness, demo: list[Ticket]) -> None:
    client = app.login("boss")
    numbers, counts, page = listed(client)
    assert sorted(numbers) == sorted(t.number for t in demo) and len(set(numbers)) == 151
    assert counts == light_counts(demo)
    assert counts["red"] > 0 and counts["green"] > 0 and counts["yellow"] == 1
    assert "第 1 / 4 页" in page and len(ROW_RE.findall(page)) == 50
    # newest first by default
    first = max(demo, key=lambda t: (t.created_at, t.id))
    assert ROW_RE.findall(page)[0] == first.number

    tax = app.departments["税务局"]
    cases: list[tuple[dict[str, str], dict[str, object]]] = [
        ({"status": "in_progress"}, {"status": "in_progress"}),
        ({"status": "rated"}, {"status": "rated"}),
        ({"topic": "financing"}, {"topic": "financing"}),
        ({"department": str(tax)}, {"department": tax}),
        ({"light": "red"}, {"light": "red"}),
        ({"light": "yellow"}, {"light": "yellow"}),
        ({"light": "green", "topic": "tax"}, {"light": "green", "topic": "tax"}),
        ({"from": "2026-11-01", "to": "2026-11-15"},
         {"from_": date(2026, 11, 1), "to": date(2026, 11, 15)}),
    ]
    for params, where in cases:
        got, got_counts, _ = listed(client, **params)
        want = expected(demo, **where)
        assert want, params
        assert sorted(got) == sorted(t.number for t in want), params
        # counts ignore the light filter (they say how the other filters split by light)
        without_light = {k: v for k, v in where.items() if k != "light"}
        assert got_counts == light_counts(expected(demo, **without_light)), params

    company = next(t.enterprise for t in demo if t.enterprise is not None)
    assert company is not None
    got, _, _ = listed(client, q=company.name[2:8])
    assert sorted(got) == sorted(t.number for t in expected(demo, company=company.name[2:8]))
    one = demo[7].number
    assert listed(client, q=one.lower())[0] == [one]  # number search ignores case
    assert listed(client, q="%")[0] == []  # LIKE wildcards are literal

    # most urgent first on request, paging keeps the filters
    urgent = client.get("/console/tickets", params={"sort": "deadline", "department": str(tax)})
    assert ROW_RE.findall(urgent.text)[0] == min(expected(demo, department=tax),
                                                 key=_urgency).number


def test_bad_filters_are_explained_not_fatal(app: ConsoleHarness, demo: list[Ticket]) -> None:
    client = app.login("op1")
    response = client.get("/console/tickets", params={
        "status": "closed", "topic": "weather", "light": "blue", "from": "20.11.2026",
        "department": "x", "page": "-3"})
    assert response.status_code == 200
    for words in ("未知的工单状态", "未知的诉求类别", "未知的红绿灯状态", "起始日期格式", "未知的承办部门"):
        assert words in response.text
    assert len(ROW_RE.findall(response.text)) == 50  # the bad filters were dropped
    empty = client.get("/console/tickets", params={"from": "2026-11-20", "to": "2026-11-01"})
    assert "起始日期晚于截止日期" in empty.text and "没有符合条件的工单" in empty.text


def test_department_sees_only_its_own(app: ConsoleHarness, demo: list[Ticket]) -> None:
    housing, tax = app.departments["住房和城乡建设局"], app.departments["税务局"]
    client = app.login("zhujian")
    own = expected(demo, department=housing)
    assert own, "the demo should give housing some tickets"
    numbers, counts, page = listed(client)
    assert sorted(numbers) == sorted(t.number for t in own)
    assert counts == light_counts(own)
    assert 'name="department"' not in page and "住房和城乡建设局 · 工单" in page
    # asking for another department does not widen the list
    widened, _, _ = listed(client, department=str(tax))
    assert sorted(widened) == sorted(t.number for t in own)
    searched, _, _ = listed(client, q=next(t for t in demo if t.department_id == tax).number)
    assert searched == []
    # the department's default order: most urgent deadline first
    assert ROW_RE.findall(page)[0] == min(own, key=_urgency).number


def test_list_needs_login(app: ConsoleHarness) -> None:
    response = app.client().get("/console/tickets")
    assert response.status_code == 303 and "/console/login" in response.headers["location"]


# --- one ticket ---------------------------------------------------------------------------


def test_detail_shows_everything_escaped(app: ConsoleHarness, mine: dict[str, str]) -> None:
    client = app.login("zhujian")
    page = client.get(f"/console/tickets/{mine['housing']}")
    assert page.status_code == 200
    text = page.text
    for shown in ("办理建筑许可", "住房和城乡建设局", "已分派", "91320594MA1XXXXX0X", "王建国",
                  "苏州工业园区", "Telegram", "5 个工作日", "系统自动分派", "分派至住房和城乡建设局",
                  'class="light green"'):
        assert shown in text, shown
    assert "<script>" not in text and "<img src=x" not in text and "<b>恒瑞</b>" not in text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in text
    assert "苏州&lt;b&gt;恒瑞&lt;/b&gt;" in text

    # a reply with markup, resolved, then shown escaped in the reply and the timeline
    assert client.post(f"/console/tickets/{mine['housing']}/take",
                       data={"csrf_token": client.csrf}).status_code == 303
    done = client.post(f"/console/tickets/{mine['housing']}/reply",
                       data={"csrf_token": client.csrf, "reply": "已办理。" + XSS, "confirm": "1"})
    assert done.status_code == 303
    page = client.get(done.headers["location"])
    assert "答复已提交" in page.text
    assert "<script>" not in page.text and "<img src=x" not in page.text
    assert page.text.count("&lt;script&gt;") >= 3  # description, reply, timeline note

    listing = app.login("boss").get("/console/tickets")
    assert "<b>恒瑞</b>" not in listing.text and "苏州&lt;b&gt;恒瑞&lt;/b&gt;" in listing.text


def test_other_departments_ticket_is_forbidden(app: ConsoleHarness, mine: dict[str, str]) -> None:
    client = app.login("shuiwu")
    assert client.get(f"/console/tickets/{mine['tax']}").status_code == 200
    page = client.get(f"/console/tickets/{mine['housing']}")
    assert page.status_code == 403 and "不属于您的部门" in page.text
    for action, data in (("take", {}), ("reply", {"reply": "x"}), ("reopen", {}),
                         ("status", {"to": "in_progress"})):
        response = client.post(f"/console/tickets/{mine['housing']}/{action}",
                               data={"csrf_token": client.csrf, **data})
        assert response.status_code == 403, action
    with session_scope(app.db_url) as s:
        assert tickets.by_number(s, mine["housing"]).status == "dispatched"
    assert app.delivered == []


def test_unknown_number_is_404(app: ConsoleHarness) -> None:
    client = app.login("op1")
    page = client.get("/console/tickets/T20990101-0001")
    assert page.status_code == 404 and "工单 T20990101-0001 不存在" in page.text
    post = client.post("/console/tickets/T20990101-0001/take", data={"csrf_token": client.csrf})
    assert post.status_code == 404
    odd = client.get("/console/tickets/<script>x")
    assert odd.status_code == 404 and "<script>x" not in odd.text


def test_forged_csrf_is_refused(app: ConsoleHarness, mine: dict[str, str]) -> None:
    client = app.login("zhujian")
    url = f"/console/tickets/{mine['housing']}/take"
    assert client.post(url, data={"csrf_token": "forged"}).status_code == 403
    assert client.post(url, data={}).status_code == 403
    cross = client.post(url, data={"csrf_token": client.csrf},
                        headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    with session_scope(app.db_url) as s:
        ticket = tickets.by_number(s, mine["housing"])
        assert ticket.status == "dispatched" and len(ticket.events) == 2
    assert app.delivered == []


# --- handling -----------------------------------------------------------------------------


def test_status_change_records_the_staff_and_notifies(app: ConsoleHarness,
                                                      mine: dict[str, str]) -> None:
    client = app.login("zhujian")
    number = mine["housing"]
    response = client.post(f"/console/tickets/{number}/status", data={
        "csrf_token": client.csrf, "to": "in_progress", "note": "已电话联系企业"})
    assert response.status_code == 303
    assert response.headers["location"] == f"/console/tickets/{number}?ok=status"
    with session_scope(app.db_url) as s:
        ticket = tickets.by_number(s, number)
        last = ticket.events[-1]
        assert (ticket.status, last.actor, last.from_status, last.to_status, last.note) == (
            "in_progress", "staff:周住建", "dispatched", "in_progress", "已电话联系企业")
        assert last.at == NOW
        rows = list(s.scalars(select(NotificationOutbox).where(
            NotificationOutbox.ticket_id == ticket.id).order_by(NotificationOutbox.id)))
        assert [r.kind for r in rows] == ["ticket.dispatched", "ticket.in_progress"]
        assert rows[-1].conversation_id == "tg:42" and "已电话联系企业" in rows[-1].text
    assert app.delivered == ["tg:42"]
    page = client.get(response.headers["location"])
    assert "工单状态已更新" in page.text and "周住建" in page.text
    assert "已分派 → 办理中" in page.text


def test_take_reply_reopen(app: ConsoleHarness, mine: dict[str, str]) -> None:
    client = app.login("zhujian")
    number = mine["housing"]
    taken = client.post(f"/console/tickets/{number}/take",
                        data={"csrf_token": client.csrf, "note": "签收，三日内答复"})
    assert taken.status_code == 303 and taken.headers["location"].endswith("?ok=take")
    assert "已签收" in client.get(taken.headers["location"]).text
    thin = client.post(f"/console/tickets/{number}/reply",
                       data={"csrf_token": client.csrf, "reply": "已督促审批科加快办理。"})
    assert thin.status_code == 200 and "答复还缺少以下内容" in thin.text  # the reply check
    done = client.post(f"/console/tickets/{number}/reply",
                       data={"csrf_token": client.csrf, "reply": "已督促审批科加快办理。",
                             "confirm": "1"})
    assert done.status_code == 303
    page = client.get(done.headers["location"]).text
    assert "已督促审批科加快办理。" in page and "企业尚未评价" in page and "转为重办" in page
    again = client.post(f"/console/tickets/{number}/reopen",
                        data={"csrf_token": client.csrf, "reason": "企业来电反映未落实"})
    assert again.status_code == 303
    with session_scope(app.db_url) as s:
        ticket = tickets.by_number(s, number)
        assert (ticket.status, ticket.escalated, ticket.reopen_count, ticket.reply) == (
            "reopened", True, 1, None)
        assert [e.to_status for e in ticket.events] == [
            "received", "dispatched", "in_progress", "resolved", "reopened"]
        assert {e.actor for e in ticket.events[2:]} == {"staff:周住建"}
        assert ticket.events[-1].note == "第1次重办：企业来电反映未落实"
        kinds = list(s.scalars(select(NotificationOutbox.kind).where(
            NotificationOutbox.ticket_id == ticket.id).order_by(NotificationOutbox.id)))
        assert kinds[-3:] == ["ticket.in_progress", "ticket.resolved", "ticket.reopened"]
    assert app.delivered == ["tg:42"] * 3
    page = client.get(f"/console/tickets/{number}").text
    assert "督办" in page and "签收（开始办理）" in page


def test_invalid_steps_show_the_chinese_reason(app: ConsoleHarness, mine: dict[str, str]) -> None:
    client = app.login("zhujian")
    number = mine["housing"]
    early = client.post(f"/console/tickets/{number}/reply",
                        data={"csrf_token": client.csrf, "reply": "草稿答复<script>"})
    assert early.status_code == 409
    assert "工单尚未签收，请先签收再填写答复办结。" in early.text
    assert 'class="flash error"' in early.text and "<script>" not in early.text
    reopen = client.post(f"/console/tickets/{number}/reopen", data={"csrf_token": client.csrf})
    assert reopen.status_code == 409 and "尚未办结" in reopen.text
    rated = client.post(f"/console/tickets/{number}/status",
                        data={"csrf_token": client.csrf, "to": "rated"})
    assert rated.status_code == 409 and "评价只能由企业作出。" in rated.text
    unknown = client.post(f"/console/tickets/{number}/status",
                          data={"csrf_token": client.csrf, "to": "closed"})
    assert unknown.status_code == 422 and "未知的工单状态" in unknown.text

    assert client.post(f"/console/tickets/{number}/take",
                       data={"csrf_token": client.csrf}).status_code == 303
    twice = client.post(f"/console/tickets/{number}/take", data={"csrf_token": client.csrf})
    assert twice.status_code == 409 and "工单已签收，正在办理中，无需重复签收。" in twice.text
    empty = client.post(f"/console/tickets/{number}/reply",
                        data={"csrf_token": client.csrf, "reply": "   "})
    assert empty.status_code == 422 and "答复内容不能为空" in empty.text
    long = "很" * 3001
    too_long = client.post(f"/console/tickets/{number}/reply",
                           data={"csrf_token": client.csrf, "reply": long})
    assert too_long.status_code == 422 and "答复内容过长" in too_long.text
    assert long in too_long.text  # the draft is kept in the form
    with session_scope(app.db_url) as s:
        ticket = tickets.by_number(s, number)
        assert ticket.status == "in_progress" and ticket.reply is None
        assert len(ticket.events) == 3


def test_redispatch_is_for_dispatchers(app: ConsoleHarness, mine: dict[str, str]) -> None:
    number, tax = mine["housing"], app.departments["税务局"]
    department = app.login("zhujian")
    page = department.get(f"/console/tickets/{number}")
    assert "改派至" not in page.text
    for path, data in (("redispatch", {"department_id": str(tax)}),
                       ("status", {"to": "dispatched", "department_id": str(tax)})):
        refused = department.post(f"/console/tickets/{number}/{path}",
                                  data={"csrf_token": department.csrf, **data})
        assert refused.status_code == 403 and "改派" in refused.text

    operator = app.login("op1")
    assert "改派至" in operator.get(f"/console/tickets/{number}").text
    nowhere = operator.post(f"/console/tickets/{number}/redispatch",
                            data={"csrf_token": operator.csrf, "department_id": "9999"})
    assert nowhere.status_code == 422 and "部门不存在" in nowhere.text
    unchosen = operator.post(f"/console/tickets/{number}/redispatch",
                             data={"csrf_token": operator.csrf, "department_id": ""})
    assert unchosen.status_code == 422 and "改派须选择" in unchosen.text
    moved = operator.post(f"/console/tickets/{number}/redispatch", data={
        "csrf_token": operator.csrf, "department_id": str(tax), "note": "属于税费问题"})
    assert moved.status_code == 303 and moved.headers["location"].endswith("?ok=redispatch")
    with session_scope(app.db_url) as s:
        ticket = tickets.by_number(s, number)
        last = ticket.events[-1]
        assert ticket.department_id == tax
        assert (last.actor, last.note) == ("staff:李客服", "改派至税务局：属于税费问题")
    assert app.delivered == ["tg:42"]
    assert department.get(f"/console/tickets/{number}").status_code == 403
    assert app.login("shuiwu").get(f"/console/tickets/{number}").status_code == 200


def test_events_are_listed_in_order_with_who_and_when(app: ConsoleHarness,
                                                      demo: list[Ticket]) -> None:
    rated = next(t for t in demo if t.status == "rated")
    with session_scope(app.db_url) as s:
        events = list(s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == rated.id)
                                .order_by(TicketEvent.id)))
    page = app.login("boss").get(f"/console/tickets/{rated.number}").text
    timeline = page.split('id="timeline"', 1)[1]
    positions = [timeline.index(sla.as_local(e.at).strftime("%Y-%m-%d %H:%M:%S")) for e in events]
    assert positions == sorted(positions) and len(events) >= 4
    assert "已办结 → 已评价" in timeline and "企业评价" in page
    staff = next(e.actor for e in events if e.actor.startswith("staff:"))
    assert staff.removeprefix("staff:") in timeline


def test_company_search_ignores_ascii_case_on_every_engine(app: ConsoleHarness) -> None:
    """LIKE ignores ASCII case on SQLite but not on PostgreSQL: "abc" must find ABC科技."""
    with session_scope(app.db_url) as s:
        company = Enterprise(uscc="91320594MA1YYYYY0Y", name="苏州ABC科技有限公司")
        s.add(company)
        s.flush()
        number = tickets.create_ticket(s, topic="tax", description="留抵退税迟迟不到账",
                                       conversation_id="tg:44", enterprise_id=company.id).number
    client = app.login("boss")
    assert listed(client, q="abc科技")[0] == [number]
