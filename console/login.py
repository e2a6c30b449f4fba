"""Login, logout and the landing redirect."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console import auth, login_limit
from console.deps import CsrfActor, Ctx, CurrentActor, Db
from console.web import HOME, render
from hotline.models import StaffRole
from hotline.staff import StaffError, authenticate, set_password

router = APIRouter(prefix="/console")


def _login_page(request: Request, ctx: Ctx, error: str | None, username: str = "",
                next_url: str = "/console/", status_code: int = 200) -> Response:
    token = request.cookies.get(auth.LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = render(request, "login.html", None, status_code=status_code, error=error,
                      username=username, next_url=next_url, csrf_token=token)
    response.set_cookie(auth.LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                        secure=auth.secure_cookie(ctx, request), path="/console")
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, ctx: Ctx, next: str = "/console/", expired: int = 0) -> Response:
    if auth.actor_of(request) is not None:
        return RedirectResponse(auth.safe_next(next), status_code=303)
    return _login_page(request, ctx, "登录已过期，请重新登录。" if expired else None,
                       next_url=auth.safe_next(next))


@router.post("/login")
def login(
    request: Request,
    ctx: Ctx,
    db: Db,
    username: str = Form(""),
    password: str = Form(""),
    csrf_token: str = Form(""),
    next: str = Form("/console/"),
) -> Response:
    next_url = auth.safe_next(next)
    username = username.strip()[:50]
    cookie = request.cookies.get(auth.LOGIN_CSRF_COOKIE, "")
    if not auth.tokens_match(csrf_token, cookie) or not auth.same_origin(request):
        return _login_page(request, ctx, "页面已过期，请重新输入。", username, next_url, 403)
    if not username or not password:
        return _login_page(request, ctx, "请输入用户名和密码。", username, next_url, 400)
    ip = auth.client_ip(request)
    refusal = login_limit.begin(ctx.redis, username, ip)  # counted before the check
    if refusal is not None:
        return _login_page(request, ctx, refusal, username, next_url, 429)
    staff = authenticate(db, username, password[:200])
    token = auth.start_session(ctx, staff) if staff is not None else None
    role = staff.role if staff is not None else None
    db.commit()
    if token is None:
        login_limit.failed(ctx.redis, username, ip)
        return _login_page(request, ctx, "用户名或密码错误。", username, next_url, 401)
    login_limit.succeeded(ctx.redis, username, ip)
    target = next_url if next_url != "/console/" else HOME[StaffRole(role)]
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(auth.COOKIE, token, httponly=True, samesite="strict",
                        secure=auth.secure_cookie(ctx, request), path="/console",
                        max_age=ctx.settings.console_session_idle_min * 60)
    response.delete_cookie(auth.LOGIN_CSRF_COOKIE, path="/console")
    return response


@router.post("/logout")
def logout(ctx: Ctx, actor: CsrfActor) -> Response:
    auth.end_session(ctx, actor.token_hash)
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(auth.COOKIE, path="/console")
    return response


@router.get("/")
def home(actor: CurrentActor) -> Response:
    return RedirectResponse(HOME[actor.role], status_code=303)


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, actor: CurrentActor) -> Response:
    return render(request, "account.html", actor, title="我的账号", error=None)


@router.post("/account/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    ctx: Ctx,
    db: Db,
    actor: CsrfActor,
    current: str = Form(""),
    new: str = Form(""),
    again: str = Form(""),
) -> Response:
    error = None
    if new != again:
        error = "两次输入的新密码不一致。"
    elif authenticate(db, actor.username, current[:200]) is None:
        error = "当前密码不正确。"
    else:
        try:
            set_password(db, actor.staff_id, new)
        except StaffError as exc:
            error = str(exc)
    db.commit()
    if error:
        return render(request, "account.html", actor, status_code=400, title="我的账号",
                      error=error)
    ended = auth.end_sessions(ctx, actor.staff_id, keep=actor.token_hash)
    return render(request, "account.html", actor, title="我的账号", error=None,
                  flash="密码已修改，下次登录请使用新密码。"
                  + (f"您在其他地方的 {ended} 个登录已退出。" if ended else ""))
