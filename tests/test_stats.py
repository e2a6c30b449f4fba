"""Statistics against numbers computed by hand on a small crafted data set.

The cohort is November 2026 (local days), the report is made on 2026-12-20 noon:

| t | topic            | created (local)  | history                                        |
|---|------------------|------------------|------------------------------------------------|
| A | tax              | Nov 2 12:00      | resolved after 24 h, on time; rated 满意          |
| B | tax              | Nov 3 12:00      | resolved after 216 h, late (due Nov 10); 基本满意 |
| C | financing        | Nov 4 12:00      | resolved after 24 h; 不满意 → reopened → resolved on time |
| D | financing        | Nov 5 12:00      | dispatched only; due Nov 12 → red now           |
| F | contract_dispute | Nov 30 12:00     | in progress; due Dec 21 → not red               |
| I | tax              | Nov 1 00:10      | dispatched only (Oct 31 in UTC!); due Nov 6 → red |
| G | tax              | Oct 31 12:00     | outside the period                             |
| H | tax              | Dec 1 00:30      | outside the period (Nov 30 in UTC!)            |

received 6; resolved 3 (A, B, C) → 50 %; on time 2 of 3 (B late); handling hours
(24 + 216 + 24) / 3 = 88; rated 3 (A 满意, B 基本满意, C latest 不满意) → 2/3 satisfied;
red = 2 open overdue (D, I) + 1 resolved late (B) = 3.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy.orm import Session

from hotline import lifecycle, stats, tickets
from hotline.cli import main
from hotline.models import Ticket
from hotline.settings import get_settings

UTC = timezone.utc
NOW = datetime(2026, 12, 20, 4, 0, tzinfo=UTC)
H = timedelta(hours=1)
STAFF = "staff:统计测试"


def at(month: int, day: int, hour: int = 4, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def make(session: Session, topic: str, created: datetime) -> Ticket:
    return tickets.create_ticket(session, topic=topic, description="测试诉求",
                                 conversation_id=None, now=created)


def resolve(session: Session, ticket: Ticket, when: datetime) -> None:
    lifecycle.take(session, ticket, actor=STAFF, now=ticket.created_at + H)
    lifecycle.resolve(session, ticket, "已答复", actor=STAFF, now=when)


@pytest.fixture
def crafted(session: Session) -> Session:
    a = make(session, "tax", at(11, 2))
    resolve(session, a, at(11, 3))
    lifecycle.rate(session, a, "s", now=at(11, 3, 6))

    b = make(session, "tax", at(11, 3))
    resolve(session, b, at(11, 12))
    lifecycle.rate(session, b, "b", now=at(11, 12, 6))

    c = make(session, "financing", at(11, 4))
    resolve(session, c, at(11, 5))
    lifecycle.rate(session, c, "d", now=at(11, 6))  # new deadline Nov 13
    lifecycle.take(session, c, actor=STAFF, now=at(11, 6, 5))
    lifecycle.resolve(session, c, "重新答复", actor=STAFF, now=at(11, 9))

    make(session, "financing", at(11, 5))  # D
    f = make(session, "contract_dispute", at(11, 30))
    lifecycle.take(session, f, actor=STAFF, now=at(11, 30, 5))
    make(session, "tax", datetime(2026, 10, 31, 16, 10, tzinfo=UTC))  # I: Nov 1 00:10 local
    g = make(session, "tax", at(10, 31))
    resolve(session, g, at(11, 2))
    make(session, "tax", datetime(2026, 11, 30, 16, 30, tzinfo=UTC))  # H: Dec 1 00:30 local
    return session


def november() -> tuple[datetime, datetime]:
    return stats.period(date(2026, 11, 1), date(2026, 11, 30))


def test_totals_match_the_hand_computed_figures(crafted: Session) -> None:
    start, end = november()
    total = stats.compute(crafted, start, end, now=NOW).total
    assert (total.received, total.resolved, total.resolved_on_time, total.resolved_late) == (6, 3, 2, 1)
    assert total.resolution_rate == pytest.approx(0.5)
    assert total.on_time_rate == pytest.approx(2 / 3)
    assert total.avg_handling_hours == pytest.approx(88.0)
    assert (total.rated, total.satisfied) == (3, 2)
    assert total.satisfaction_rate == pytest.approx(2 / 3)
    assert (total.open_overdue, total.red) == (2, 3)
    assert total.sentence() == (
        "收集企业诉求6件、办结3件，办结率50.0%，按期办结率66.7%，平均办理时长88.0小时，"
        "企业满意度达66.7%（评价3件），红灯3件（在办超期2件、超期办结1件）"
    )


def test_red_lights_depend_on_when_the_report_is_made(crafted: Session) -> None:
    start, end = november()
    early = stats.compute(crafted, start, end, now=at(11, 6)).total  # nothing open is late yet
    assert (early.open_overdue, early.resolved_late) == (0, 1)


def test_by_topic_and_by_department(crafted: Session) -> None:
    start, end = november()
    by_topic = {g.key: g for g in stats.compute(crafted, start, end, now=NOW, by="topic").groups}
    assert list(by_topic) == ["tax", "financing", "contract_dispute"]  # most tickets first
    tax, fin, contract = by_topic["tax"], by_topic["financing"], by_topic["contract_dispute"]
    assert tax.label == "纳税与缴费"
    assert (tax.received, tax.resolved, tax.resolved_on_time, tax.red) == (3, 2, 1, 2)
    assert tax.avg_handling_hours == pytest.approx(120.0) and tax.satisfaction_rate == 1.0
    assert (fin.received, fin.resolved, fin.rated, fin.satisfied, fin.red) == (2, 1, 1, 0, 1)
    assert fin.satisfaction_rate == 0.0
    assert contract.resolution_rate == 0.0
    assert contract.on_time_rate is None and contract.satisfaction_rate is None
    assert "按期办结率—" in contract.sentence()

    by_dept = {g.label: g for g in stats.compute(crafted, start, end, now=NOW, by="department").groups}
    assert by_dept["税务局"].received == 3 and by_dept["地方金融管理局"].received == 2
    assert by_dept["司法局"].received == 1


def test_filters_and_an_empty_period(crafted: Session) -> None:
    start, end = november()
    assert stats.compute(crafted, start, end, now=NOW, topic="tax").total.received == 3
    dept = tickets.department_named(crafted, "地方金融管理局")
    assert stats.compute(crafted, start, end, now=NOW, department_id=dept.id).total.received == 2
    empty = stats.compute(crafted, *stats.period(date(2025, 1, 1), date(2025, 1, 31)), now=NOW)
    assert empty.total.received == 0 and empty.total.resolution_rate is None
    assert "办结率—" in empty.text()
    with pytest.raises(ValueError):
        stats.compute(crafted, start, end, by="district")
    with pytest.raises(ValueError):
        stats.period(date(2026, 2, 1), date(2026, 1, 1))


def test_cli_prints_the_summary_and_json(
    crafted: Session, db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    crafted.commit()
    monkeypatch.setenv("HOTLINE_DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        args = ["tickets", "stats", "--from", "2026-11-01", "--to", "2026-11-30",
                "--as-of", "2026-12-20T12:00:00+08:00"]
        assert main(args) == 0
        text = capsys.readouterr().out
        assert text.startswith("2026年11月01日至2026年11月30日，收集企业诉求6件、办结3件，办结率50.0%")
        assert main([*args, "--by", "topic", "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert data["total"]["received"] == 6 and data["total"]["red"] == 3
        assert data["total"]["satisfaction_rate"] == pytest.approx(0.6667)
        assert [g["key"] for g in data["groups"]] == ["tax", "financing", "contract_dispute"]
        assert main(["tickets", "stats", "--from", "2026-12-01", "--to", "2026-11-01"]) == 2
        assert "早于" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()
