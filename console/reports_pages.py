"""The periodic report (定期通报) in the console: choose, read, print, download the PDF.

- ``GET /console/reports``: recent weeks and months with links; supervisors and admins see
  the overall report and every department's, a department account its own department's
  only (other roles 403).
- ``GET /console/reports/view?kind=week|month&day=YYYY-MM-DD[&department=ID]``: the printable
  page (:func:`hotline.report.render_html`), ``…/pdf`` the same report as a PDF download.

Figures are :mod:`hotline.report`'s, i.e. :mod:`hotline.stats`'s.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from console.auth import Actor
from console.deps import REPORT_READERS, Db, Now, own_department, role
from console.web import render
from hotline import report, sla
from hotline.ticket_queries import department_names

router = APIRouter(prefix="/console")

RECENT_WEEKS = 8
RECENT_MONTHS = 6


def reader(actor: Annotated[Actor, role(
        *REPORT_READERS, message="定期通报仅对督办人员、管理员和承办部门开放。")]) -> Actor:
    """Readers of reports; a department account needs its department."""
    own_department(actor)
    return actor


Reader = Annotated[Actor, Depends(reader)]


def _scope(actor: Actor, raw: str | None) -> int | None:
    """The department a report is of: a department account always its own."""
    own = own_department(actor)
    if own is not None:
        return own
    raw = (raw or "").strip()
    return int(raw) if raw.isdigit() else None


def _query(kind: str, day: date, department: int | None) -> str:
    params = {"kind": kind, "day": day.isoformat()}
    if department is not None:
        params["department"] = str(department)
    return urlencode(params)


@router.get("/reports", response_class=HTMLResponse)
def reports(request: Request, db: Db, actor: Reader, now: Now) -> Response:
    today = sla.as_local(now).date()
    department = _scope(actor, request.query_params.get("department"))
    weeks = []
    period = report.period_of("week", today)
    for _ in range(RECENT_WEEKS):
        weeks.append((period, _query("week", period.first, department)))
        period = period.previous()
    months = []
    period = report.period_of("month", today)
    for _ in range(RECENT_MONTHS):
        months.append((period, _query("month", period.first, department)))
        period = period.previous()
    names = department_names(db)
    return render(request, "reports.html", actor, title="定期通报", weeks=weeks, months=months,
                  departments=list(names.items()), department=department,
                  scope=names.get(department, "全部承办部门") if department else "全部承办部门",
                  locked=own_department(actor) is not None, today=today.isoformat())


def _build(request: Request, db: Session, actor: Actor, now: datetime) -> report.PeriodReport:
    params = request.query_params
    kind = params.get("kind", "week")
    try:
        day = date.fromisoformat(params.get("day", "")[:10])
    except ValueError:
        raise report.ReportError("日期格式应为 YYYY-MM-DD。") from None
    if kind not in report.KINDS:
        raise report.ReportError("通报周期应为周报或月报。")
    return report.build(db, kind, day, department_id=_scope(actor, params.get("department")),
                        now=now)


def _refused(request: Request, actor: Actor, exc: report.ReportError) -> Response:
    return render(request, "error.html", actor, status_code=422, title="无法生成通报",
                  message=exc.message)


@router.get("/reports/view", response_class=HTMLResponse)
def view(request: Request, db: Db, actor: Reader, now: Now) -> Response:
    try:
        r = _build(request, db, actor, now)
    except report.ReportError as exc:
        return _refused(request, actor, exc)
    query = _query(r.period.kind, r.period.first, r.department_id)
    nxt = r.period.last + timedelta(days=1)
    links = {
        "back": "/console/reports" + (f"?department={r.department_id}" if r.department_id else ""),
        "pdf": f"/console/reports/pdf?{query}",
        "previous": f"/console/reports/view?{_query(r.period.kind, r.period.previous().first, r.department_id)}",
        "next": f"/console/reports/view?{_query(r.period.kind, nxt, r.department_id)}",
    }
    return HTMLResponse(report.render_html(r, css_href="/console/reports/report.css",
                                           links=links))


@router.get("/reports/pdf")
def pdf(request: Request, db: Db, actor: Reader, now: Now) -> Response:
    try:
        r = _build(request, db, actor, now)
    except report.ReportError as exc:
        return _refused(request, actor, exc)
    return Response(report.render_pdf(r), media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{report.filename(r, "pdf")}"'})


@router.get("/reports/report.css")
def stylesheet(actor: Reader) -> Response:
    return Response(report.css(), media_type="text/css; charset=utf-8")
