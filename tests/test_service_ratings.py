"""Ratings of human service: offered after hand-back/close, one per spell, on the dashboard."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from hotline import handoff, service_ratings, transcripts
from hotline.db import session_scope
from hotline.models import NotificationOutbox, ServiceRating
from tests.console_helpers import ConsoleHarness

CONV = "tg:5151"


def _served(harness: ConsoleHarness, end: str = "handback") -> tuple[object, list[dict]]:
    with session_scope(harness.db_url) as session:
        transcripts.add(session, CONV, "telegram", "in", "enterprise", "转人工")
    handoff.request_human(harness.redis, CONV)
    op = harness.login("op1")
    op.post(f"/console/chats/{CONV}/take", data={"csrf_token": op.csrf})
    op.post(f"/console/chats/{CONV}/{end}", data={"csrf_token": op.csrf})
    with session_scope(harness.db_url) as session:
        row = session.scalars(select(NotificationOutbox).order_by(NotificationOutbox.id.desc())).first()
        return op, list(row.buttons or [])


def _rate(harness: ConsoleHarness, payload: str, conv: str = CONV) -> str:
    with session_scope(harness.db_url) as session:
        return service_ratings.record(session, harness.redis, conv, payload)


def test_hand_back_offers_a_rating_counted_once(console_app: ConsoleHarness) -> None:
    _op, buttons = _served(console_app)
    assert [b["title"] for b in buttons] == ["满意", "基本满意", "不满意"]
    assert all(len(b["payload"].encode()) <= 64 for b in buttons)
    assert "感谢您的评价（满意）" in _rate(console_app, buttons[0]["payload"])
    assert "已评价过" in _rate(console_app, buttons[2]["payload"])
    with session_scope(console_app.db_url) as session:
        rows = session.scalars(select(ServiceRating)).all()
        assert [(r.operator, r.level) for r in rows] == [("op1", "satisfied")]


def test_close_offers_a_rating_too(console_app: ConsoleHarness) -> None:
    _op, buttons = _served(console_app, "close")
    assert "基本满意" in _rate(console_app, buttons[1]["payload"])


def test_forged_or_foreign_payloads_are_refused(console_app: ConsoleHarness) -> None:
    _op, buttons = _served(console_app)
    assert "失效" in _rate(console_app, "/rate_service:s:1-0")
    assert "失效" in _rate(console_app, "/rate_service:x:" + buttons[0]["payload"].rsplit(":", 1)[1])
    assert "失效" in _rate(console_app, buttons[0]["payload"], conv="tg:999")  # another chat
    with session_scope(console_app.db_url) as session:
        assert session.scalars(select(ServiceRating)).all() == []


def test_dashboard_shows_service_satisfaction(console_app: ConsoleHarness) -> None:
    _op, buttons = _served(console_app)
    _rate(console_app, buttons[2]["payload"])  # 不满意
    boss = console_app.login("boss")
    page = boss.get("/console/dashboard").text
    assert 'id="fig-service-rate"' in page and "评价 1 次" in page and "0.0%" in page
    assert 'id="fig-escalations"><b data-value="1">' in page and "接入 1、放弃排队 0" in page
    now = datetime.now(timezone.utc)
    with session_scope(console_app.db_url) as session:
        summary = service_ratings.summary(session, now - timedelta(days=1), now + timedelta(days=1))
    assert (summary.rated, summary.satisfied, summary.satisfaction_rate) == (1, 0, 0.0)
