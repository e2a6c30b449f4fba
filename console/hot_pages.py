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
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from console import charts
from console.auth import Actor
from console.context import ConsoleContext
from console.deps import SUPERVISORS, Ctx, Db, Now, role
from console.web import render
from hotline import live, sla
from hotline.hot import service
from hotline.hot.settings import get_hot_settings
from hotline.models import HotIssueState

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/console")

Reader = Annotated[Actor, role(*SUPERVISORS)]
Writer = Annotated[Actor, role(*SUPERVISORS, message="只有督办人员和管理员可以处理热点问题。",
                               write=True)]
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


def publish(ctx: ConsoleContext, issue_id: int) -> None:
    """Tell open dashboards (live stream) that a hot issue changed."""
    try:
        live.publish(ctx.redis, f"hot:{issue_id}", LIVE_KIND)
    except Exception:  # noqa: BLE001 - the change is saved; pages also refresh on their own
        logger.warning("hot issue %s: live update not published", issue_id, exc_info=True)


@router.get("/hot", response_class=HTMLResponse)
def hot_list(request: Request, db: Db, actor: Reader, now: Now, state: str = "open") -> Response:
    state = state if state in STATES else "open"
    if state == "open":
        issues = service.active_issues(db, now)
    elif state == "closed":
        issues = service.list_issues(db, now=now, states=(HotIssueState.CLOSED.value,))
    else:
        issues = service.list_issues(db, now=now)
    return render(request, "hot_list.html", actor, title="热点问题", issues=issues,
                  state=state, states=STATES, spark=spark, rule=get_hot_settings())


@router.get("/hot/panel", response_class=HTMLResponse)
def hot_panel(request: Request, db: Db, actor: Reader, now: Now) -> Response:
    return render(request, "hot_panel.html", actor, issues=service.active_issues(db, now),
                  spark=spark, panel_limit=PANEL_LIMIT)


def _not_found(request: Request, actor: Actor, exc: service.HotIssueNotFound) -> Response:
    return render(request, "error.html", actor, status_code=404, title="热点不存在",
                  message=exc.message)


def _detail(request: Request, db: Session, actor: Actor, now: datetime, issue_id: int, *,
            status_code: int = 200, flash: str | None = None, flash_kind: str = "ok") -> Response:
    try:
        view = service.issue_detail(db, issue_id, now)
    except service.HotIssueNotFound as exc:
        return _not_found(request, actor, exc)
    others = [v for v in service.active_issues(db, now) if v.id != issue_id]
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
def hot_detail(request: Request, issue_id: int, db: Db, actor: Reader, now: Now,
               ok: str = "") -> Response:
    return _detail(request, db, actor, now, issue_id, flash=OK.get(ok))


def _act(request: Request, ctx: Ctx, db: Session, actor: Actor, now: datetime, issue_id: int,
         ok: str, work: Callable[[], Any]) -> Response:
    try:
        work()
        db.commit()
    except service.HotIssueNotFound as exc:
        db.rollback()
        return _not_found(request, actor, exc)
    except service.HotIssueError as exc:
        db.rollback()
        return _detail(request, db, actor, now, issue_id, status_code=409, flash=exc.message,
                       flash_kind="error")
    publish(ctx, issue_id)
    return RedirectResponse(f"/console/hot/{issue_id}?ok={ok}", status_code=303)


@router.post("/hot/{issue_id}/state")
def change_state(request: Request, issue_id: int, ctx: Ctx, db: Db, actor: Writer, now: Now,
                 to: str = Form(""), note: str = Form("")) -> Response:
    return _act(request, ctx, db, actor, now, issue_id, "state", lambda: service.set_state(
        db, issue_id, to, actor=actor.who, now=now, note=note.strip()[:NOTE_MAX] or None))


@router.post("/hot/{issue_id}/supervise")
def supervise(request: Request, issue_id: int, ctx: Ctx, db: Db, actor: Writer, now: Now,
              deadline: str = Form(""), note: str = Form("")) -> Response:
    def work() -> None:
        try:
            day = date.fromisoformat(deadline.strip())
        except ValueError:
            raise service.HotIssueError("请选择督办期限（年-月-日）。") from None
        service.supervise(db, issue_id, day, actor=actor.who, now=now,
                          note=note.strip()[:NOTE_MAX] or None)

    return _act(request, ctx, db, actor, now, issue_id, "supervise", work)


@router.post("/hot/{issue_id}/merge")
def merge(request: Request, issue_id: int, ctx: Ctx, db: Db, actor: Writer, now: Now,
          source: str = Form("")) -> Response:
    def work() -> None:
        if not source.strip().lstrip("#").isdigit():
            raise service.HotIssueError("请选择要并入的热点。")
        service.merge(db, issue_id, int(source.strip().lstrip("#")), actor=actor.who, now=now)

    return _act(request, ctx, db, actor, now, issue_id, "merge", work)


@router.post("/hot/{issue_id}/drop")
def drop(request: Request, issue_id: int, ctx: Ctx, db: Db, actor: Writer, now: Now,
         doc: str = Form("")) -> Response:
    def work() -> None:
        if not doc.strip().isdigit():
            raise service.HotIssueError("请选择要移出的工单。")
        service.drop_member(db, issue_id, int(doc), actor=actor.who, now=now)

    return _act(request, ctx, db, actor, now, issue_id, "drop", work)
