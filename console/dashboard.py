"""The supervisor dashboard (统计看板): figures, tables and charts of a period, and exports.

- ``GET /console/dashboard?from=YYYY-MM-DD&to=YYYY-MM-DD``: supervisors and admins only
  (403 for other roles). Dates are local (Asia/Shanghai) days, both inclusive; without
  them the period is this month up to today. Quick links: 本月, 上月, 近7天, 近30天, 本年.
  A date that is not a date, ``from`` after ``to``, a year outside 2000–2099 or a period
  over ten years gets the page again with a Chinese message (422), never a 500.
- ``GET /console/dashboard/export.csv`` and ``export.xlsx`` (same query): the tables, as
  :mod:`console.dashboard_export` writes them.

Every figure is the core's — :func:`hotline.stats.compute` (the cohort is the tickets
*received* in the period), :func:`hotline.stats.current_lights` (the open tickets' lights
now), :func:`hotline.trend.buckets` (the cohort per day, week or month) and the service
ratings and handoffs of the period — so the page, the exports, the periodic report and
``python -m hotline tickets stats`` always agree. :mod:`console.dashboard_figures` gathers
them; this module parses the period and lays them out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from console import charts, hot_pages, outbox_pages
from console.auth import Actor
from console.chats import stream_position
from console.dashboard_export import (
    COLUMNS,
    XLSX_TYPE,
    cell_text,
    disposition,
    export_csv,
    export_xlsx,
    hours,
    pct,
    raw,
)
from console.dashboard_figures import Dashboard, build
from console.deps import SUPERVISORS, Ctx, Db, Now, role
from console.web import render
from hotline import handoff_stats, sla, stats, trend
from hotline.hot import service as hot_service
from hotline.periods import Period, PeriodError
from hotline.ticket_queries import FIRST_DAY, LAST_DAY, in_date_range

router = APIRouter(prefix="/console")
Supervisor = Annotated[Actor, role(*SUPERVISORS, message="统计看板仅对督办人员和管理员开放。")]

MAX_DAYS = 3660  # ten years
LIGHTS = (sla.Light.RED, sla.Light.YELLOW, sla.Light.GREEN)
LIGHT_COLORS = {sla.Light.RED: charts.RED, sla.Light.YELLOW: charts.YELLOW,
                sla.Light.GREEN: charts.GREEN}


# --- the period ---------------------------------------------------------------------------


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
    if not in_date_range(day):
        raise PeriodError(f"{what}{day.isoformat()}超出可统计范围（{FIRST_DAY} 至 {LAST_DAY}）。")
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


# --- charts -------------------------------------------------------------------------------


def _charts(d: Dashboard) -> dict[str, Any]:
    """Each chart twice: a wide one for laptops and a narrow one for phones (CSS picks)."""
    labels = [b.label for b in d.buckets]
    trend_series = [
        charts.Series("收集", [b.received for b in d.buckets], charts.BLUE),
        charts.Series("其中已办结", [b.resolved for b in d.buckets], charts.GREEN),
    ]
    trend_title = f"诉求受理趋势（{trend.GRANULARITY_ZH[d.unit]}，{d.period.label}）"
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


def _period_params(period: Period) -> dict[str, str]:
    """The query that asks for ``period`` (the page's and the ticket list's ``from``/``to``)."""
    return {"from": period.first.isoformat(), "to": period.last.isoformat()}


def _query(period: Period) -> str:
    return urlencode(_period_params(period))


def links_for(period: Period, rows: Sequence[stats.Summary], by: str) -> dict[str, str]:
    """Ticket-list links of each group (received tickets of the period)."""
    out = {}
    for s in rows:
        params = _period_params(period)
        if by == "topic":
            params["topic"] = s.key or ""
        elif s.key:
            params["department"] = s.key
        else:
            continue
        out[s.key or ""] = "/console/tickets?" + urlencode(params)
    return out


# --- pages --------------------------------------------------------------------------------


def _load(request: Request, ctx: Ctx, db: Session, now: datetime) -> tuple[Dashboard | None, str | None]:
    params = request.query_params
    try:
        period = parse_period(params.get("from"), params.get("to"), today_of(now))
    except PeriodError as exc:
        return None, exc.message
    d = build(db, period, now)
    return dataclasses.replace(d, handoff=handoff_stats.summary(ctx.redis, *period.bounds)), None


def _page(request: Request, ctx: Ctx, db: Session, actor: Actor, d: Dashboard | None,
          error: str | None, now: datetime) -> Response:
    params = request.query_params
    shown = d.period if d else None
    context: dict[str, Any] = {
        "title": "统计看板", "d": d, "error": error,
        "raw_from": shown.first.isoformat() if shown else params.get("from", "")[:40],
        "raw_to": shown.last.isoformat() if shown else params.get("to", "")[:40],
        "presets": [(name, _query(p), p == shown) for name, p in presets(today_of(now))],
        "lights": LIGHTS, "columns": COLUMNS, "cell": cell_text, "raw": raw, "pct": pct,
        "hours": hours, "granularity_zh": trend.GRANULARITY_ZH,
        "trend_svg": "", "topic_svg": "", "lights_svg": "",
        "links": {"topic": {}, "department": {}},
        "failed_notifications": outbox_pages.failed_count(db),
        # hot issues (what is open now) and reply quality (the period's cohort)
        "issues": hot_service.active_issues(db, now),
        "replies": stats.reply_quality(db, *d.period.bounds) if d else None,
        "spark": hot_pages.spark, "panel_limit": hot_pages.PANEL_LIMIT,
        "since": stream_position(ctx.redis),
        "period_query": _query(d.period) if d else "",
    }
    if d is not None:
        context.update(_charts(d))
        context["links"] = {"topic": links_for(d.period, d.by_topic, "topic"),
                            "department": links_for(d.period, d.by_department, "department")}
    return render(request, "dashboard.html", actor, status_code=422 if error else 200,
                  **context)


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, ctx: Ctx, db: Db, actor: Supervisor, now: Now) -> Response:
    d, error = _load(request, ctx, db, now)
    return _page(request, ctx, db, actor, d, error, now)


@router.get("/dashboard/export.csv")
def dashboard_csv(request: Request, ctx: Ctx, db: Db, actor: Supervisor, now: Now) -> Response:
    d, error = _load(request, ctx, db, now)
    if d is None:
        return _page(request, ctx, db, actor, d, error, now)
    return Response(("\ufeff" + export_csv(d)).encode("utf-8"),
                    media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": disposition(d, "csv")})


@router.get("/dashboard/export.xlsx")
def dashboard_xlsx(request: Request, ctx: Ctx, db: Db, actor: Supervisor, now: Now) -> Response:
    d, error = _load(request, ctx, db, now)
    if d is None:
        return _page(request, ctx, db, actor, d, error, now)
    return Response(export_xlsx(d), media_type=XLSX_TYPE,
                    headers={"Content-Disposition": disposition(d, "xlsx")})
