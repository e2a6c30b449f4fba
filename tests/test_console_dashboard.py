"""The supervisor dashboard over HTTP: its figures are hotline.stats', its exports too.

Two data sets: the seeded demo (``seed_demo``, 300 tickets over 120 days) compared figure
by figure with :func:`hotline.stats.compute`, and a small hand-made one whose numbers are
worked out below (the same shape as tests/test_stats.py). The report is made on
2026-12-20 12:00 local (a Sunday); the period is November 2026:

| t | topic            | created (local) | history                                         |
|---|------------------|-----------------|-------------------------------------------------|
| A | tax              | Nov 2 12:00     | resolved after 24 h, on time; 满意               |
| B | tax              | Nov 3 12:00     | resolved after 216 h, late (due Nov 10); 基本满意 |
| C | financing        | Nov 4 12:00     | resolved after 24 h; 不满意 → reopened → resolved on time |
| D | financing        | Nov 5 12:00     | dispatched only, due Nov 12 → red               |
| F | contract_dispute | Nov 30 12:00    | in progress, due Dec 21 → yellow now            |
| I | tax              | Nov 1 00:10     | dispatched only (Oct 31 in UTC), due Nov 6 → red |
| G | tax              | Oct 31 12:00    | outside the period, resolved                    |
| H | tax              | Dec 1 00:30     | outside the period (Nov 30 in UTC), open → red  |

received 6, resolved 3 (50.0 %), on time 2 of 3 (66.7 %), handling (24+216+24)/3 = 88.0 h,
satisfaction 2 of 3 rated (66.7 %), red 3 = 2 open overdue (D, I) + 1 late (B).
Current lights of all open tickets (D, I, H red; F yellow): 3 red, 1 yellow, 0 green.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote

import openpyxl
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from console import dashboard, dashboard_figures
from hotline import lifecycle, stats, tickets, trend
from hotline.db import session_scope
from hotline.local import seed
from hotline.models import OPEN_STATUSES, Department, Ticket
from hotline.periods import Period, PeriodError
from tests.console_helpers import ConsoleHarness

UTC = timezone.utc
H = timedelta(hours=1)
STAFF = "staff:看板测试"
CRAFTED_NOW = datetime(2026, 12, 20, 4, 0, tzinfo=UTC)  # Sunday 12:00 local
SEED_NOW = datetime(2026, 5, 14, 6, 0, tzinfo=UTC)  # Thursday 14:00 local
EVIL = '=HYPERLINK("http://x")<script>alert(1)</script>局'
COLUMN_KEYS = ("received", "resolved", "resolution_rate", "resolved_on_time", "on_time_rate",
               "avg_handling_hours", "rated", "satisfied", "satisfaction_rate", "red",
               "open_overdue", "resolved_late")


# --- reading the page -----------------------------------------------------------------------


class Scrape(HTMLParser):
    """The dashboard's figures, tables, lights and messages, by the ids the template sets."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.figures: dict[str, tuple[str, str]] = {}  # id → (text, data-value)
        self.tables: dict[str, dict[str, dict[str, tuple[str, str]]]] = {}
        self.row_order: dict[str, list[str]] = {}
        self.texts: dict[str, str] = {}  # element id → its text
        self._capture: list[Any] = []
        self._figure: str | None = None
        self._table: str | None = None
        self._section = ""
        self._row: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "div" and a.get("id", "").startswith("fig-"):
            self._figure = a["id"]
        elif tag == "b" and self._figure:
            self._start(("figure", self._figure, a.get("data-value", "")), tag)
        elif tag == "table" and a.get("id"):
            self._table = a["id"]
            self.tables[self._table] = {}
            self.row_order[self._table] = []
        elif tag in ("tbody", "tfoot"):
            self._section = tag
        elif tag == "tr" and self._table and "data-key" in a:
            self._row = "合计" if self._section == "tfoot" else a["data-key"]
            self.tables[self._table][self._row] = {}
            if self._section != "tfoot":
                self.row_order[self._table].append(self._row)
        elif tag == "td" and self._row is not None:
            col = next((c[2:] for c in a.get("class", "").split() if c.startswith("c-")), None)
            if col:
                self._start(("cell", self._table, self._row, col, a.get("data-value", "")), tag)
        elif a.get("id") in ("period", "report-line", "period-error") or a.get(
                "id", "").startswith("light-"):
            self._start(("text", a["id"]), tag)

    def _start(self, what: tuple[Any, ...], tag: str) -> None:
        self._capture.append([what, tag, []])

    def handle_data(self, data: str) -> None:
        for item in self._capture:
            item[2].append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._capture and self._capture[-1][1] == tag:
            what, _, parts = self._capture.pop()
            text = "".join(parts).strip()
            if what[0] == "figure":
                self.figures[what[1]] = (text, what[2])
            elif what[0] == "cell":
                self.tables[what[1]][what[2]][what[3]] = (text, what[4])
            else:
                self.texts[what[1]] = " ".join(text.split())
        if tag == "div":
            self._figure = None
        elif tag == "table":
            self._table, self._row = None, None
        elif tag == "tr":
            self._row = None


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def expected_cells(s: stats.Summary) -> dict[str, str]:
    """How the page and the CSV must show a Summary (written out here, not imported)."""
    return {
        "received": str(s.received), "resolved": str(s.resolved),
        "resolution_rate": pct(s.resolution_rate), "resolved_on_time": str(s.resolved_on_time),
        "on_time_rate": pct(s.on_time_rate),
        "avg_handling_hours": "—" if s.avg_handling_hours is None
        else f"{s.avg_handling_hours:.1f}",
        "rated": str(s.rated), "satisfied": str(s.satisfied),
        "satisfaction_rate": pct(s.satisfaction_rate), "red": str(s.red),
        "open_overdue": str(s.open_overdue), "resolved_late": str(s.resolved_late),
    }


def reports(db_url: str, first: date, last: date, now: datetime) -> tuple[stats.Report, ...]:
    start, end = stats.period(first, last)
    with session_scope(db_url) as session:
        return tuple(stats.compute(session, start, end, now=now, by=by)
                     for by in (None, "topic", "department"))


def assert_page_matches_stats(html: str, db_url: str, first: date, last: date,
                              now: datetime) -> Scrape:
    page = Scrape(html)
    overall, by_topic, by_dept = reports(db_url, first, last, now)
    t = overall.total
    assert page.texts["period"] == f"{first.isoformat()} 至 {last.isoformat()}"
    assert page.figures["fig-received"][0] == str(t.received)
    assert page.figures["fig-resolved"][0] == str(t.resolved)
    assert page.figures["fig-resolution-rate"][0] == pct(t.resolution_rate)
    assert page.figures["fig-on-time-rate"][0] == pct(t.on_time_rate)
    assert page.figures["fig-satisfaction-rate"][0] == pct(t.satisfaction_rate)
    assert page.figures["fig-red"][0] == str(t.red)
    hours = t.avg_handling_hours
    assert page.figures["fig-avg-hours"][0] == ("—" if hours is None else f"{hours:.1f}小时")
    for fig, value in (("fig-resolution-rate", t.resolution_rate),
                       ("fig-satisfaction-rate", t.satisfaction_rate),
                       ("fig-avg-hours", hours)):
        raw = page.figures[fig][1]
        assert (raw == "") if value is None else float(raw) == pytest.approx(value, abs=1e-2)
    assert page.texts["report-line"] == overall.text()  # the stats module's own sentence
    for table, report in (("by-topic", by_topic), ("by-department", by_dept)):
        rows = page.tables[table]
        assert page.row_order[table] == [g.key for g in report.groups]
        for group in [*report.groups, report.total]:
            key = group.key if group is not report.total else "合计"
            shown = {col: text for col, (text, _) in rows[key].items()}
            assert shown == expected_cells(group), (table, group.label)
            assert int(rows[key]["received"][1]) == group.received
    return page


# --- data ---------------------------------------------------------------------------------


def at(month: int, day: int, hour: int = 4, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def make(session: Session, topic: str, created: datetime) -> Ticket:
    return tickets.create_ticket(session, topic=topic, description="看板测试诉求",
                                 conversation_id=None, now=created)


def resolve(session: Session, ticket: Ticket, when: datetime) -> None:
    lifecycle.take(session, ticket, actor=STAFF, now=ticket.created_at + H)
    lifecycle.resolve(session, ticket, "已答复", actor=STAFF, now=when)


@pytest.fixture
def crafted(console_app: ConsoleHarness) -> ConsoleHarness:
    with session_scope(console_app.db_url) as session:
        a = make(session, "tax", at(11, 2))
        resolve(session, a, at(11, 3))
        lifecycle.rate(session, a, "s", now=at(11, 3, 6))
        b = make(session, "tax", at(11, 3))
        resolve(session, b, at(11, 12))
        lifecycle.rate(session, b, "b", now=at(11, 12, 6))
        c = make(session, "financing", at(11, 4))
        resolve(session, c, at(11, 5))
        lifecycle.rate(session, c, "d", now=at(11, 6))
        lifecycle.take(session, c, actor=STAFF, now=at(11, 6, 5))
        lifecycle.resolve(session, c, "重新答复", actor=STAFF, now=at(11, 9))
        make(session, "financing", at(11, 5))  # D
        f = make(session, "contract_dispute", at(11, 30))
        lifecycle.take(session, f, actor=STAFF, now=at(11, 30, 5))
        make(session, "tax", datetime(2026, 10, 31, 16, 10, tzinfo=UTC))  # I
        g = make(session, "tax", at(10, 31))
        resolve(session, g, at(11, 2))
        make(session, "tax", datetime(2026, 11, 30, 16, 30, tzinfo=UTC))  # H
    console_app.ctx.extra["clock"] = lambda: CRAFTED_NOW
    return console_app


@pytest.fixture
def seeded(console_app: ConsoleHarness) -> ConsoleHarness:
    with session_scope(console_app.db_url) as session:
        seed.seed_demo(session, count=300, seed=7, now=SEED_NOW)
    console_app.ctx.extra["clock"] = lambda: SEED_NOW
    return console_app


NOVEMBER = "/console/dashboard?from=2026-11-01&to=2026-11-30"


# --- the page -----------------------------------------------------------------------------


def test_hand_made_figures(crafted: ConsoleHarness) -> None:
    boss = crafted.login("boss")
    response = boss.get(NOVEMBER)
    assert response.status_code == 200
    page = assert_page_matches_stats(response.text, crafted.db_url, date(2026, 11, 1),
                                     date(2026, 11, 30), CRAFTED_NOW)
    # and the numbers worked out by hand in the module docstring
    figures = {k: v[0] for k, v in page.figures.items()}
    assert figures == {
        "fig-received": "6", "fig-resolved": "3", "fig-resolution-rate": "50.0%",
        "fig-on-time-rate": "66.7%", "fig-satisfaction-rate": "66.7%", "fig-red": "3",
        "fig-avg-hours": "88.0小时", "fig-service-rate": "—",  # no human service rated
        "fig-escalations": "0", "fig-wait": "—",  # nor any chat handed to a person
    }
    assert page.texts["report-line"] == (
        "2026年11月01日至2026年11月30日，收集企业诉求6件、办结3件，办结率50.0%，按期办结率66.7%，"
        "平均办理时长88.0小时，企业满意度达66.7%（评价3件），红灯3件（在办超期2件、超期办结1件）。")
    topics = page.tables["by-topic"]
    assert page.row_order["by-topic"] == ["tax", "financing", "contract_dispute"]
    assert topics["tax"]["received"][0] == "3" and topics["tax"]["red"][0] == "2"
    assert topics["contract_dispute"]["on_time_rate"][0] == "—"
    assert topics["financing"]["satisfaction_rate"][0] == "0.0%"
    assert "纳税与缴费" in response.text and "税务局" in response.text
    assert page.texts["light-red"] == "红灯 3 件"
    assert page.texts["light-yellow"] == "黄灯 1 件"
    assert page.texts["light-green"] == "绿灯 0 件"


def test_lights_are_those_of_every_open_ticket_now(crafted: ConsoleHarness) -> None:
    with session_scope(crafted.db_url) as session:
        lights = stats.current_lights(session, CRAFTED_NOW)
        open_tickets = session.scalars(select(Ticket).where(
            Ticket.status.in_([s.value for s in OPEN_STATUSES]))).all()
        expected: dict[str, int] = {"red": 0, "yellow": 0, "green": 0}
        for ticket in open_tickets:
            expected[tickets.light_of(ticket, CRAFTED_NOW).value] += 1
    assert {k.value: v for k, v in lights.items()} == expected == {"red": 3, "yellow": 1,
                                                                    "green": 0}


def test_trend_adds_up_to_the_figures(crafted: ConsoleHarness) -> None:
    period = Period(date(2026, 11, 1), date(2026, 11, 30))
    with session_scope(crafted.db_url) as session:
        buckets = trend.buckets(session, period)
    assert len(buckets) == 30 and buckets[0].label == "11-01"
    by_day = {b.first.day: (b.received, b.resolved) for b in buckets if b.received}
    assert by_day == {1: (1, 0), 2: (1, 1), 3: (1, 1), 4: (1, 1), 5: (1, 0), 30: (1, 0)}
    boss = crafted.login("boss")
    html = boss.get(NOVEMBER).text
    assert "<th scope=\"row\">2026-11-30</th><td class=\"num\">1</td><td class=\"num\">0</td>" in html


def test_seeded_figures_equal_hotline_stats(seeded: ConsoleHarness) -> None:
    boss = seeded.login("boss")
    today = date(2026, 5, 14)
    cases = [
        ("", date(2026, 5, 1), today),  # default: this month up to today
        ("?from=2026-04-15&to=2026-05-14", date(2026, 4, 15), today),
        ("?from=2026-01-01&to=2026-05-14", date(2026, 1, 1), today),  # weekly trend
        ("?from=2024-12-01&to=2026-05-14", date(2024, 12, 1), today),  # monthly trend
        ("?from=2026-03-01&to=2026-03-31", date(2026, 3, 1), date(2026, 3, 31)),
    ]
    for query, first, last in cases:
        response = boss.get("/console/dashboard" + query)
        assert response.status_code == 200, query
        page = assert_page_matches_stats(response.text, seeded.db_url, first, last, SEED_NOW)
        assert len(page.row_order["by-topic"]) > 3
    with session_scope(seeded.db_url) as session:
        everything = dashboard_figures.build(session, Period(date(2026, 1, 1), today), SEED_NOW)
        assert everything.unit == "week"
        assert sum(b.received for b in everything.buckets) == everything.total.received == 300
        assert sum(b.resolved for b in everything.buckets) == everything.total.resolved
        assert everything.buckets[0].first == date(2026, 1, 1)  # clipped, not the Monday before
        assert all(b.first.weekday() == 0 for b in everything.buckets[1:])
        assert sum(everything.lights.values()) == session.query(Ticket).filter(
            Ticket.status.in_([s.value for s in OPEN_STATUSES])).count()


def test_page_is_csp_clean_and_has_the_picker_and_charts(crafted: ConsoleHarness) -> None:
    html = crafted.login("admin").get(NOVEMBER).text
    assert " style=" not in html
    assert re.findall(r"<script[^>]*>", html) == [
        '<script src="/console/static/console.js" defer>']
    assert '<link rel="stylesheet" href="/console/static/dashboard.css">' in html
    # trend and topics twice (laptop, phone), lights once; hot issues' sparklines apart
    assert html.count("<svg") - html.count('class="spark"') == 5
    assert 'name="from" value="2026-11-01"' in html and 'name="to" value="2026-11-30"' in html
    for name in ("本月", "上月", "近7天", "近30天", "本年"):
        assert f">{name}</a>" in html
    assert 'href="/console/dashboard?from=2026-11-01&amp;to=2026-11-30" class="current"' in html
    assert 'href="/console/dashboard/export.csv?from=2026-11-01&amp;to=2026-11-30"' in html
    assert 'href="/console/tickets?from=2026-11-01&amp;to=2026-11-30&amp;topic=tax"' in html
    css = crafted.client().get("/console/static/dashboard.css")
    assert css.status_code == 200 and "narrow-only" in css.text


def test_default_period_is_this_month_in_shanghai(console_app: ConsoleHarness) -> None:
    with session_scope(console_app.db_url) as session:
        make(session, "tax", datetime(2026, 3, 31, 16, 30, tzinfo=UTC))  # Apr 1 00:30 local
        make(session, "tax", datetime(2026, 3, 31, 15, 30, tzinfo=UTC))  # Mar 31 23:30 local
    console_app.ctx.extra["clock"] = lambda: datetime(2026, 3, 31, 17, 30, tzinfo=UTC)
    html = console_app.login("boss").get("/console/dashboard").text
    page = Scrape(html)
    assert page.texts["period"] == "2026-04-01 至 2026-04-01"
    assert page.figures["fig-received"][0] == "1"
    assert 'href="/console/dashboard?from=2026-03-01&amp;to=2026-03-31"' in html  # 上月
    assert 'href="/console/dashboard?from=2026-01-01&amp;to=2026-04-01"' in html  # 本年


def test_an_empty_period_shows_dashes_not_errors(crafted: ConsoleHarness) -> None:
    boss = crafted.login("boss")
    response = boss.get("/console/dashboard?from=2030-01-01&to=2030-01-31")
    assert response.status_code == 200
    page = Scrape(response.text)
    assert page.figures["fig-received"][0] == "0"
    assert page.figures["fig-resolution-rate"][0] == "—"
    assert page.figures["fig-avg-hours"][0] == "—"
    assert "本期没有受理诉求" in response.text
    csv_text = boss.get("/console/dashboard/export.csv?from=2030-01-01&to=2030-01-31")
    assert csv_text.status_code == 200 and "全部,0,0,—" in csv_text.content.decode("utf-8-sig")
    xlsx = boss.get("/console/dashboard/export.xlsx?from=2030-01-01&to=2030-01-31")
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    assert [c.value for c in book["总体"][2]][:4] == ["全部", 0, 0, None]
    assert book["按诉求类别"].max_row == 1


@pytest.mark.parametrize(("query", "message"), [
    ("?from=2026-13-01&to=2026-11-30", "开始日期“2026-13-01”不是有效日期"),
    ("?from=abc&to=2026-11-30", "不是有效日期"),
    ("?from=2026-11-01&to=2026/11/30", "结束日期“2026/11/30”不是有效日期"),
    ("?from=2026-11-30&to=2026-11-01", "开始日期 2026-11-30 晚于结束日期 2026-11-01"),
    ("?from=1999-12-31&to=2026-11-30", "超出可统计范围"),
    ("?from=2000-01-01&to=2026-11-30", "统计区间最长十年"),
    ("?from=2027-01-01", "晚于结束日期 2026-12-20"),  # only from: up to today
])
def test_bad_dates_get_a_chinese_message(crafted: ConsoleHarness, query: str,
                                         message: str) -> None:
    boss = crafted.login("boss")
    for path in ("/console/dashboard", "/console/dashboard/export.csv",
                 "/console/dashboard/export.xlsx"):
        response = boss.get(path + query)
        assert response.status_code == 422, (path, query)
        assert response.headers["content-type"].startswith("text/html")
        page = Scrape(response.text)
        assert message in page.texts["period-error"]
        assert 'id="period-form"' in response.text and "fig-received" not in response.text


def test_bad_input_is_escaped_and_half_periods_are_completed(crafted: ConsoleHarness) -> None:
    boss = crafted.login("boss")
    response = boss.get("/console/dashboard", params={"from": "<script>alert(1)</script>"})
    assert response.status_code == 422
    assert "<script>alert" not in response.text and "&lt;script&gt;alert(1)" in response.text
    page = Scrape(boss.get("/console/dashboard?to=2026-11-30").text)
    assert page.texts["period"] == "2026-11-01 至 2026-11-30"
    page = Scrape(boss.get("/console/dashboard?from=2026-11-15").text)
    assert page.texts["period"] == "2026-11-15 至 2026-12-20"


@pytest.mark.parametrize("username", ["op1", "op2", "zhujian", "shuiwu"])
def test_only_supervisors_and_admins(crafted: ConsoleHarness, username: str) -> None:
    client = crafted.login(username)
    for path in ("/console/dashboard", "/console/dashboard/export.csv",
                 "/console/dashboard/export.xlsx"):
        response = client.get(path + "?from=2026-11-01&to=2026-11-30")
        assert response.status_code == 403, (username, path)
        assert "统计看板仅对督办人员和管理员开放" in response.text
        assert "收集企业诉求" not in response.text
    assert "/console/dashboard" not in client.get("/console/account").text  # not in the menu


def test_anonymous_is_sent_to_login(crafted: ConsoleHarness) -> None:
    for path in ("/console/dashboard", "/console/dashboard/export.csv"):
        response = crafted.client().get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/console/login?next=")
    assert crafted.login("admin").get("/console/dashboard").status_code == 200


# --- the exports --------------------------------------------------------------------------


def read_csv(body: bytes) -> tuple[dict[str, list[str]], dict[str, dict[str, list[str]]]]:
    """(heading rows by first cell, {section: {label: row}}) of the dashboard CSV."""
    assert body.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    heading: dict[str, list[str]] = {}
    sections: dict[str, dict[str, list[str]]] = {}
    current: str | None = None
    for i, row in enumerate(rows):
        if not row:
            current = None
        elif current is None and i + 1 < len(rows) and len(rows[i + 1]) > 5:
            current = row[0]
            sections[current] = {}
        elif current is not None and row[1] != "收集（件）":
            sections[current][row[0]] = row[1:]
        elif current is None:
            heading[row[0]] = row[1:]
    return heading, sections


def check_disposition(value: str, ext: str, span: str) -> None:
    assert value.startswith("attachment;")
    assert f'filename="hotline-stats_{span}.{ext}"' in value
    encoded = re.search(r"filename\*=UTF-8''(\S+)", value)
    assert encoded and unquote(encoded.group(1)) == f"企业诉求办理统计_{span}.{ext}"


@pytest.mark.parametrize("data", ["crafted", "seeded"])
def test_csv_export_parses_back_to_the_figures(request: pytest.FixtureRequest,
                                               data: str) -> None:
    harness: ConsoleHarness = request.getfixturevalue(data)
    first, last, now = ((date(2026, 11, 1), date(2026, 11, 30), CRAFTED_NOW) if data == "crafted"
                        else (date(2026, 1, 1), date(2026, 5, 14), SEED_NOW))
    response = harness.login("boss").get(
        f"/console/dashboard/export.csv?from={first.isoformat()}&to={last.isoformat()}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    check_disposition(response.headers["content-disposition"], "csv",
                      f"{first:%Y%m%d}-{last:%Y%m%d}")
    heading, sections = read_csv(response.content)
    assert heading["统计区间"] == [first.isoformat(), last.isoformat()]
    assert list(sections) == ["总体", "按诉求类别", "按承办部门"]
    overall, by_topic, by_dept = reports(harness.db_url, first, last, now)
    assert sections["总体"] == {"全部": list(expected_cells(overall.total).values())}
    for name, report in (("按诉求类别", by_topic), ("按承办部门", by_dept)):
        assert list(sections[name]) == [g.label for g in report.groups]
        for group in report.groups:
            assert sections[name][group.label] == list(expected_cells(group).values())
    assert sum(int(r[0]) for r in sections["按诉求类别"].values()) == overall.total.received


@pytest.mark.parametrize("data", ["crafted", "seeded"])
def test_xlsx_export_parses_back_to_the_figures(request: pytest.FixtureRequest,
                                                data: str) -> None:
    harness: ConsoleHarness = request.getfixturevalue(data)
    first, last, now = ((date(2026, 11, 1), date(2026, 11, 30), CRAFTED_NOW) if data == "crafted"
                        else (date(2026, 1, 1), date(2026, 5, 14), SEED_NOW))
    response = harness.login("admin").get(
        f"/console/dashboard/export.xlsx?from={first.isoformat()}&to={last.isoformat()}")
    assert response.status_code == 200
    assert response.headers["content-type"] == dashboard.XLSX_TYPE
    check_disposition(response.headers["content-disposition"], "xlsx",
                      f"{first:%Y%m%d}-{last:%Y%m%d}")
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["总体", "按诉求类别", "按承办部门", "说明"]
    overall, by_topic, by_dept = reports(harness.db_url, first, last, now)
    getters: list[Callable[[stats.Summary], Any]] = [
        lambda s, k=k: getattr(s, k) for k in COLUMN_KEYS]
    for sheet, groups in (("总体", [overall.total]), ("按诉求类别", by_topic.groups),
                          ("按承办部门", by_dept.groups)):
        rows = list(book[sheet].iter_rows(values_only=True))
        assert rows[0][1] == "收集（件）" and len(rows) == len(groups) + 1
        for row, group in zip(rows[1:], groups):
            assert row[0] == group.label
            for value, get in zip(row[1:], getters):
                expected = get(group)
                assert value == (None if expected is None else pytest.approx(expected)), (
                    sheet, group.label)
    assert book["总体"]["D2"].number_format == "0.0%"
    notes = {row[0]: row[1] for row in book["说明"].iter_rows(values_only=True)}
    assert notes["统计区间"] == f"{first.isoformat()} 至 {last.isoformat()}"
    assert notes["报告"] == overall.text()


def test_labels_are_escaped_and_not_spreadsheet_formulas(crafted: ConsoleHarness) -> None:
    with session_scope(crafted.db_url) as session:
        session.scalars(select(Department).where(Department.name == "税务局")).one().name = EVIL
    boss = crafted.login("boss")
    html = boss.get(NOVEMBER).text
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;局" in html
    _, sections = read_csv(boss.get("/console/dashboard/export.csv?from=2026-11-01"
                                    "&to=2026-11-30").content)
    assert "'" + EVIL in sections["按承办部门"]  # a leading ' keeps Excel from evaluating it
    book = openpyxl.load_workbook(io.BytesIO(boss.get(
        "/console/dashboard/export.xlsx?from=2026-11-01&to=2026-11-30").content))
    cells = [row[0] for row in book["按承办部门"].iter_rows(min_row=2)]
    evil = next(c for c in cells if c.value == EVIL)
    assert evil.data_type == "s"  # a string, not a formula


# --- the period, without HTTP -----------------------------------------------------------------


def test_parse_period_and_presets() -> None:
    today = date(2026, 3, 15)
    assert dashboard.parse_period(None, None, today) == Period(date(2026, 3, 1), today)
    assert dashboard.parse_period(" 2026-02-01 ", "2026-02-28", today) == Period(
        date(2026, 2, 1), date(2026, 2, 28))
    assert dashboard.parse_period("", "2026-02-10", today) == Period(date(2026, 2, 1),
                                                                     date(2026, 2, 10))
    with pytest.raises(PeriodError, match="晚于"):
        dashboard.parse_period("2026-03-16", "", today)
    presets = dict(dashboard.presets(today))
    assert presets["上月"] == Period(date(2026, 2, 1), date(2026, 2, 28))
    assert presets["近7天"] == Period(date(2026, 3, 9), today) and presets["近7天"].days == 7
    assert presets["近30天"].days == 30
    assert presets["本年"] == Period(date(2026, 1, 1), today)
    january = dict(dashboard.presets(date(2026, 1, 1)))["上月"]
    assert january == Period(date(2025, 12, 1), date(2025, 12, 31))


def test_granularity_and_buckets() -> None:
    assert trend.granularity(Period(date(2026, 1, 1), date(2026, 3, 3))) == "day"  # 62 days
    assert trend.granularity(Period(date(2026, 1, 1), date(2026, 3, 4))) == "week"
    assert trend.granularity(Period(date(2025, 1, 1), date(2026, 3, 1))) == "month"
    weeks = trend.bucket_starts(Period(date(2026, 5, 14), date(2026, 5, 31)), "week")
    assert weeks == [date(2026, 5, 14), date(2026, 5, 18), date(2026, 5, 25)]
    months = trend.bucket_starts(Period(date(2026, 1, 31), date(2026, 4, 1)), "month")
    assert months == [date(2026, 1, 31), date(2026, 2, 1), date(2026, 3, 1), date(2026, 4, 1)]
    days = trend.bucket_starts(Period(date(2026, 5, 14), date(2026, 5, 14)), "day")
    assert days == [date(2026, 5, 14)]
