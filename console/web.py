"""Templates, the console's installation into an app, and its error pages."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from console import deps
from console.api.tickets import BAD_BODY
from console.auth import Actor, Forbidden, LoginRequired, login_redirect
from hotline.models import StaffRole
from hotline.sla import as_local

HERE = Path(__file__).parent
_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,  # every value is escaped unless a template says otherwise (it never does)
    undefined=jinja2.StrictUndefined,
)


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return as_local(value).strftime(fmt)


def duration_zh(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} 秒"
    if seconds < 3600:
        return f"{seconds // 60} 分 {seconds % 60} 秒"
    return f"{seconds // 3600} 小时 {seconds % 3600 // 60} 分"


_env.filters["local"] = local_time
_env.filters["duration"] = duration_zh
templates = Jinja2Templates(env=_env)

# (path, label, roles) of the navigation bar
NAV: tuple[tuple[str, str, tuple[StaffRole, ...]], ...] = (
    ("/console/queue", "会话", deps.CHAT_STAFF),
    ("/console/tickets", "工单", deps.ANY_STAFF),
    ("/console/kb", "知识库", deps.ANY_STAFF),
    ("/console/dashboard", "看板", deps.SUPERVISORS),
    ("/console/hot", "热点", deps.SUPERVISORS),
    ("/console/reports", "通报", deps.REPORT_READERS),
    ("/console/users", "账号", deps.ADMINS),
)
HOME = {
    StaffRole.OPERATOR: "/console/queue",
    StaffRole.DEPARTMENT: "/console/tickets",
    StaffRole.SUPERVISOR: "/console/dashboard",
    StaffRole.ADMIN: "/console/dashboard",
}


def render(request: Request, template: str, actor: Actor | None, status_code: int = 200,
           **context: Any) -> HTMLResponse:
    nav = [(p, label) for p, label, roles in NAV
           if actor is not None and deps.allowed(actor, roles)]
    return templates.TemplateResponse(
        request, template,
        {"actor": actor, "nav": nav, "path": request.url.path, "flash": None, **context},
        status_code=status_code,
    )


API = "/console/api/"  # the JSON API answers every refusal as JSON


def _wants_html(request: Request) -> bool:
    if request.url.path.startswith(API):
        return False
    return "text/html" in request.headers.get("accept", "") or request.method == "GET"


def _wants_json(request: Request) -> bool:
    return (request.url.path.startswith(API) or bool(request.headers.get("x-csrf-token"))
            or "application/json" in request.headers.get("accept", ""))


_HEADERS = (
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
     b"frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
)


class SecurityHeaders:
    """Pure ASGI (no buffering, so server-sent events stream): strict headers on /console."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/console"):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in _HEADERS if k not in present]
                if b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def install(app: FastAPI, ctx_provider: Any) -> None:
    """Serve the console under /console on ``app``; ``ctx_provider()`` gives the context."""
    from console import routes  # the page modules (imported here: no work at import time)

    app.state.console_ctx = ctx_provider
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
    for router in routes.routers():
        app.include_router(router)
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        if _wants_html(request):
            return RedirectResponse(login_redirect(exc.next_url, exc.expired), status_code=303)
        return JSONResponse({"detail": deps.LOGIN_EXPIRED}, status_code=401)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        # A body FastAPI could not parse is a 400 in English: the JSON API answers in Chinese.
        if exc.status_code == 400 and request.url.path.startswith(API):
            return JSONResponse({"detail": BAD_BODY}, status_code=400)
        return await http_exception_handler(request, exc)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": exc.message}, status_code=403)
        actor = getattr(request.state, "actor", None)
        return render(request, "error.html", actor, status_code=403, title="无权访问",
                      message=exc.message)
