"""Staff accounts (admin only): list, create, reset a password, deactivate / reactivate.

All rules live in :mod:`hotline.staff` (username and password policy, department users
need a department, the last admin stays active); this module shows its Chinese errors
with the typed values kept (never the password). Successful posts redirect back to the
list with a fixed message code (``?done=created&id=7``), so a reload does not post again
and no free text travels in the URL.

A password reset ends the account's open console sessions (except the admin's own
current one); deactivation ends them through the session check in :mod:`console.auth`.
An admin cannot deactivate their own account here (another admin must do it).
Deactivating an operator also gives the chats they own back to the bot. Department users
can be given every department of the routing table, also one no ticket has reached yet.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from console.auth import Actor, end_sessions
from console.context import ConsoleContext
from console.deps import ADMINS, Ctx, Db, role
from console.web import render
from hotline import handoff, live, routing, tickets
from hotline.db import session_scope
from hotline.models import Staff, StaffRole
from hotline.staff import (
    MIN_PASSWORD,
    StaffError,
    all_staff,
    create_staff,
    set_active,
    set_password,
    set_telegram,
    view,
)
from hotline.ticket_queries import department_names

log = logging.getLogger(__name__)
router = APIRouter(prefix="/console")

DONE = {
    "created": "已创建账号 {username}（{name}），请把初始密码当面或电话告知本人。",
    "password": "已重置 {username}（{name}）的密码，其已登录的会话已退出。",
    "deactivated": "已停用 {username}（{name}），其登录已失效，其接待中的会话已交回智能客服。",
    "activated": "已启用 {username}（{name}）。",
    "telegram": "已更新 {username}（{name}）的值班群 Telegram 绑定。",
}
EMPTY_FORM = {"username": "", "display_name": "", "role": "", "department_id": ""}


Admin = Annotated[Actor, role(*ADMINS)]
AdminPost = Annotated[Actor, role(*ADMINS, write=True)]


def _page(request: Request, ctx: ConsoleContext, db: Session, actor: Actor, *,
          form: dict[str, str] | None = None, flash: str | None = None, flash_kind: str = "ok",
          status_code: int = 200, focus: int | None = None) -> Response:
    staff = [view(s) for s in all_staff(db)]
    departments = department_choices(db, ctx.settings.routing_file)
    return render(
        request, "users.html", actor, status_code=status_code, title="账号管理",
        staff=staff, departments=departments, roles=[(r.value, r.zh) for r in StaffRole],
        form=form or dict(EMPTY_FORM), flash=flash, flash_kind=flash_kind, focus=focus,
        min_password=MIN_PASSWORD,
    )


NEW_DEPARTMENT = "route:"  # option value of a routing-table department with no row yet


def _routed(routing_file: Path | None) -> list[str]:
    """Every department of the routing table, in its order."""
    taxonomy = routing.load_taxonomy(routing_file)
    return list(dict.fromkeys(t.department for t in taxonomy.topics.values()))


def department_choices(session: Session, routing_file: Path | None) -> list[tuple[str, str]]:
    """(option value, name): the routing table's departments, then any others on file.

    A department no ticket has reached yet has no row; its value names it and the row is
    made when an account is created for it.
    """
    rows = {name: i for i, name in department_names(session).items()}
    routed = _routed(routing_file)
    choices = [(str(rows[n]) if n in rows else NEW_DEPARTMENT + n, n) for n in routed]
    return choices + [(str(i), n) for n, i in rows.items() if n not in routed]


def _department_id(session: Session, value: str, routing_file: Path | None) -> int | None:
    """The department of an option value (a routing-table one is created if new)."""
    value = value.strip()
    if value.startswith(NEW_DEPARTMENT):
        name = value.removeprefix(NEW_DEPARTMENT)
        if name not in _routed(routing_file):
            raise StaffError("所选的部门不在分派表中，请重新选择。")
        return tickets.department_named(session, name).id
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _done(staff_id: int, code: str) -> Response:
    return RedirectResponse(f"/console/users?done={code}&id={staff_id}", status_code=303)


@router.get("/users", response_class=HTMLResponse)
def users(request: Request, ctx: Ctx, db: Db, actor: Admin, done: str = "",
          id: int | None = None) -> Response:
    flash = None
    if done in DONE and id is not None:
        staff = db.get(Staff, id)
        if staff is not None:
            flash = DONE[done].format(username=staff.username, name=staff.display_name)
    return _page(request, ctx, db, actor, flash=flash, focus=id)


@router.post("/users", response_class=HTMLResponse)
def create_user(
    request: Request,
    ctx: Ctx,
    db: Db,
    actor: AdminPost,
    username: str = Form(""),
    display_name: str = Form(""),
    role: str = Form(""),
    department_id: str = Form(""),
    password: str = Form(""),
) -> Response:
    form = {"username": username.strip()[:50], "display_name": display_name.strip()[:50],
            "role": role, "department_id": department_id}
    try:
        if not role:
            raise StaffError("请选择角色。")
        dept = (_department_id(db, department_id[:200], ctx.settings.routing_file)
                if role == StaffRole.DEPARTMENT.value else None)
        staff_id = create_staff(db, username, display_name, password[:500], role, dept).id
        db.commit()
    except StaffError as exc:
        db.rollback()
        return _page(request, ctx, db, actor, form=form, flash=f"未创建账号：{exc}",
                     flash_kind="error", status_code=400)
    log.info("staff account %s created by %s", form["username"], actor.username)
    return _done(staff_id, "created")


def _change(request: Request, ctx: ConsoleContext, db: Session, actor: Actor, staff_id: int,
            change: Callable[[], Staff], refused: str) -> str | Response:
    """Apply one change to an account and commit it: the account's username, or the page
    saying what was not done (``refused``) when :mod:`hotline.staff` refuses the change."""
    try:
        username = change().username
        db.commit()
    except StaffError as exc:
        db.rollback()
        return _page(request, ctx, db, actor, flash=f"{refused}：{exc}", flash_kind="error",
                     status_code=400, focus=staff_id)
    return username


@router.post("/users/{staff_id}/password", response_class=HTMLResponse)
def reset_password(request: Request, staff_id: int, ctx: Ctx, db: Db, actor: AdminPost,
                   password: str = Form("")) -> Response:
    username = _change(request, ctx, db, actor, staff_id,
                       lambda: set_password(db, staff_id, password[:500]), "未重置密码")
    if isinstance(username, Response):
        return username
    end_sessions(ctx, staff_id, keep=actor.token_hash)
    log.info("password of %s reset by %s", username, actor.username)
    return _done(staff_id, "password")


@router.post("/users/{staff_id}/telegram", response_class=HTMLResponse)
def link_telegram(request: Request, staff_id: int, ctx: Ctx, db: Db, actor: AdminPost,
                  telegram_user_id: str = Form("")) -> Response:
    username = _change(request, ctx, db, actor, staff_id,
                       lambda: set_telegram(db, staff_id, telegram_user_id[:30]), "未绑定")
    if isinstance(username, Response):
        return username
    log.info("telegram link of %s set by %s", username, actor.username)
    return _done(staff_id, "telegram")


@router.post("/users/{staff_id}/active", response_class=HTMLResponse)
async def change_active(request: Request, staff_id: int, ctx: Ctx, actor: AdminPost,
                        active: str = Form("")) -> Response:
    """Async: the released chats' bot is told at once. The database work runs in a thread,
    in sessions of its own (the sessions end, then the chats are released)."""
    want = active == "1"
    try:
        username, released = await asyncio.to_thread(_set_active, ctx, staff_id, want, actor)
    except StaffError as exc:
        return await asyncio.to_thread(
            _page_in_own_session, request, ctx, actor, flash=f"操作未完成：{exc}",
            flash_kind="error", status_code=400, focus=staff_id)
    for conversation in released:  # the deactivated operator's chats are the bot's again
        ctx.deliver(conversation)
        live.publish(ctx.redis, conversation, "console")
        await ctx.resume_bot(conversation)
    log.info("staff %s %s by %s (%d chats released)", username,
             "activated" if want else "deactivated", actor.username, len(released))
    return _done(staff_id, "activated" if want else "deactivated")


def _page_in_own_session(request: Request, ctx: ConsoleContext, actor: Actor,
                         **kwargs: Any) -> Response:
    with session_scope(ctx.db_url) as session:
        return _page(request, ctx, session, actor, **kwargs)


def _set_active(ctx: ConsoleContext, staff_id: int, want: bool,
                actor: Actor) -> tuple[str, list[str]]:
    """Apply the change; on deactivation end the sessions and release the chats owned."""
    released: list[str] = []
    with session_scope(ctx.db_url) as session:
        staff = set_active(session, staff_id, want)  # refuses the last admin
        if not want and staff_id == actor.staff_id:  # (rolled back)
            raise StaffError("不能停用自己正在使用的账号，请由另一位管理员操作。")
        username = staff.username
    if not want:  # after the commit: from now on the account can take no chat
        end_sessions(ctx, staff_id)
        with session_scope(ctx.db_url) as session:
            released = handoff.release_operator(ctx.redis, session, username, actor.username)
    return username, released
