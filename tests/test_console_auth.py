"""Console login, sessions, roles, CSRF and rate limits, over HTTP against real Redis/SQLite."""

from __future__ import annotations

import pytest

from console import auth
from hotline.db import session_scope
from hotline.models import Staff
from hotline.staff import StaffError, authenticate, create_staff, set_active
from tests.console_helpers import CSRF_RE, PASSWORD, ConsoleHarness


def _login_post(client, username: str, password: str):  # type: ignore[no-untyped-def]
    page = client.get("/console/login")
    token = CSRF_RE.search(page.text).group(1)
    return client.post("/console/login", data={"username": username, "password": password,
                                                "csrf_token": token, "next": "/console/"})


def test_password_is_argon2_hashed_and_checked(console_app: ConsoleHarness) -> None:
    with session_scope(console_app.db_url) as session:
        staff = session.query(Staff).filter_by(username="op1").one()
        assert staff.password_hash.startswith("$argon2id$")
        assert PASSWORD not in staff.password_hash
        assert authenticate(session, "OP1", PASSWORD) is not None  # usernames ignore case
        assert authenticate(session, "op1", "wrong-password-1") is None
        assert authenticate(session, "nobody", PASSWORD) is None


@pytest.mark.parametrize(("username", "password", "role", "dept", "message"), [
    ("x", PASSWORD, "operator", None, "用户名"),
    ("newop", "short1", "operator", None, "至少"),
    ("newop", "onlyletterspassword", "operator", None, "字母和数字"),
    ("op1", PASSWORD, "operator", None, "已被使用"),
    ("newdept", PASSWORD, "department", None, "所属部门"),
    ("newop", PASSWORD, "root", None, "未知的角色"),
])
def test_bad_account_input(console_app: ConsoleHarness, username: str, password: str,
                           role: str, dept: int | None, message: str) -> None:
    with session_scope(console_app.db_url) as session, pytest.raises(StaffError, match=message):
        create_staff(session, username, "某人", password, role, dept)


def test_last_admin_cannot_be_deactivated(console_app: ConsoleHarness) -> None:
    with session_scope(console_app.db_url) as session:
        admin = session.query(Staff).filter_by(username="admin").one()
        with pytest.raises(StaffError, match="最后一个管理员"):
            set_active(session, admin.id, False)


def test_login_sets_a_strict_httponly_cookie_and_lands_on_the_role_home(
        console_app: ConsoleHarness) -> None:
    client = console_app.client()
    response = _login_post(client, "zhujian", PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/tickets"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert "Secure" not in cookie  # plain http in tests; https sets Secure
    https = console_app.client()
    https.base_url = "https://testserver"  # type: ignore[misc]
    secure = _login_post(https, "op1", PASSWORD)
    assert "Secure" in secure.headers["set-cookie"]


def test_wrong_password_then_rate_limited(console_app: ConsoleHarness) -> None:
    client = console_app.client()
    for _ in range(auth.MAX_FAILS_USER):
        response = _login_post(client, "op1", "wrong-password-1")
        assert response.status_code == 401
        assert "用户名或密码错误" in response.text
    blocked = _login_post(client, "op1", PASSWORD)  # even the right password now waits
    assert blocked.status_code == 429
    assert "15 分钟" in blocked.text
    assert _login_post(client, "op2", PASSWORD).status_code == 303  # others are not blocked


def test_login_form_without_its_csrf_token_is_refused(console_app: ConsoleHarness) -> None:
    client = console_app.client()
    client.get("/console/login")
    response = client.post("/console/login", data={"username": "op1", "password": PASSWORD,
                                                   "csrf_token": "forged"})
    assert response.status_code == 403
    assert auth.COOKIE not in response.cookies


def test_pages_need_login_and_expired_sessions_say_so(console_app: ConsoleHarness) -> None:
    client = console_app.client()
    response = client.get("/console/")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/login?next=")
    logged = console_app.login("op1")
    console_app.redis.flushdb()  # every session gone (as after the idle timeout)
    expired = logged.get("/console/")
    assert expired.status_code == 303 and "expired=1" in expired.headers["location"]
    page = logged.get(expired.headers["location"])
    assert "登录已过期" in page.text


def test_deactivated_account_loses_its_session(console_app: ConsoleHarness) -> None:
    client = console_app.login("op2")
    with session_scope(console_app.db_url) as session:
        staff = session.query(Staff).filter_by(username="op2").one()
        set_active(session, staff.id, False)
    assert client.get("/console/").status_code == 303
    assert _login_post(console_app.client(), "op2", PASSWORD).status_code == 401


def test_logout_needs_csrf_and_ends_the_session(console_app: ConsoleHarness) -> None:
    client = console_app.login("op1")
    forged = client.post("/console/logout", data={"csrf_token": "nope"})
    assert forged.status_code == 403
    assert "安全校验" in forged.text
    assert client.get("/console/").status_code == 303 and "login" not in client.get(
        "/console/").headers["location"]
    out = client.post("/console/logout", data={"csrf_token": client.csrf})
    assert out.status_code == 303
    client.cookies.set(auth.COOKIE, out.request.headers["cookie"].split("=", 1)[1].split(";")[0],
                       path="/console")
    again = client.get("/console/")
    assert "/console/login" in again.headers["location"]


def test_cross_site_origin_is_refused(console_app: ConsoleHarness) -> None:
    client = console_app.login("op1")
    response = client.post("/console/logout", data={"csrf_token": client.csrf},
                           headers={"Origin": "https://evil.example"})
    assert response.status_code == 403


def test_open_redirect_is_not_followed(console_app: ConsoleHarness) -> None:
    client = console_app.client()
    page = client.get("/console/login?next=https://evil.example/")
    assert 'value="/console/"' in page.text
    assert auth.safe_next("//evil.example") == "/console/"


def test_security_headers(console_app: ConsoleHarness) -> None:
    response = console_app.client().get("/console/login")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
