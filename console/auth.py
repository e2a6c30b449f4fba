"""Console login: argon2 passwords, server-side sessions in Redis, CSRF, login rate limits.

- The session cookie holds a random token; Redis holds the session under the token's
  SHA-256 (a leaked Redis dump does not give usable cookies). Cookies are HttpOnly,
  SameSite=Strict, and Secure on https (or when ``HOTLINE_CONSOLE_SECURE_COOKIE`` says so).
- A session ends after ``console_session_idle_min`` minutes without use, at logout, as
  soon as the account is deactivated or its role changes, and when its password is changed
  (the account's other sessions; an admin's reset ends all of them). The live-event stream
  re-checks its session on every turn and ends with it.
- Every state-changing request carries the session's CSRF token (form field ``csrf_token``
  or header ``X-CSRF-Token``); a cross-site Origin is refused as well. The checks that
  handlers declare (login, CSRF, roles) are :mod:`console.deps`'s.
- Login attempts are counted before any password is checked, per client address and
  account, per address and per account (:mod:`console.login_limit`): an attacker's address
  is refused for a quarter of an hour, the owner logging in from elsewhere is not.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from fastapi import Request

from console import login_limit
from console.context import ConsoleContext, get_ctx
from hotline import redis_keys
from hotline.db import session_scope
from hotline.models import Staff, StaffRole

COOKIE = "hotline_console"
LOGIN_CSRF_COOKIE = "hotline_login_csrf"
SESSION_PREFIX = redis_keys.CONSOLE_SESSION
MAX_FAILS_USER = login_limit.MAX_FAILS_USER  # attempts of one address on one account


@dataclass(frozen=True)
class Actor:
    """The logged-in staff member of a request."""

    staff_id: int
    username: str
    display_name: str
    role: StaffRole
    department_id: int | None
    department: str | None
    csrf: str
    token_hash: str

    @property
    def who(self) -> str:
        """How ticket events and transcripts name this person."""
        return f"staff:{self.display_name}"


class LoginRequired(Exception):
    def __init__(self, next_url: str, expired: bool) -> None:
        super().__init__("login required")
        self.next_url = next_url
        self.expired = expired


NOT_ALLOWED = "您没有权限访问该页面。"


class Forbidden(Exception):
    def __init__(self, message: str = NOT_ALLOWED) -> None:
        super().__init__(message)
        self.message = message


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def secure_cookie(ctx: ConsoleContext, request: Request) -> bool:
    if ctx.settings.console_secure_cookie is not None:
        return ctx.settings.console_secure_cookie
    return request.url.scheme == "https"


# --- sessions -------------------------------------------------------------------------


def start_session(ctx: ConsoleContext, staff: Staff) -> str:
    token = secrets.token_urlsafe(32)
    data = {
        "staff_id": staff.id, "username": staff.username, "display_name": staff.display_name,
        "role": staff.role, "department_id": staff.department_id,
        "department": staff.department.name if staff.department else None,
        "csrf": secrets.token_urlsafe(24), "created": time.time(),
    }
    ctx.redis.set(SESSION_PREFIX + _hash(token), json.dumps(data, ensure_ascii=False),
                  ex=ctx.settings.console_session_idle_min * 60)
    return token


def end_session(ctx: ConsoleContext, token_hash: str) -> None:
    ctx.redis.delete(SESSION_PREFIX + token_hash)


def end_sessions(ctx: ConsoleContext, staff_id: int, keep: str | None = None) -> int:
    """Delete every console session of ``staff_id`` (but the one hashed ``keep``)."""
    ended = 0
    for key in ctx.redis.scan_iter(match=SESSION_PREFIX + "*", count=500):
        name = key.decode() if isinstance(key, bytes) else str(key)
        if keep and name == SESSION_PREFIX + keep:
            continue
        raw = ctx.redis.get(key)
        try:
            owner = json.loads(raw)["staff_id"] if raw else None
        except (ValueError, KeyError, TypeError):
            continue
        if owner == staff_id:
            ctx.redis.delete(key)
            ended += 1
    return ended


async def session_alive(ctx: ConsoleContext, token_hash: str) -> bool:
    """Whether the session still exists and its account is still what it was (for the
    long-lived event stream, which has no request to check per update)."""
    raw = await ctx.aredis.get(SESSION_PREFIX + token_hash)
    if raw is None:
        return False
    return await asyncio.to_thread(_still_valid, ctx, json.loads(raw))


def _still_valid(ctx: ConsoleContext, data: dict[str, object]) -> bool:
    with session_scope(ctx.db_url) as session:
        staff = session.get(Staff, data["staff_id"])
        return bool(staff and staff.active and staff.role == data["role"]
                    and staff.department_id == data["department_id"])


def actor_of(request: Request) -> Actor | None:
    """The request's logged-in staff member (refreshing the idle timeout), else None."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    ctx = get_ctx(request)
    key = SESSION_PREFIX + _hash(token)
    raw = ctx.redis.get(key)
    if raw is None:
        return None
    data = json.loads(raw)
    if not _still_valid(ctx, data):
        ctx.redis.delete(key)
        return None
    ctx.redis.expire(key, ctx.settings.console_session_idle_min * 60)
    return Actor(int(data["staff_id"]), data["username"], data["display_name"],
                 StaffRole(data["role"]), data["department_id"], data["department"],
                 data["csrf"], _hash(token))


# --- CSRF -----------------------------------------------------------------------------


def tokens_match(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a token from the request (any characters: a non-ASCII
    header or form value is simply not the token)."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8", "replace"))


def same_origin(request: Request) -> bool:
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.url.netloc


# --- login rate limit (see console.login_limit) ----------------------------------------


def client_ip(request: Request) -> str:
    """The client's address (through the configured trusted proxies only)."""
    return login_limit.client_ip(request, get_ctx(request).settings.console_trusted_proxies)


def login_redirect(next_url: str, expired: bool) -> str:
    url = "/console/login?next=" + quote(next_url, safe="")
    return url + ("&expired=1" if expired else "")


def safe_next(next_url: str | None) -> str:
    """Only same-site paths under /console (no open redirect)."""
    if not next_url or not next_url.startswith("/console") or next_url.startswith("//"):
        return "/console/"
    return next_url
