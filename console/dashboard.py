"""The supervisor dashboard (统计看板): figures, tables and charts of a period, and exports.

- ``GET /console/dashboard?from=YYYY-MM-DD&to=YYYY-MM-DD``: supervisors and admins only
  (403 for other roles). Dates are local (Asia/Shanghai) days, both inclusive; without
  them the period is this month up to today. Quick links: 本月, 上月, 近7天, 近30天, 本年.
  A date that is not a date, ``from`` after ``to``, a year outside 2000–2099 or a period
  over ten years gets the page again with a Chinese message (422), never a 500.
- ``GET /console/dashboard/export.csv`` and ``export.xlsx`` (same query): the overall
  figures, per topic and per department. CSV is UTF-8 with a BOM (Excel then reads the
  Chinese right), in three sections; the workbook has one sheet per table plus 说明.

Every figure is :func:`hotline.stats.compute`'s — the dashboard only lays it out, so the
page, the exports and ``python -m hotline tickets stats`` always agree. Read its module
docstring for the definitions (the cohort is the tickets *received* in the period).

Two things are not in ``hotline.stats`` and are computed here:

- the trend: tickets received per day (per week for periods over 62 days, per month over
  400 days) and how many of those are resolved now — the same cohort and the same
  办结 test as the stats, so the buckets add up to the figures above them;
- the lights: the current 红/黄/绿灯 of every open ticket, whatever its receiving date
  (what is burning now), by :func:`hotline.sla.traffic_light` as in the ticket list.

The clock is ``ctx.extra["clock"]`` when the console's context gives one (tests).
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from console import charts, hot_pages, outbox_pages
from console.auth import Actor, Forbidden, current_actor
from console.chats import stream_position
from console.context import get_ctx
from console.web import render
from hotline import handoff_stats, service_ratings, sla, stats
from hotline.db import session_scope
from hotline.hot import service as hot_service
from hotline.models import OPEN_STATUSES, StaffRole, Ticket, TicketStatus

router = APIRouter(prefix="/console")

MIN_DAY = date(2000, 1, 1)
MAX_DAY = date(2099, 12, 31)
MAX_DAYS = 3660  # ten years
DAILY_MAX_DAYS = 62
WEEKLY_MAX_DAYS = 400
RESOLVED = frozenset({TicketStatus.RESOLVED.value, TicketStatus.RATED.value})
OPEN = tuple(s.value for s in OPEN_STATUSES)
LIGHTS = (sla.Light.RED, sla.Light.YELLOW, sla.Light.GREEN)
LIGHT_COLORS = {sla.Light.RED: charts.RED, sla.Light.YELLOW: charts.YELLOW,
                sla.Light.GREEN: charts.GREEN}
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- the period ---------------------------------------------------------------------------


class PeriodError(ValueError):
    """A period the user asked for that cannot be shown; ``message`` is for them."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Period:
    """Local days ``first`` … ``last``, both inclusive."""

    first: date
    last: date

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        """``[start, end)`` as :func:`hotline.stats.period` gives it."""
        return stats.period(self.first, self.last)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def label(self) -> str:
        return f"{self.first.isoformat()} 至 {self.last.isoformat()}"

    @property
    def query(self) -> str:
        return urlencode({"from": self.first.isoformat(), "to": self.last.isoformat()})


def today_of(now: datetime) -> date:
    return sla.as_local(now).date()


def presets(today: date) -> list[tuple[str, Period]]:
    """The quick links: (name, period), ending today except 上月."""
    month_start = today.replace(day=1)
    last_month_end = month_start - timedelta(days=1)
    return [
        ("本月", Period(month_start, today)),
        ("上月", Period(last_month_end.replace(day=1), last_month_end)),
        ("近7天", Period(today - timedelta(days=6), today)),
        ("近30天", Period(today - timedelta(days=29), today)),
        ("本年", Period(today.replace(month=1, day=1), today)),
    ]


def _day(raw: str, what: str) -> date:
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise PeriodError(f"{what}“{raw}”不是有效日期，请按 YYYY-MM-DD 填写，例如 2026-05-01。") from None
    if not MIN_DAY <= day <= MAX_DAY:
        raise PeriodError(f"{what}{day.isoformat()}超出可统计范围（2000-01-01 至 2099-12-31）。")
    return day


def parse_period(raw_from: str | None, raw_to: str | None, today: date) -> Period:
    """The period a query asks for; this month up to today when it asks for none.

    Only ``from``: up to today. Only ``to``: from the first day of that month.
    Raises :class:`PeriodError` with a Chinese message.
    """
    raw_from = (raw_from or "").strip()[:40]
    raw_to = (raw_to or "").strip()[:40]
    if not raw_from and not raw_to:
        return presets(today)[0][1]
    last = _day(raw_to, "结束日期") if raw_to else None
    first = _day(raw_from, "开始日期") if raw_from else None
    if first is None:
        assert last is not None
        first = last.replace(day=1)
    if last is None:
        last = today
    if first > last:
        raise PeriodError(f"开始日期 {first.isoformat()} 晚于结束日期 {last.isoformat()}，"
                          "请重新选择统计区间。")
    if (last - first).days + 1 > MAX_DAYS:
        raise PeriodError("统计区间最长十年，请缩短区间。")
    return Period(first, last)


# --- the figures --------------------------------------------------------------------------


@dataclass(frozen=True)
class Bucket:
    """One point of the trend: received in ``first`` … ``last`` and resolved of those."""

    first: date
    last: date
    label: str
    received: int = 0
    resolved: int = 0

    @property
    def detail(self) -> str:
        if self.first == self.last:
            return self.first.isoformat()
        return f"{self.first.isoformat()} 至 {self.last.isoformat()}"


GRANULARITY_ZH = {"day": "按日", "week": "按周", "month": "按月"}


def granularity(period: Period) -> str:
    if period.days <= DAILY_MAX_DAYS:
        return "day"
    return "week" if period.days <= WEEKLY_MAX_DAYS else "month"


def _bucket_starts(period: Period, unit: str) -> list[date]:
    starts = [period.first]
    day = period.first
    while True:
        if unit == "day":
            day += timedelta(days=1)
        elif unit == "week":
            day += timedelta(days=7 - day.weekday())  # next Monday
        else:
            day = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
        if day > period.last:
            return starts
        starts.append(day)


def trend(session: Session, period: Period, unit: str | None = None) -> list[Bucket]:
    """Received and resolved (now) per bucket, for the tickets received in ``period``."""
    unit = unit or granularity(period)
    starts = _bucket_starts(period, unit)
    counts = {s: [0, 0] for s in starts}
    start, end = period.bounds
    index = {}
    for i, s in enumerate(starts):
        stop = starts[i + 1] if i + 1 < len(starts) else period.last + timedelta(days=1)
        for k in range((stop - s).days):
            index[s + timedelta(days=k)] = s
    rows = session.execute(select(Ticket.created_at, Ticket.status).where(
        Ticket.created_at >= start, Ticket.created_at < end))
    for created, status in rows:
        cell = counts[index[sla.as_local(created).date()]]
        cell[0] += 1
        cell[1] += status in RESOLVED
    buckets = []
    for i, s in enumerate(starts):
        last = starts[i + 1] - timedelta(days=1) if i + 1 < len(starts) else period.last
        if unit == "month":
            label = f"{s:%Y-%m}"
        elif period.first.year != period.last.year:
            label = s.isoformat()
        else:
            label = f"{s:%m-%d}"
        buckets.append(Bucket(s, last, label, *counts[s]))
    return buckets


def current_lights(session: Session, now: datetime) -> dict[sla.Light, int]:
    """红/黄/绿灯 of every open ticket at ``now`` (not limited to a period)."""
    counts = dict.fromkeys(LIGHTS, 0)
    rows = session.execute(select(Ticket.created_at, Ticket.deadline, Ticket.limit_days)
                           .where(Ticket.status.in_(OPEN)))
    for created, deadline, limit_days in rows:
        counts[sla.traffic_light(created, deadline, now, limit_days)] += 1
    return counts


@dataclass(frozen=True)
class Dashboard:
    period: Period
    now: datetime
    total: stats.Summary
    by_topic: list[stats.Summary]
    by_department: list[stats.Summary]
    sentence: str
    unit: str
    buckets: list[Bucket]
    lights: dict[sla.Light, int]
    service: service_ratings.ServiceSummary  # ratings of human service in the period
    handoff: handoff_stats.HandoffSummary | None = None  # escalations and waits (Redis)


def build(session: Session, period: Period, now: datetime) -> Dashboard:
    start, end = period.bounds
    topics = stats.compute(session, start, end, now=now, by="topic")
    departments = stats.compute(session, start, end, now=now, by="department")
    unit = granularity(period)
    return Dashboard(
        period=period, now=now, total=topics.total, by_topic=topics.groups,
        by_department=departments.groups, sentence=topics.text().splitlines()[0],
        unit=unit, buckets=trend(session, period, unit), lights=current_lights(session, now),
        service=service_ratings.summary(session, start, end),
    )


# --- formatting ---------------------------------------------------------------------------


def pct(value: float | None) -> str:
    """A rate as the reports write it: ``98.8%``; ``—`` when there is nothing to divide."""
    return "—" if value is None else f"{value * 100:.1f}%"


def hours(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def raw(value: float | None, digits: int = 4) -> str:
    """The value behind a figure, for ``data-value`` (empty when there is none)."""
    return "" if value is None else str(round(value, digits))


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    value: Callable[[stats.Summary], Any]
    kind: str = "count"  # count | rate | hours | text


COLUMNS: tuple[Column, ...] = (
    Column("received", "收集（件）", lambda s: s.received),
    Column("resolved", "办结（件）", lambda s: s.resolved),
    Column("resolution_rate", "办结率", lambda s: s.resolution_rate, "rate"),
    Column("resolved_on_time", "按期办结（件）", lambda s: s.resolved_on_time),
    Column("on_time_rate", "按期办结率", lambda s: s.on_time_rate, "rate"),
    Column("avg_handling_hours", "平均办理时长（小时）", lambda s: s.avg_handling_hours, "hours"),
    Column("rated", "评价（件）", lambda s: s.rated),
    Column("satisfied", "满意（件）", lambda s: s.satisfied),
    Column("satisfaction_rate", "满意度", lambda s: s.satisfaction_rate, "rate"),
    Column("red", "红灯（件）", lambda s: s.red),
    Column("open_overdue", "在办超期（件）", lambda s: s.open_overdue),
    Column("resolved_late", "超期办结（件）", lambda s: s.resolved_late),
)
TABLES = (("总体", "名称"), ("按诉求类别", "诉求类别"), ("按承办部门", "承办部门"))


def cell_text(column: Column, summary: stats.Summary) -> str:
    value = column.value(summary)
    if column.kind == "rate":
        return pct(value)
    if column.kind == "hours":
        return hours(value)
    return str(value)


def _tables(d: Dashboard) -> list[tuple[str, str, list[stats.Summary]]]:
    rows = ([d.total], d.by_topic, d.by_department)
    return [(name, head, list(r)) for (name, head), r in zip(TABLES, rows)]


def _safe(text: str) -> str:
    """A label that a spreadsheet will not take for a formula (CSV/formula injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# --- charts -------------------------------------------------------------------------------


def _charts(d: Dashboard) -> dict[str, Any]:
    """Each chart twice: a wide one for laptops and a narrow one for phones (CSS picks)."""
    labels = [b.label for b in d.buckets]
    trend_series = [
        charts.Series("收集", [b.received for b in d.buckets], charts.BLUE),
        charts.Series("其中已办结", [b.resolved for b in d.buckets], charts.GREEN),
    ]
    trend_title = f"诉求受理趋势（{GRANULARITY_ZH[d.unit]}，{d.period.label}）"
    topic_labels = [g.label for g in d.by_topic]
    topic_series = [
        charts.Series("收集", [g.received for g in d.by_topic], charts.LIGHT_BLUE),
        charts.Series("办结", [g.resolved for g in d.by_topic], charts.BLUE),
    ]
    topic_title = f"按诉求类别（{d.period.label}）"

    def both(kind: str, make: Callable[..., Markup], wide: int, narrow: int) -> Markup:
        return Markup("").join((make(width=wide, css_class=f"{kind} wide-only"),
                                make(width=narrow, css_class=f"{kind} narrow-only")))

    return {
        "trend_svg": both("trend", lambda **kw: charts.trend_chart(
            labels, trend_series, title=trend_title, details=[b.detail for b in d.buckets],
            height=280 if kw["width"] > 500 else 240, **kw), 760, 360),
        "topic_svg": both("hbar", lambda **kw: charts.hbar_chart(
            topic_labels, topic_series, title=topic_title, empty_text="本期没有受理诉求", **kw),
            900, 360),
        "lights_svg": charts.stacked_bar(
            [charts.Part(light.zh, d.lights[light], LIGHT_COLORS[light]) for light in LIGHTS],
            title="在办工单红绿灯（当前）", width=360, legend=False,
            empty_text="当前没有在办工单"),
    }


def links_for(period: Period, rows: Sequence[stats.Summary], by: str) -> dict[str, str]:
    """Ticket-list links of each group (received tickets of the period)."""
    out = {}
    for s in rows:
        params = {"from": period.first.isoformat(), "to": period.last.isoformat()}
        if by == "topic":
            params["topic"] = s.key or ""
        elif s.key:
            params["department"] = s.key
        else:
            continue
        out[s.key or ""] = "/console/tickets?" + urlencode(params)
    return out


# --- pages --------------------------------------------------------------------------------


def supervisor(actor: Actor = Depends(current_actor)) -> Actor:
    if actor.role not in (StaffRole.SUPERVISOR, StaffRole.ADMIN):
        raise Forbidden("统计看板仅对督办人员和管理员开放。")
    return actor


def _now(request: Request) -> datetime:
    clock = get_ctx(request).extra.get("clock")
    now = clock() if callable(clock) else datetime.now(timezone.utc)
    return now if now.tzinfo else now.replace(tzinfo=timezone.utc)


def _load(request: Request) -> tuple[Dashboard | None, str | None, datetime]:
    now = _now(request)
    params = request.query_params
    try:
        period = parse_period(params.get("from"), params.get("to"), today_of(now))
    except PeriodError as exc:
        return None, exc.message, now
    ctx = get_ctx(request)
    with session_scope(ctx.db_url) as session:
        d = build(session, period, now)
    return dataclasses.replace(d, handoff=handoff_stats.summary(ctx.redis, *period.bounds)), None, now


def _page(request: Request, actor: Actor, d: Dashboard | None, error: str | None,
          now: datetime) -> Response:
    params = request.query_params
    today = today_of(now)
    shown = d.period if d else None
    context: dict[str, Any] = {
        "title": "统计看板", "d": d, "error": error,
        "raw_from": shown.first.isoformat() if shown else params.get("from", "")[:40],
        "raw_to": shown.last.isoformat() if shown else params.get("to", "")[:40],
        "presets": [(name, p, p == shown) for name, p in presets(today)],
        "lights": LIGHTS, "columns": COLUMNS, "cell": cell_text, "raw": raw, "pct": pct,
        "hours": hours, "granularity_zh": GRANULARITY_ZH,
        "trend_svg": "", "topic_svg": "", "lights_svg": "",
    }
    context["links"] = {"topic": {}, "department": {}}
    ctx = get_ctx(request)
    with session_scope(ctx.db_url) as session:
        context["failed_notifications"] = outbox_pages.failed_count(session)
        # hot issues (what is open now) and reply quality (the period's cohort)
        context["issues"] = hot_service.active_issues(session, now)
        context["replies"] = stats.reply_quality(session, *d.period.bounds) if d else None
    context["spark"] = hot_pages.spark
    context["panel_limit"] = hot_pages.PANEL_LIMIT
    context["since"] = stream_position(ctx.redis)
    if d is not None:
        context.update(_charts(d))
        context["links"] = {"topic": links_for(d.period, d.by_topic, "topic"),
                            "department": links_for(d.period, d.by_department, "department")}
    return render(request, "dashboard.html", actor, status_code=422 if error else 200,
                  **context)


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, actor: Actor = Depends(supervisor)) -> Response:
    d, error, now = _load(request)
    return _page(request, actor, d, error, now)


def _filename(d: Dashboard, ext: str) -> str:
    span = f"{d.period.first:%Y%m%d}-{d.period.last:%Y%m%d}"
    ascii_name = f"hotline-stats_{span}.{ext}"
    zh_name = f"企业诉求办理统计_{span}.{ext}"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(zh_name)}"


def export_csv(d: Dashboard) -> str:
    """The CSV text (without the BOM): a heading, then the three tables, blank-separated."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["企业诉求办理统计"])
    w.writerow(["统计区间", d.period.first.isoformat(), d.period.last.isoformat()])
    w.writerow(["统计时刻", f"{sla.as_local(d.now):%Y-%m-%d %H:%M}"])
    w.writerow(["说明", "按受理日期统计；办结率=办结/收集，按期办结率=按期办结/办结，"
                "满意度=满意和基本满意/评价，红灯=在办超期+超期办结"])
    for name, head, rows in _tables(d):
        w.writerow([])
        w.writerow([name])
        w.writerow([head, *(c.title for c in COLUMNS)])
        for s in rows:
            w.writerow([_safe(s.label), *(cell_text(c, s) for c in COLUMNS)])
    return out.getvalue()


def export_xlsx(d: Dashboard) -> bytes:
    """The workbook: sheets 总体, 按诉求类别, 按承办部门 (header in row 1), then 说明."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    bold = Font(bold=True)
    for name, head, rows in _tables(d):
        sheet = book.create_sheet(name)
        sheet.append([head, *(c.title for c in COLUMNS)])
        for cell in sheet[1]:
            cell.font = bold
        for s in rows:
            sheet.append([s.label, *(c.value(s) for c in COLUMNS)])
            label = sheet.cell(row=sheet.max_row, column=1)
            label.value, label.data_type = s.label, "s"  # "=…" stays text, not a formula
        for j, column in enumerate(COLUMNS, start=2):
            fmt = {"rate": "0.0%", "hours": "0.0"}.get(column.kind)
            if fmt:
                for (cell,) in sheet.iter_rows(min_row=2, min_col=j, max_col=j):
                    cell.number_format = fmt
        sheet.column_dimensions["A"].width = 24
        for j in range(2, len(COLUMNS) + 2):
            sheet.column_dimensions[get_column_letter(j)].width = 14
        sheet.freeze_panes = "B2"
    notes = book.create_sheet("说明")
    for row in (
        ("企业诉求办理统计", ""),
        ("统计区间", d.period.label),
        ("统计时刻", f"{sla.as_local(d.now):%Y-%m-%d %H:%M}"),
        ("统计口径", "按受理日期统计：区间内受理的诉求，截至统计时刻的办理情况"),
        ("办结率", "办结 / 收集"),
        ("按期办结率", "在办理期限内办结 / 办结"),
        ("平均办理时长", "受理至首次办结的平均小时数（自然时间）"),
        ("满意度", "最近一次评价为满意或基本满意 / 评价过的诉求"),
        ("红灯", "在办超期 + 超期办结"),
        ("报告", d.sentence),
    ):
        notes.append(list(row))
    notes.column_dimensions["A"].width = 16
    notes.column_dimensions["B"].width = 80
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@router.get("/dashboard/export.csv")
def dashboard_csv(request: Request, actor: Actor = Depends(supervisor)) -> Response:
    d, error, now = _load(request)
    if d is None:
        return _page(request, actor, d, error, now)
    return Response(("\ufeff" + export_csv(d)).encode("utf-8"),
                    media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": _filename(d, "csv")})


@router.get("/dashboard/export.xlsx")
def dashboard_xlsx(request: Request, actor: Actor = Depends(supervisor)) -> Response:
    d, error, now = _load(request)
    if d is None:
        return _page(request, actor, d, error, now)
    return Response(export_xlsx(d), media_type=XLSX_TYPE,
                    headers={"Content-Disposition": _filename(d, "xlsx")})

