"""Hot issues (热点问题) in the console: the list, one issue, and the supervisors' steps.

- ``GET /console/hot`` (``?state=open|closed|all``): issues with their size, places,
  departments, trend and 督办 deadline; ``GET /console/hot/panel`` is the dashboard's
  panel alone (refreshed live when a new issue appears).
- ``GET /console/hot/{id}``: the members (tickets and declined consult questions), the
  trail and the steps: 确认 / 开始处置 / 关闭 / 重新打开 (``POST …/state``), 督办 with one
  deadline (``…/supervise``), merge another issue into this one (``…/merge``), take a
  wrongly grouped member out (``…/drop``).

Supervisors and admins only. Every step is :mod:`hotline.hot.service`'s (an event per
step) and is announced on the live stream, so open dashboards refresh.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from console import charts
from console.api.tickets import request_now
from console.auth import Actor, post_roles, require_roles
from console.context import get_ctx
from console.web import render
from hotline import live, sla
from hotline.db import session_scope
from hotline.hot import service
from hotline.hot.settings import get_hot_settings
from hotline.models import HotIssueState, StaffRole

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/console")

SUPERVISORS = (StaffRole.SUPERVISOR, StaffRole.ADMIN)
reader = require_roles(*SUPERVISORS)
writer = post_roles(*SUPERVISORS, message="只有督办人员和管理员可以处理热点问题。")
STATES = {"open": "未关闭", "closed": "已关闭", "all": "全部"}
OK = {
    "state": "热点状态已更新。", "supervise": "已对该热点督办，所有成员工单都会显示督办期限。",
    "merge": "已合并热点。", "drop": "已将该工单移出热点。",
}
NOTE_MAX = 500
PANEL_LIMIT = 10  # the dashboard shows the most recently active issues; /console/hot all
LIVE_KIND = "hot_issue"


def spark(view: service.IssueView) -> Any:
    return charts.sparkline([n for _, n in view.trend], title=f"热点 #{view.id} 每日反映件数")


def publish(request: Request, issue_id: int) -> None:
    """Tell open dashboards (live stream) that a hot issue changed."""
    try:
        live.publish(get_ctx(request).redis, f"hot:{issue_id}", LIVE_KIND)
    except Exception:  # noqa: BLE001 - the change is saved; pages also refresh on their own
        logger.warning("hot issue %s: live update not published", issue_id, exc_info=True)


@router.get("/hot", response_class=HTMLResponse)
def hot_list(request: Request, state: str = "open", actor: Actor = Depends(reader)) -> Response:
    state = state if state in STATES else "open"
    now = request_now(request)
    with session_scope(get_ctx(request).db_url) as session:
        if state == "open":
            issues = service.active_issues(session, now)
        elif state == "closed":
            issues = service.list_issues(session, now=now, states=(HotIssueState.CLOSED.value,))
        else:
            issues = service.list_issues(session, now=now)
    return render(request, "hot_list.html", actor, title="热点问题", issues=issues,
                  state=state, states=STATES, spark=spark, rule=get_hot_settings())


@router.get("/hot/panel", response_class=HTMLResponse)
def hot_panel(request: Request, actor: Actor = Depends(reader)) -> Response:
    with session_scope(get_ctx(request).db_url) as session:
        issues = service.active_issues(session, request_now(request))
    return render(request, "hot_panel.html", actor, issues=issues, spark=spark,
                  panel_limit=PANEL_LIMIT)


def _detail(request: Request, actor: Actor, issue_id: int, *, status_code: int = 200,
            flash: str | None = None, flash_kind: str = "ok") -> Response:
    now = request_now(request)
    with session_scope(get_ctx(request).db_url) as session:
        try:
            view = service.issue_detail(session, issue_id, now)
        except service.HotIssueNotFound as exc:
            return render(request, "error.html", actor, status_code=404, title="热点不存在",
                          message=exc.message)
        others = [v for v in service.active_issues(session, now) if v.id != issue_id]
    chart = charts.trend_chart(
        [d.strftime("%m-%d") for d, _ in view.trend],
        [charts.Series("反映件数", [n for _, n in view.trend], charts.RED)],
        title=f"热点 #{view.id} 每日反映件数", width=640, height=200, css_class="trend")
    today = sla.as_local(now).date()
    return render(request, "hot_detail.html", actor, status_code=status_code,
                  title=f"热点问题 #{view.id}", h=view, others=others, chart=chart,
                  flash=flash, flash_kind=flash_kind, note_max=NOTE_MAX,
                  min_day=today.isoformat(), steps=_steps(view))


STEPS = {
    HotIssueState.NEW: [("acknowledged", "确认热点"), ("handling", "开始处置"), ("closed", "关闭热点")],
    HotIssueState.ACKNOWLEDGED: [("handling", "开始处置"), ("closed", "关闭热点")],
    HotIssueState.HANDLING: [("closed", "关闭热点")],
    HotIssueState.CLOSED: [("acknowledged", "重新打开")],
}


def _steps(view: service.IssueView) -> list[tuple[str, str]]:
    """The state buttons this issue offers: (target state, label)."""
    if view.merged_into_id is not None:
        return []
    return STEPS[HotIssueState(view.state)]


@router.get("/hot/{issue_id}", response_class=HTMLResponse)
def hot_detail(request: Request, issue_id: int, ok: str = "",
               actor: Actor = Depends(reader)) -> Response:
    return _detail(request, actor, issue_id, flash=OK.get(ok))


def _act(request: Request, actor: Actor, issue_id: int, ok: str,
         work: Callable[[Session], Any]) -> Response:
    try:
        with session_scope(get_ctx(request).db_url) as session:
            work(session)
    except service.HotIssueNotFound as exc:
        return render(request, "error.html", actor, status_code=404, title="热点不存在",
                      message=exc.message)
    except service.HotIssueError as exc:
        return _detail(request, actor, issue_id, status_code=409, flash=exc.message,
                       flash_kind="error")
    publish(request, issue_id)
    return RedirectResponse(f"/console/hot/{issue_id}?ok={ok}", status_code=303)


@router.post("/hot/{issue_id}/state")
def change_state(request: Request, issue_id: int, to: str = Form(""), note: str = Form(""),
                 actor: Actor = Depends(writer)) -> Response:
    return _act(request, actor, issue_id, "state", lambda s: service.set_state(
        s, issue_id, to, actor=actor.who, now=request_now(request),
        note=note.strip()[:NOTE_MAX] or None))


@router.post("/hot/{issue_id}/supervise")
def supervise(request: Request, issue_id: int, deadline: str = Form(""), note: str = Form(""),
              actor: Actor = Depends(writer)) -> Response:
    def work(session: Session) -> None:
        try:
            day = date.fromisoformat(deadline.strip())
        except ValueError:
            raise service.HotIssueError("请选择督办期限（年-月-日）。") from None
        service.supervise(session, issue_id, day, actor=actor.who, now=request_now(request),
                          note=note.strip()[:NOTE_MAX] or None)

    return _act(request, actor, issue_id, "supervise", work)


@router.post("/hot/{issue_id}/merge")
def merge(request: Request, issue_id: int, source: str = Form(""),
          actor: Actor = Depends(writer)) -> Response:
    def work(session: Session) -> None:
        if not source.strip().lstrip("#").isdigit():
            raise service.HotIssueError("请选择要并入的热点。")
        service.merge(session, issue_id, int(source.strip().lstrip("#")), actor=actor.who,
                      now=request_now(request))

    return _act(request, actor, issue_id, "merge", work)


@router.post("/hot/{issue_id}/drop")
def drop(request: Request, issue_id: int, doc: str = Form(""),
         actor: Actor = Depends(writer)) -> Response:
    def work(session: Session) -> None:
        if not doc.strip().isdigit():
            raise service.HotIssueError("请选择要移出的工单。")
        service.drop_member(session, issue_id, int(doc), actor=actor.who,
                            now=request_now(request))

    return _act(request, actor, issue_id, "drop", work)
