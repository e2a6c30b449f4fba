"""The periodic report (定期通报): a week or a month, overall or of one department.

Why this module exists: hotlines publish their figures on a schedule — received, resolved,
on time, satisfaction, red lights, reopened, the hot issues of the period and the tickets
that have waited longest — so departments see where they stand. Every figure is
:func:`hotline.stats.compute`'s over the same cohort (tickets *received* in the period,
their state at ``now``), so the report, the dashboard and ``hotline tickets stats`` agree
(a test holds them to it). Reply quality is :func:`hotline.stats.reply_quality`'s.

The report is built once (:func:`build`) and rendered twice: a printable HTML page
(:func:`render_html`, also shown in the console) and a PDF (:func:`render_pdf`, reportlab
with its built-in CID font ``STSong-Light``, so no font file is needed). The console
serves both; ``hotline report`` writes both for a scheduler.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

import jinja2
from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline import routing, sla, stats
from hotline.hot import service as hot_service
from hotline.models import OPEN_STATUSES, Department, Enterprise, Ticket, TicketStatus
from hotline.periods import Period, PeriodError

KINDS = {"week": "周报", "month": "月报"}
SLOWEST = 10
TEMPLATES = Path(__file__).resolve().parent / "report_templates"


class ReportError(PeriodError):
    """A report that cannot be made (its period or its department); ``message`` is Chinese."""


@dataclass(frozen=True)
class ReportPeriod(Period):
    """A week (Monday–Sunday) or a calendar month; see :func:`period_of`."""

    kind: str  # week | month

    @property
    def label(self) -> str:
        if self.kind == "month":
            return f"{self.first.year}年{self.first.month}月"
        iso = self.first.isocalendar()
        return f"{iso.year}年第{iso.week}周（{self.first:%m月%d日}—{self.last:%m月%d日}）"

    @property
    def slug(self) -> str:
        return f"{self.kind}-{self.first:%Y%m%d}-{self.last:%Y%m%d}"

    def previous(self) -> ReportPeriod:
        return period_of(self.kind, self.first - timedelta(days=1))


def period_of(kind: str, day: date) -> ReportPeriod:
    """The week (Monday–Sunday) or calendar month holding ``day``."""
    if kind == "week":
        first = day - timedelta(days=day.weekday())
        return ReportPeriod(first, first + timedelta(days=6), kind)
    if kind == "month":
        first = day.replace(day=1)
        nxt = (first + timedelta(days=32)).replace(day=1)
        return ReportPeriod(first, nxt - timedelta(days=1), kind)
    raise ReportError(f"未知的通报周期：{kind}（应为 week 或 month）")


def last_complete(kind: str, today: date) -> ReportPeriod:
    """The latest week or month that has ended before ``today`` (what a scheduler sends)."""
    return period_of(kind, period_of(kind, today).first - timedelta(days=1))


@dataclass(frozen=True)
class SlowTicket:
    number: str
    topic_zh: str
    department: str
    enterprise: str | None
    status_zh: str
    created_at: datetime
    deadline: datetime
    days_open: int
    overdue_days: float  # working days past the deadline (0 when not yet due)


@dataclass
class PeriodReport:
    period: ReportPeriod
    now: datetime
    department_id: int | None
    scope: str  # 全市（全部部门）or the department's name
    total: stats.Summary
    previous: stats.Summary
    departments: list[stats.Summary]
    topics: list[stats.Summary]
    replies: stats.ReplyQuality
    reply_departments: list[stats.ReplyQuality]
    hot_issues: list[hot_service.IssueView]
    slowest: list[SlowTicket] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"企业诉求办理情况{KINDS[self.period.kind]}（{self.period.label}）"

    @property
    def sentence(self) -> str:
        return f"{self.period.first:%Y年%m月%d日}至{self.period.last:%Y年%m月%d日}，{self.total.sentence()}。"

    def figures(self) -> dict[str, object]:
        """The headline figures, in ``hotline tickets stats --json``'s terms."""
        return self.total.as_dict()


def _slowest(session: Session, now: datetime, department_id: int | None,
             limit: int = SLOWEST) -> list[SlowTicket]:
    """Open tickets (whatever their receiving date) that have waited longest at ``now``."""
    query = (select(Ticket, Department.name, Enterprise.name)
             .outerjoin(Department, Ticket.department_id == Department.id)
             .outerjoin(Enterprise, Ticket.enterprise_id == Enterprise.id)
             .where(Ticket.status.in_([s.value for s in OPEN_STATUSES]),
                    Ticket.created_at <= now)
             .order_by(Ticket.created_at, Ticket.id).limit(limit))
    if department_id is not None:
        query = query.where(Ticket.department_id == department_id)
    taxonomy = routing.load_taxonomy()
    out = []
    for ticket, dept, firm in session.execute(query):
        topic_zh = routing.topic_zh(ticket.topic, taxonomy)
        overdue = max(0.0, sla.workdays_between(ticket.deadline, now)) if now > ticket.deadline else 0.0
        out.append(SlowTicket(
            number=ticket.number, topic_zh=topic_zh, department=dept or "待分派", enterprise=firm,
            status_zh=TicketStatus(ticket.status).zh, created_at=ticket.created_at,
            deadline=ticket.deadline, days_open=(now - ticket.created_at).days,
            overdue_days=round(overdue, 1)))
    return out


def build(session: Session, kind: str, day: date, *, department_id: int | None = None,
          now: datetime | None = None) -> PeriodReport:
    """The report of the ``kind`` period holding ``day`` (overall, or one department's)."""
    now = now or datetime.now(timezone.utc)
    period = period_of(kind, day)
    scope = "全部承办部门"
    if department_id is not None:
        dept = session.get(Department, department_id)
        if dept is None:
            raise ReportError("所选的承办部门不存在。")
        scope = dept.name
    start, end = period.bounds
    by_department = stats.compute(session, start, end, now=now, by="department",
                                  department_id=department_id)
    by_topic = stats.compute(session, start, end, now=now, by="topic", department_id=department_id)
    prev_start, prev_end = period.previous().bounds
    previous = stats.compute(session, prev_start, prev_end, now=now,
                             department_id=department_id).total
    replies, reply_departments = stats.reply_quality(session, start, end,
                                                     department_id=department_id)
    issues = hot_service.list_issues(session, now=now, since=start, until=end)
    if department_id is not None:
        name = scope
        issues = [i for i in issues if any(d == name for d, _ in i.departments)]
    return PeriodReport(
        period=period, now=now, department_id=department_id, scope=scope,
        total=by_department.total, previous=previous, departments=by_department.groups,
        topics=by_topic.groups, replies=replies, reply_departments=reply_departments,
        hot_issues=issues, slowest=_slowest(session, now, department_id))


# --- rendering ----------------------------------------------------------------------------


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def change(now_value: float | None, before: float | None, rate: bool = True) -> str:
    """环比 wording: ``↑2.0个百分点`` / ``↓3件`` / ``持平`` / ``—``."""
    if now_value is None or before is None:
        return "—"
    diff = (now_value - before) * (100 if rate else 1)
    if abs(diff) < (0.05 if rate else 0.5):
        return "持平"
    unit = "个百分点" if rate else "件"
    amount = f"{abs(diff):.1f}" if rate else f"{abs(diff):.0f}"
    return f"{'↑' if diff > 0 else '↓'}{amount}{unit}"


def local(value: datetime | None, fmt: str = "%Y-%m-%d") -> str:
    return "" if value is None else sla.as_local(value).strftime(fmt)


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["pct"] = pct
    env.filters["local"] = local
    env.globals["change"] = change
    return env


def css() -> str:
    return (TEMPLATES / "report.css").read_text(encoding="utf-8")


def render_html(report: PeriodReport, *, css_href: str | None = None,
                links: dict[str, str] | None = None) -> str:
    """The printable page. ``css_href`` links the style sheet (the console, whose security
    policy forbids inline styles); without it the styles are inlined (a file on its own)."""
    return _env().get_template("report.html").render(
        r=report, css_href=css_href, inline_css=None if css_href else css(),
        links=links or {}, kinds=KINDS)


def render_pdf(report: PeriodReport) -> bytes:
    """The same report as an A4 PDF (reportlab, CID font STSong-Light: no font file)."""
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import (
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    font = "STSong-Light"
    if font not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(font))
    body = ParagraphStyle("body", fontName=font, fontSize=9.5, leading=14, wordWrap="CJK")
    small = ParagraphStyle("small", parent=body, fontSize=8, leading=11)
    title = ParagraphStyle("title", parent=body, fontSize=16, leading=22, alignment=TA_CENTER)
    sub = ParagraphStyle("sub", parent=body, alignment=TA_CENTER, textColor=colors.grey)
    h2 = ParagraphStyle("h2", parent=body, fontSize=12, leading=18, spaceBefore=8, spaceAfter=4)

    def p(text: object, style: ParagraphStyle = small) -> Paragraph:
        from xml.sax.saxutils import escape

        return Paragraph(escape(str(text)), style)

    def table(rows: list[list[object]], widths: list[float]) -> Table:
        data = [[p(c) for c in row] for row in rows]
        t = Table(data, colWidths=[w * mm for w in widths], repeatRows=1)
        t.setStyle(TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#b0b8c4")),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef7")),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ]))
        return t

    r = report
    t = r.total
    story: list[object] = [
        p(r.title, title),
        p(f"{r.scope} · 统计区间 {r.period.first:%Y-%m-%d} 至 {r.period.last:%Y-%m-%d}"
          f"（按受理日期）· 数据截至 {local(r.now, '%Y-%m-%d %H:%M')}", sub),
        Spacer(1, 6 * mm),
        p(r.sentence, body),
        p("一、主要指标", h2),
        table([
            ["指标", "本期", "上期", "环比"],
            ["收集诉求（件）", t.received, r.previous.received,
             change(t.received, r.previous.received, rate=False)],
            ["办结（件）", t.resolved, r.previous.resolved,
             change(t.resolved, r.previous.resolved, rate=False)],
            ["办结率", pct(t.resolution_rate), pct(r.previous.resolution_rate),
             change(t.resolution_rate, r.previous.resolution_rate)],
            ["按期办结率", pct(t.on_time_rate), pct(r.previous.on_time_rate),
             change(t.on_time_rate, r.previous.on_time_rate)],
            ["满意度", pct(t.satisfaction_rate), pct(r.previous.satisfaction_rate),
             change(t.satisfaction_rate, r.previous.satisfaction_rate)],
            ["红灯（件）", t.red, r.previous.red, change(t.red, r.previous.red, rate=False)],
            ["重办（件）", t.reopened, r.previous.reopened,
             change(t.reopened, r.previous.reopened, rate=False)],
            ["热点问题（个）", len(r.hot_issues), "", ""],
        ], [55, 35, 35, 45]),
    ]
    if r.department_id is None:
        story += [p("二、各承办部门", h2), table(
            [["承办部门", "收集", "办结", "按期办结率", "满意度", "红灯", "重办"]]
            + [[g.label, g.received, g.resolved, pct(g.on_time_rate), pct(g.satisfaction_rate),
                g.red, g.reopened] for g in r.departments]
            + [["合计", t.received, t.resolved, pct(t.on_time_rate), pct(t.satisfaction_rate),
                t.red, t.reopened]],
            [52, 18, 18, 26, 22, 18, 18])]
    rq = r.replies
    story += [p("三、答复质量", h2), p(
        f"本期答复{rq.replies}件，带警示发出{rq.with_warnings}件（{pct(rq.warned_share)}）；"
        f"答复获评{rq.rated}件，不满意{rq.dissatisfied}件（{pct(rq.dissatisfied_rate)}），"
        f"其中带警示答复不满意率{pct(rq.dissatisfied_rate_warned)}、无警示答复"
        f"{pct(rq.dissatisfied_rate_clean)}；答复后重办{rq.reopened}件（{pct(rq.reopen_rate)}）。",
        body)]
    story += [p("四、热点问题", h2)]
    if r.hot_issues:
        story.append(table(
            [["编号", "热点问题", "状态", "工单", "企业", "涉及区域", "承办部门"]]
            + [[f"#{i.id}", i.title, i.state_zh, i.tickets, i.enterprises,
                "、".join(d for d, _ in i.districts[:3]) or "—",
                "、".join(d for d, _ in i.departments[:2]) or "—"] for i in r.hot_issues],
            [12, 58, 16, 12, 12, 30, 32]))
    else:
        story.append(p("本期未发现热点问题。", body))
    story += [p("五、办理时间最长的在办工单", h2)]
    if r.slowest:
        story.append(table(
            [["工单号", "诉求类别", "承办部门", "企业", "受理日期", "办理期限", "已办天数", "超期（工作日）"]]
            + [[s.number, s.topic_zh, s.department, s.enterprise or "—", local(s.created_at),
                local(s.deadline), s.days_open, s.overdue_days or "—"] for s in r.slowest],
            [26, 22, 30, 32, 20, 20, 14, 18]))
    else:
        story.append(p("当前没有在办工单。", body))
    story += [Spacer(1, 4 * mm), p(
        "口径：统计区间内受理的诉求，截至统计时刻的办理情况；办结率=办结÷收集，按期办结率=按期办结÷办结，"
        "满意度=最近一次评价为满意或基本满意÷评价过的诉求，红灯=在办超期+超期办结，重办=曾转重办的诉求。"
        "与“hotline tickets stats”同一口径。", small)]

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=14 * mm, rightMargin=14 * mm,
                            topMargin=14 * mm, bottomMargin=14 * mm, title=r.title,
                            author="企业服务热线", subject=r.scope)

    def footer(canvas, document) -> None:  # type: ignore[no-untyped-def]
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.drawCentredString(A4[0] / 2, 8 * mm, f"{r.title} · 第 {document.page} 页")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def filename(report: PeriodReport, ext: str) -> str:
    """ASCII file name for schedulers and downloads: ``report-week-20260601-20260607-all.pdf``."""
    who = "all" if report.department_id is None else f"dept{report.department_id}"
    return f"report-{report.period.slug}-{who}.{ext}"
