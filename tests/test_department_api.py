"""The department JSON API behind the console session, over a real SQLite database and Redis."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hotline import tickets
from hotline.db import session_scope
from hotline.models import NotificationOutbox, TicketEvent
from tests.console_helpers import ConsoleHarness

NOON = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)  # Friday noon, Shanghai
LATER = NOON + timedelta(hours=3)
API = "/console/api"


@pytest.fixture
def app(console_app: ConsoleHarness) -> ConsoleHarness:
    console_app.ctx.extra["clock"] = lambda: LATER
    return console_app


@pytest.fixture
def numbers(app: ConsoleHarness) -> dict[str, str]:
    """Two tax tickets (one already late by 2026-12-20), one financing ticket."""
    with session_scope(app.db_url) as s:
        made = {
            "tax": tickets.create_ticket(s, topic="tax", description="发票额度不够",
                                         conversation_id="tg:7", now=NOON),
            "tax_old": tickets.create_ticket(s, topic="tax", description="退税未到账",
                                             conversation_id=None,
                                             now=NOON - timedelta(days=30)),
            "financing": tickets.create_ticket(s, topic="financing", description="银行抽贷",
                                               conversation_id=None, now=NOON),
        }
        return {key: t.number for key, t in made.items()}


def writer(app: ConsoleHarness, username: str) -> TestClient:
    """A logged-in client whose requests carry the session's CSRF header."""
    client = app.login(username)
    client.headers["X-CSRF-Token"] = client.csrf  # type: ignore[attr-defined]
    return client


def test_work_list_with_filters(app: ConsoleHarness, numbers: dict[str, str]) -> None:
    tax = app.departments["税务局"]
    client = app.login("shuiwu")
    listed = client.get(f"{API}/departments/{tax}/tickets").json()
    assert listed["department"] == {"id": tax, "name": "税务局"}
    # most urgent first: the old one is past its deadline
    assert [t["number"] for t in listed["tickets"]] == [numbers["tax_old"], numbers["tax"]]
    first = listed["tickets"][0]
    assert (first["light"], first["light_zh"], first["status_zh"]) == ("red", "红灯", "已分派")
    assert first["deadline"].endswith("+08:00") and first["topic_zh"] == "纳税与缴费"

    def only(**params: str) -> list[str]:
        response = client.get(f"{API}/departments/{tax}/tickets", params=params)
        assert response.status_code == 200, response.text
        return [t["number"] for t in response.json()["tickets"]]

    assert only(light="green") == [numbers["tax"]]
    assert only(light="red") == [numbers["tax_old"]]
    assert only(**{"from": "2026-11-20", "to": "2026-11-20"}) == [numbers["tax"]]
    assert only(to="2026-11-19") == [numbers["tax_old"]]
    assert only(status="in_progress") == []
    assert only(topic="financing") == []
    assert only(limit="1", offset="1") == [numbers["tax"]]

    assert client.get(f"{API}/departments/{tax}/tickets", params={"status": "closed"}).status_code == 422
    bad_topic = client.get(f"{API}/departments/{tax}/tickets", params={"topic": "weather"})
    assert bad_topic.status_code == 422 and "未知的诉求类别" in bad_topic.json()["detail"]
    missing = app.login("op1").get(f"{API}/departments/9999/tickets")
    assert missing.status_code == 404 and "部门" in missing.json()["detail"]


def test_department_is_kept_to_its_own(app: ConsoleHarness, numbers: dict[str, str]) -> None:
    finance = app.departments["地方金融管理局"]
    client = writer(app, "shuiwu")
    other_list = client.get(f"{API}/departments/{finance}/tickets")
    assert other_list.status_code == 403 and other_list.json()["detail"] == "只能查看本部门的工单。"
    other = client.get(f"{API}/tickets/{numbers['financing']}")
    assert other.status_code == 403 and "不属于您的部门" in other.json()["detail"]
    for path, body in [("take", None), ("status", {"to": "in_progress"}), ("reply", {"reply": "x"})]:
        response = client.post(f"{API}/tickets/{numbers['financing']}/{path}", json=body)
        assert response.status_code == 403, path
    with session_scope(app.db_url) as s:
        assert tickets.by_number(s, numbers["financing"]).status == "dispatched"
    # operators, supervisors and admins see every department
    for username in ("op1", "boss", "admin"):
        seen = app.login(username).get(f"{API}/departments/{finance}/tickets").json()
        assert [t["number"] for t in seen["tickets"]] == [numbers["financing"]]


def test_take_reply_and_the_trail(app: ConsoleHarness, numbers: dict[str, str]) -> None:
    client = writer(app, "shuiwu")
    number = numbers["tax"]
    taken = client.post(f"{API}/tickets/{number}/take", json={"note": "已联系企业"})
    assert taken.status_code == 200, taken.text
    assert taken.json()["status"] == "in_progress"
    assert app.delivered == ["tg:7"]  # the enterprise is told at once
    again = client.post(f"{API}/tickets/{number}/take")
    assert again.status_code == 409 and again.json()["detail"] == "工单已签收，正在办理中，无需重复签收。"

    empty = client.post(f"{API}/tickets/{number}/reply", json={"reply": "  "})
    assert empty.status_code == 422 and "不能为空" in empty.json()["detail"]
    done = client.post(f"{API}/tickets/{number}/reply", json={"reply": "已为贵司调增发票额度。"})
    assert done.status_code == 200
    body = done.json()
    assert body["status"] == "resolved" and body["reply"] == "已为贵司调增发票额度。"
    assert [(e["from"], e["to"], e["actor"]) for e in body["events"]][-2:] == [
        ("dispatched", "in_progress", "staff:吴税务"),
        ("in_progress", "resolved", "staff:吴税务"),
    ]
    assert body["events"][-1]["at"] == "2026-11-20T15:00:00+08:00"
    assert app.delivered == ["tg:7", "tg:7"]

    with session_scope(app.db_url) as s:  # the enterprise is told, in the same transaction
        kinds = list(s.scalars(select(NotificationOutbox.kind).order_by(NotificationOutbox.id)))
        assert kinds == ["ticket.dispatched", "ticket.in_progress", "ticket.resolved"]
    reopen = client.post(f"{API}/tickets/{number}/status",
                         json={"to": "reopened", "note": "回访发现未落实"})
    assert reopen.status_code == 200 and reopen.json()["escalated"] is True


def test_status_changes(app: ConsoleHarness, numbers: dict[str, str]) -> None:
    client = writer(app, "op1")
    number = numbers["financing"]
    early = client.post(f"{API}/tickets/{number}/reply", json={"reply": "答复"})
    assert early.status_code == 409 and "请先签收" in early.json()["detail"]
    rate = client.post(f"{API}/tickets/{number}/status", json={"to": "rated"})
    assert rate.status_code == 409 and rate.json()["detail"] == "评价只能由企业作出。"
    reopen = client.post(f"{API}/tickets/{number}/status", json={"to": "reopened"})
    assert reopen.status_code == 409 and "尚未办结" in reopen.json()["detail"]
    unknown = client.post(f"{API}/tickets/{number}/status", json={"to": "closed"})
    assert unknown.status_code == 422
    finance = app.departments["地方金融管理局"]
    same = client.post(f"{API}/tickets/{number}/status",
                       json={"to": "dispatched", "department_id": finance})
    assert same.status_code == 409 and "无需重复分派" in same.json()["detail"]
    nowhere = client.post(f"{API}/tickets/{number}/status",
                          json={"to": "dispatched", "department_id": 9999})
    assert nowhere.status_code == 404
    started = client.post(f"{API}/tickets/{number}/status",
                          json={"to": "in_progress", "note": "正在协调银行"})
    assert started.status_code == 200 and started.json()["status"] == "in_progress"
    resolved = client.post(f"{API}/tickets/{number}/status",
                           json={"to": "resolved", "note": "已协调续贷"})
    assert resolved.status_code == 200 and resolved.json()["reply"] == "已协调续贷"
    with session_scope(app.db_url) as s:
        events = list(s.scalars(select(TicketEvent).order_by(TicketEvent.id)))
        assert ("staff:李客服", "正在协调银行") in [(e.actor, e.note) for e in events]
    assert app.delivered == []  # no chat behind this ticket


def test_redispatch_is_not_for_departments(app: ConsoleHarness, numbers: dict[str, str]) -> None:
    finance = app.departments["地方金融管理局"]
    department = writer(app, "shuiwu")
    refused = department.post(f"{API}/tickets/{numbers['tax']}/status",
                              json={"to": "dispatched", "department_id": finance})
    assert refused.status_code == 403 and "改派" in refused.json()["detail"]
    moved = writer(app, "boss").post(f"{API}/tickets/{numbers['tax']}/status",
                                     json={"to": "dispatched", "department_id": finance})
    assert moved.status_code == 200 and moved.json()["department"] == "地方金融管理局"
    assert moved.json()["events"][-1]["actor"] == "staff:陈督办"
    assert department.get(f"{API}/tickets/{numbers['tax']}").status_code == 403


def test_session_and_csrf_are_required(app: ConsoleHarness, numbers: dict[str, str]) -> None:
    number = numbers["tax"]
    anonymous = app.client()
    for response in (anonymous.get(f"{API}/tickets/{number}"),
                     anonymous.post(f"{API}/tickets/{number}/take")):
        assert response.status_code == 401 and response.json()["detail"] == "登录已过期，请重新登录。"
    client = app.login("shuiwu")
    assert client.post(f"{API}/tickets/{number}/take").status_code == 403  # no header
    forged = client.post(f"{API}/tickets/{number}/take", headers={"X-CSRF-Token": "forged"})
    assert forged.status_code == 403 and "安全校验" in forged.json()["detail"]
    cross = client.post(f"{API}/tickets/{number}/take",
                        headers={"X-CSRF-Token": client.csrf, "Origin": "https://evil.example"})  # type: ignore[attr-defined]
    assert cross.status_code == 403
    # the old placeholder header means nothing any more
    assert client.post(f"{API}/tickets/{number}/take",
                       headers={"X-Staff": "%E7%8E%8B%E7%A7%91%E9%95%BF"}).status_code == 403
    with session_scope(app.db_url) as s:
        assert tickets.by_number(s, number).status == "dispatched"


def test_unknown_ticket(app: ConsoleHarness, numbers: dict[str, str]) -> None:
    client = writer(app, "op1")
    for path, body in [("take", None), ("status", {"to": "in_progress"}), ("reply", {"reply": "x"})]:
        response = client.post(f"{API}/tickets/T20990101-0001/{path}", json=body)
        assert response.status_code == 404, path
        assert response.json()["detail"] == "工单 T20990101-0001 不存在，请核对工单号。"
    assert client.get(f"{API}/tickets/T20990101-0001").status_code == 404
    assert client.get(f"{API}/tickets/{numbers['tax'].lower()}").json()["status"] == "dispatched"
