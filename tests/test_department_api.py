"""The department JSON API over a real SQLite database (FastAPI TestClient)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from console.api.tickets import router
from hotline import tickets
from hotline.db import session_scope
from hotline.models import Department, NotificationOutbox, TicketEvent

NOON = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)  # Friday noon, Shanghai
LATER = NOON + timedelta(hours=3)
STAFF = {"X-Staff": quote("王科长")}


@pytest.fixture
def numbers(db_url: str) -> dict[str, str]:
    """Two tax tickets (one already late by 2026-12-20), one financing ticket."""
    with session_scope(db_url) as s:
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


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    app = FastAPI()
    app.include_router(router(lambda: db_url, clock=lambda: LATER))
    with TestClient(app) as test_client:
        yield test_client


def dept_id(db_url: str, name: str) -> int:
    with session_scope(db_url) as s:
        found = s.scalar(select(Department.id).where(Department.name == name))
        assert found is not None
        return found


def test_work_list_with_filters(client: TestClient, db_url: str, numbers: dict[str, str]) -> None:
    tax = dept_id(db_url, "税务局")
    listed = client.get(f"/api/departments/{tax}/tickets").json()
    assert listed["department"] == {"id": tax, "name": "税务局"}
    # most urgent first: the old one is past its deadline
    assert [t["number"] for t in listed["tickets"]] == [numbers["tax_old"], numbers["tax"]]
    first = listed["tickets"][0]
    assert (first["light"], first["light_zh"], first["status_zh"]) == ("red", "红灯", "已分派")
    assert first["deadline"].endswith("+08:00") and first["topic_zh"] == "纳税与缴费"

    def only(**params: str) -> list[str]:
        response = client.get(f"/api/departments/{tax}/tickets", params=params)
        assert response.status_code == 200, response.text
        return [t["number"] for t in response.json()["tickets"]]

    assert only(light="green") == [numbers["tax"]]
    assert only(light="red") == [numbers["tax_old"]]
    assert only(**{"from": "2026-11-20", "to": "2026-11-20"}) == [numbers["tax"]]
    assert only(to="2026-11-19") == [numbers["tax_old"]]
    assert only(status="in_progress") == []
    assert only(topic="financing") == []
    assert only(limit="1", offset="1") == [numbers["tax"]]

    assert client.get(f"/api/departments/{tax}/tickets", params={"status": "closed"}).status_code == 422
    bad_topic = client.get(f"/api/departments/{tax}/tickets", params={"topic": "weather"})
    assert bad_topic.status_code == 422 and "未知的诉求类别" in bad_topic.json()["detail"]
    missing = client.get("/api/departments/9999/tickets")
    assert missing.status_code == 404 and "部门" in missing.json()["detail"]


def test_take_reply_and_the_trail(client: TestClient, db_url: str, numbers: dict[str, str]) -> None:
    number = numbers["tax"]
    taken = client.post(f"/api/tickets/{number}/take", headers=STAFF, json={"note": "已联系企业"})
    assert taken.status_code == 200, taken.text
    assert taken.json()["status"] == "in_progress"
    again = client.post(f"/api/tickets/{number}/take", headers=STAFF)
    assert again.status_code == 409 and again.json()["detail"] == "工单已签收，正在办理中，无需重复签收。"

    empty = client.post(f"/api/tickets/{number}/reply", headers=STAFF, json={"reply": "  "})
    assert empty.status_code == 422 and "不能为空" in empty.json()["detail"]
    done = client.post(f"/api/tickets/{number}/reply", headers=STAFF,
                       json={"reply": "已为贵司调增发票额度。"})
    assert done.status_code == 200
    body = done.json()
    assert body["status"] == "resolved" and body["reply"] == "已为贵司调增发票额度。"
    assert [(e["from"], e["to"], e["actor"]) for e in body["events"]][-2:] == [
        ("dispatched", "in_progress", "staff:王科长"),
        ("in_progress", "resolved", "staff:王科长"),
    ]
    assert body["events"][-1]["at"] == "2026-11-20T15:00:00+08:00"

    with session_scope(db_url) as s:  # the enterprise is told, in the same transaction
        kinds = list(s.scalars(select(NotificationOutbox.kind).order_by(NotificationOutbox.id)))
        assert kinds == ["ticket.dispatched", "ticket.in_progress", "ticket.resolved"]
    reopen = client.post(f"/api/tickets/{number}/status", headers=STAFF,
                         json={"to": "reopened", "note": "回访发现未落实"})
    assert reopen.status_code == 200 and reopen.json()["escalated"] is True


def test_status_changes(client: TestClient, db_url: str, numbers: dict[str, str]) -> None:
    number = numbers["financing"]
    early = client.post(f"/api/tickets/{number}/reply", headers=STAFF, json={"reply": "答复"})
    assert early.status_code == 409 and "请先签收" in early.json()["detail"]
    rate = client.post(f"/api/tickets/{number}/status", headers=STAFF, json={"to": "rated"})
    assert rate.status_code == 409 and rate.json()["detail"] == "评价只能由企业作出。"
    reopen = client.post(f"/api/tickets/{number}/status", headers=STAFF, json={"to": "reopened"})
    assert reopen.status_code == 409 and "尚未办结" in reopen.json()["detail"]
    unknown = client.post(f"/api/tickets/{number}/status", headers=STAFF, json={"to": "closed"})
    assert unknown.status_code == 422
    commerce = dept_id(db_url, "地方金融管理局")
    same = client.post(f"/api/tickets/{number}/status", headers=STAFF,
                       json={"to": "dispatched", "department_id": commerce})
    assert same.status_code == 409 and "无需重复分派" in same.json()["detail"]
    nowhere = client.post(f"/api/tickets/{number}/status", headers=STAFF,
                          json={"to": "dispatched", "department_id": 9999})
    assert nowhere.status_code == 404
    started = client.post(f"/api/tickets/{number}/status", headers=STAFF,
                          json={"to": "in_progress", "note": "正在协调银行"})
    assert started.status_code == 200 and started.json()["status"] == "in_progress"
    resolved = client.post(f"/api/tickets/{number}/status", headers=STAFF,
                           json={"to": "resolved", "note": "已协调续贷"})
    assert resolved.status_code == 200 and resolved.json()["reply"] == "已协调续贷"
    with session_scope(db_url) as s:
        notes = list(s.scalars(select(TicketEvent.note).order_by(TicketEvent.id)))
        assert "正在协调银行" in notes


def test_unknown_ticket_and_missing_staff(client: TestClient, numbers: dict[str, str]) -> None:
    for path, body in [("take", None), ("status", {"to": "in_progress"}), ("reply", {"reply": "x"})]:
        response = client.post(f"/api/tickets/T20990101-0001/{path}", headers=STAFF, json=body)
        assert response.status_code == 404, path
        assert response.json()["detail"] == "工单 T20990101-0001 不存在，请核对工单号。"
    assert client.get("/api/tickets/T20990101-0001").status_code == 404
    anonymous = client.post(f"/api/tickets/{numbers['tax']}/take")
    assert anonymous.status_code == 401 and "X-Staff" in anonymous.json()["detail"]
    assert client.get(f"/api/tickets/{numbers['tax'].lower()}").json()["status"] == "dispatched"
