"""The periodic report (定期通报) in the console: choose, read, print, download the PDF.

- ``GET /console/reports``: recent weeks and months with links; supervisors and admins see
  the overall report and every department's, a department account its own department's
  only (other roles 403).
- ``GET /console/reports/view?kind=week|month&day=YYYY-MM-DD[&department=ID]``: the printable
  page (:func:`hotline.report.render_html`), ``…/pdf`` the same report as a PDF download.

Figures are :mod:`hotline.report`'s, i.e. :mod:`hotline.stats`'s.
"""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from console.api.tickets import request_now
from console.auth import Actor, Forbidden, current_actor
from console.context import get_ctx
from console.web import render
from hotline import report, sla
from hotline.db import session_scope
from hotline.models import Department, StaffRole

router = APIRouter(prefix="/console")

READERS = (StaffRole.SUPERVISOR, StaffRole.ADMIN, StaffRole.DEPARTMENT)
RECENT_WEEKS = 8
RECENT_MONTHS = 6


def reader(actor: Actor = Depends(current_actor)) -> Actor:
    if actor.role not in READERS:
        raise Forbidden("定期通报仅对督办人员、管理员和承办部门开放。")
    if actor.role is StaffRole.DEPARTMENT and actor.department_id is None:
        raise Forbidden("您的账号未设置所属部门，请联系管理员。")
    return actor


def _scope(actor: Actor, raw: str | None) -> int | None:
    """The department a report is of: a department account always its own."""
    if actor.role is StaffRole.DEPARTMENT:
        return actor.department_id
    raw = (raw or "").strip()
    return int(raw) if raw.isdigit() else None


def _query(kind: str, day: date, department: int | None) -> str:
    params = {"kind": kind, "day": day.isoformat()}
    if department is not None:
        params["department"] = str(department)
    return urlencode(params)


@router.get("/reports", response_class=HTMLResponse)
def reports(request: Request, actor: Actor = Depends(reader)) -> Response:
    today = sla.as_local(request_now(request)).date()
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
    with session_scope(get_ctx(request).db_url) as session:
        departments = list(session.execute(select(Department.id, Department.name)
                                           .order_by(Department.id)).all())
    names = dict(departments)
    return render(request, "reports.html", actor, title="定期通报", weeks=weeks, months=months,
                  departments=departments, department=department,
                  scope=names.get(department, "全部承办部门") if department else "全部承办部门",
                  locked=actor.role is StaffRole.DEPARTMENT, today=today.isoformat())


def _build(request: Request, actor: Actor) -> report.PeriodReport:
    params = request.query_params
    kind = params.get("kind", "week")
    try:
        day = date.fromisoformat(params.get("day", "")[:10])
    except ValueError:
        raise report.ReportError("日期格式应为 YYYY-MM-DD。") from None
    if kind not in report.KINDS:
        raise report.ReportError("通报周期应为周报或月报。")
    with session_scope(get_ctx(request).db_url) as session:
        return report.build(session, kind, day, department_id=_scope(actor, params.get("department")),
                            now=request_now(request))


def _refused(request: Request, actor: Actor, exc: report.ReportError) -> Response:
    return render(request, "error.html", actor, status_code=422, title="无法生成通报",
                  message=exc.message)


@router.get("/reports/view", response_class=HTMLResponse)
def view(request: Request, actor: Actor = Depends(reader)) -> Response:
    try:
        r = _build(request, actor)
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
def pdf(request: Request, actor: Actor = Depends(reader)) -> Response:
    try:
        r = _build(request, actor)
    except report.ReportError as exc:
        return _refused(request, actor, exc)
    return Response(report.render_pdf(r), media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{report.filename(r, "pdf")}"'})


@router.get("/reports/report.css")
def stylesheet(actor: Actor = Depends(reader)) -> Response:
    return Response(report.css(), media_type="text/css; charset=utf-8")
