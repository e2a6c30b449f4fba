"""What a console handler needs, declared once (after the FastAPI full-stack template's
``api/deps.py``), so that a handler reads ``def page(db: Db, actor: CurrentActor, now: Now)``.

- ``Ctx``: the console's run-time context (:mod:`console.context`).
- ``Db``: the request's database session. It is committed when the handler returns and rolled
  back when it raises, both before the response goes out (``scope="function"``: a redirect
  never reaches the browser ahead of the change it reports). A handler that acts on the commit
  (sends the notices a change queued) calls ``db.commit()`` first; one that shows a page
  after a refused change calls ``db.rollback()`` first.
- ``Now``: the one clock: ``ctx.extra["clock"]`` when the context has one (tests), else the
  wall clock; always aware (a naive time is taken as UTC).
- ``CurrentActor``: the logged-in staff member (:func:`console.auth.actor_of`); without one
  the request goes to the login page. ``CsrfActor``: the same, for a request that changes
  something: it carries the session's CSRF token (``X-CSRF-Token`` header or form field
  ``csrf_token``) and comes from our own origin. ``ApiWriter``: the JSON API's, whose token
  comes in the header only.
- Roles: :func:`role` is the one role check, a dependency (``Annotated[Actor, role(...)]``);
  :func:`require` makes it inside a handler and :func:`allowed` says whether it would pass
  (what a page offers). The role groups are named here. A department account reaches its own
  department's tickets only (:func:`own_department`, :func:`handled_ticket`).

Refusals are :class:`~console.auth.LoginRequired` and :class:`~console.auth.Forbidden`;
:mod:`console.web` answers them with a page, or with JSON (``detail`` in Chinese) under
``/console/api/`` and to requests that ask for JSON.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from console.auth import (
    COOKIE,
    NOT_ALLOWED,
    Actor,
    Forbidden,
    LoginRequired,
    actor_of,
    same_origin,
    tokens_match,
)
from console.context import ConsoleContext, get_ctx
from hotline import tickets
from hotline.db import session_scope
from hotline.models import StaffRole, Ticket

ANY_STAFF = tuple(StaffRole)
CHAT_STAFF = (StaffRole.OPERATOR, StaffRole.SUPERVISOR, StaffRole.ADMIN)
DISPATCHERS = CHAT_STAFF  # 改派 is the dispatchers' decision, never the department's
SUPERVISORS = (StaffRole.SUPERVISOR, StaffRole.ADMIN)
ADMINS = (StaffRole.ADMIN,)
REPORT_READERS = (StaffRole.SUPERVISOR, StaffRole.ADMIN, StaffRole.DEPARTMENT)

LOGIN_EXPIRED = "登录已过期，请重新登录。"
CSRF_FAILED = "请求已失效（安全校验未通过），请刷新页面后重试。"
NO_DEPARTMENT = "您的账号未设置所属部门，请联系管理员。"
OTHER_DEPARTMENT = "该工单不属于您的部门，无权查看或办理。"
OTHER_DEPARTMENT_LIST = "只能查看本部门的工单。"
ONLY_DISPATCHERS = "只有话务员、督办人员或管理员可以改派工单。"

Ctx = Annotated[ConsoleContext, Depends(get_ctx)]


def get_db(ctx: Ctx) -> Iterator[Session]:
    with session_scope(ctx.db_url) as session:
        yield session


Db = Annotated[Session, Depends(get_db, scope="function")]


def get_now(ctx: Ctx) -> datetime:
    clock = ctx.extra.get("clock")
    now = clock() if callable(clock) else datetime.now(timezone.utc)
    return now if now.tzinfo else now.replace(tzinfo=timezone.utc)


Now = Annotated[datetime, Depends(get_now)]


# --- who is asking ------------------------------------------------------------------------


def current_actor(request: Request) -> Actor:
    actor = actor_of(request)
    if actor is None:
        path = request.url.path + ("?" + request.url.query if request.url.query else "")
        raise LoginRequired(path, expired=COOKIE in request.cookies)
    request.state.actor = actor
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]


def _check_csrf(request: Request, actor: Actor, given: str | None) -> Actor:
    if not tokens_match(given, actor.csrf) or not same_origin(request):
        raise Forbidden(CSRF_FAILED)
    return actor


async def csrf_actor(request: Request, actor: CurrentActor) -> Actor:
    given = request.headers.get("x-csrf-token")
    if given is None:
        value = (await request.form()).get("csrf_token")
        given = value if isinstance(value, str) else None
    return _check_csrf(request, actor, given)


def api_writer(request: Request, actor: CurrentActor) -> Actor:
    return _check_csrf(request, actor, request.headers.get("x-csrf-token") or "")


CsrfActor = Annotated[Actor, Depends(csrf_actor)]
ApiWriter = Annotated[Actor, Depends(api_writer)]


# --- roles --------------------------------------------------------------------------------


def allowed(actor: Actor, roles: tuple[StaffRole, ...]) -> bool:
    return actor.role in roles


def require(actor: Actor, roles: tuple[StaffRole, ...], message: str = NOT_ALLOWED) -> None:
    if not allowed(actor, roles):
        raise Forbidden(message)


def role(*roles: StaffRole, message: str = NOT_ALLOWED, write: bool = False) -> Any:
    """The one role check, as a dependency: ``actor: Annotated[Actor, role(*SUPERVISORS)]``.

    ``write``: the request changes something, so its CSRF token is checked before the role.
    """
    base = Depends(csrf_actor if write else current_actor)

    def guard(actor: Actor = base) -> Actor:
        require(actor, roles, message)
        return actor

    return Depends(guard)


def own_department(actor: Actor) -> int | None:
    """The only department ``actor`` may see, or None for roles that see every ticket.

    A department account without a department would otherwise match the tickets that have
    none; it is refused instead.
    """
    if actor.role is not StaffRole.DEPARTMENT:
        return None
    if actor.department_id is None:
        raise Forbidden(NO_DEPARTMENT)
    return actor.department_id


def may_handle(actor: Actor, ticket: Ticket) -> bool:
    """Whether ``actor`` may see and act on ``ticket`` (departments: their own only)."""
    if actor.role is not StaffRole.DEPARTMENT:
        return True
    return actor.department_id is not None and ticket.department_id == actor.department_id


def handled_ticket(db: Session, number: str, actor: Actor) -> Ticket:
    """The ticket ``number`` if ``actor`` may handle it (``TicketNotFound``, Forbidden)."""
    ticket = tickets.by_number(db, number)
    if not may_handle(actor, ticket):
        raise Forbidden(OTHER_DEPARTMENT)
    return ticket
