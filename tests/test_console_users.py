"""Console account administration (/console/users): admin only, Chinese errors, CSRF."""

from __future__ import annotations

from hotline.db import session_scope
from hotline.models import Staff
from tests.console_helpers import CSRF_RE, PASSWORD, ConsoleHarness

NEW_PASSWORD = "Another-pass-2027"


def _staff_id(harness: ConsoleHarness, username: str) -> int:
    with session_scope(harness.db_url) as session:
        return session.query(Staff).filter_by(username=username).one().id


def _exists(harness: ConsoleHarness, username: str) -> bool:
    with session_scope(harness.db_url) as session:
        return session.query(Staff).filter_by(username=username).count() > 0


def _row(page: str, staff_id: int) -> str:
    return page.split(f'id="staff-{staff_id}"')[1].split("</tr>")[0]


def _can_log_in(harness: ConsoleHarness, username: str, password: str) -> bool:
    client = harness.client()
    token = CSRF_RE.search(client.get("/console/login").text).group(1)
    response = client.post("/console/login", data={
        "username": username, "password": password, "csrf_token": token, "next": "/console/"})
    return response.status_code == 303


def test_only_admins_see_or_change_accounts(console_app: ConsoleHarness) -> None:
    op1 = _staff_id(console_app, "op1")
    for username in ("op1", "boss", "zhujian"):
        client = console_app.login(username)
        assert client.get("/console/users").status_code == 403
        assert 'href="/console/users"' not in client.get("/console/account").text  # no nav
        csrf = {"csrf_token": client.csrf}
        assert client.post("/console/users", data={
            **csrf, "username": "sneaky", "display_name": "某人", "role": "admin",
            "password": PASSWORD}).status_code == 403
        assert client.post(f"/console/users/{op1}/password",
                           data={**csrf, "password": NEW_PASSWORD}).status_code == 403
        assert client.post(f"/console/users/{op1}/active",
                           data={**csrf, "active": "0"}).status_code == 403
    assert not _exists(console_app, "sneaky")
    assert _can_log_in(console_app, "op1", PASSWORD)


def test_list_shows_roles_departments_and_last_login(console_app: ConsoleHarness) -> None:
    client = console_app.login("admin")
    page = client.get("/console/users")
    assert page.status_code == 200
    assert 'href="/console/users"' in page.text  # nav entry for the admin
    row = _row(page.text, _staff_id(console_app, "zhujian"))
    assert "周住建" in row and "部门工作人员" in row and "住房和城乡建设局" in row
    assert "启用" in row and "从未登录" in row
    admin_row = _row(page.text, _staff_id(console_app, "admin"))
    assert "管理员" in admin_row and "从未登录" not in admin_row  # just logged in
    for zh in ("话务员", "督办人员"):
        assert zh in page.text
    assert "password_hash" not in page.text and "$argon2" not in page.text


def test_admin_creates_a_department_user_who_can_log_in(console_app: ConsoleHarness) -> None:
    client = console_app.login("admin")
    tax = console_app.departments["税务局"]
    response = client.post("/console/users", data={
        "csrf_token": client.csrf, "username": "Newtax", "display_name": "郑税务",
        "role": "department", "department_id": str(tax), "password": PASSWORD})
    assert response.status_code == 303
    landing = client.get(response.headers["location"])
    assert "已创建账号 newtax（郑税务）" in landing.text
    with session_scope(console_app.db_url) as session:
        staff = session.query(Staff).filter_by(username="newtax").one()
        assert staff.role == "department" and staff.department_id == tax and staff.active
    user = console_app.login("newtax")
    me = user.get("/console/account")
    assert "郑税务" in me.text and "部门工作人员" in me.text and "税务局" in me.text


def test_duplicate_username_and_weak_passwords_are_refused(console_app: ConsoleHarness) -> None:
    client = console_app.login("admin")
    base = {"csrf_token": client.csrf, "display_name": "新同事", "role": "operator",
            "department_id": "", "password": PASSWORD}
    dup = client.post("/console/users", data={**base, "username": "OP1"})
    assert dup.status_code == 400
    assert "未创建账号：用户名 op1 已被使用。" in dup.text
    assert 'value="新同事"' in dup.text  # the typed values stay
    assert 'value="operator" selected' in dup.text

    short = client.post("/console/users", data={**base, "username": "newop",
                                                  "password": "short1"})
    assert short.status_code == 400 and "密码至少 10 位" in short.text
    assert 'value="newop"' in short.text and "short1" not in short.text  # password not echoed
    letters = client.post("/console/users", data={**base, "username": "newop",
                                                   "password": "onlyletterspassword"})
    assert letters.status_code == 400 and "字母和数字" in letters.text
    no_dept = client.post("/console/users", data={**base, "username": "newdept",
                                                   "role": "department"})
    assert no_dept.status_code == 400 and "必须选择所属部门" in no_dept.text
    no_role = client.post("/console/users", data={**base, "username": "newop", "role": ""})
    assert no_role.status_code == 400 and "请选择角色" in no_role.text
    bad_name = client.post("/console/users", data={**base, "username": "新用户"})
    assert bad_name.status_code == 400 and "用户名需以字母开头" in bad_name.text
    for username in ("newop", "newdept"):
        assert not _exists(console_app, username)


def test_forged_csrf_is_refused(console_app: ConsoleHarness) -> None:
    client = console_app.login("admin")
    op1 = _staff_id(console_app, "op1")
    form = {"username": "forged", "display_name": "伪造", "role": "admin", "password": PASSWORD}
    assert client.post("/console/users", data={**form, "csrf_token": "nope"}).status_code == 403
    assert client.post("/console/users", data=form).status_code == 403
    assert client.post("/console/users", data={**form, "csrf_token": client.csrf},
                       headers={"Origin": "https://evil.example"}).status_code == 403
    assert client.post(f"/console/users/{op1}/password",
                       data={"csrf_token": "nope", "password": NEW_PASSWORD}).status_code == 403
    assert client.post(f"/console/users/{op1}/active",
                       data={"csrf_token": "nope", "active": "0"}).status_code == 403
    assert not _exists(console_app, "forged")
    assert _can_log_in(console_app, "op1", PASSWORD)


def test_password_reset_ends_the_users_sessions(console_app: ConsoleHarness) -> None:
    op1_client = console_app.login("op1")
    assert op1_client.get("/console/account").status_code == 200
    admin = console_app.login("admin")
    op1 = _staff_id(console_app, "op1")
    weak = admin.post(f"/console/users/{op1}/password",
                      data={"csrf_token": admin.csrf, "password": "123"})
    assert weak.status_code == 400 and "未重置密码：密码至少 10 位" in weak.text
    assert op1_client.get("/console/account").status_code == 200  # nothing changed

    done = admin.post(f"/console/users/{op1}/password",
                      data={"csrf_token": admin.csrf, "password": NEW_PASSWORD})
    assert done.status_code == 303
    assert "已重置 op1（李客服）的密码" in admin.get(done.headers["location"]).text
    assert op1_client.get("/console/account").status_code == 303  # logged out
    assert not _can_log_in(console_app, "op1", PASSWORD)
    assert _can_log_in(console_app, "op1", NEW_PASSWORD)
    assert admin.get("/console/users").status_code == 200  # the admin stays logged in

    own = _staff_id(console_app, "admin")
    mine = admin.post(f"/console/users/{own}/password",
                      data={"csrf_token": admin.csrf, "password": NEW_PASSWORD})
    assert mine.status_code == 303
    assert admin.get("/console/users").status_code == 200  # own session kept
    missing = admin.post("/console/users/99999/password",
                         data={"csrf_token": admin.csrf, "password": NEW_PASSWORD})
    assert missing.status_code == 400 and "账号不存在" in missing.text


def test_deactivate_and_reactivate(console_app: ConsoleHarness) -> None:
    op2_client = console_app.login("op2")
    admin = console_app.login("admin")
    op2 = _staff_id(console_app, "op2")
    off = admin.post(f"/console/users/{op2}/active", data={"csrf_token": admin.csrf, "active": "0"})
    assert off.status_code == 303
    page = admin.get(off.headers["location"])
    assert "已停用 op2（赵客服）" in page.text
    row = _row(page.text, op2)
    assert "已停用" in row and 'name="active" value="1"' in row
    assert op2_client.get("/console/account").status_code == 303
    assert not _can_log_in(console_app, "op2", PASSWORD)

    on = admin.post(f"/console/users/{op2}/active", data={"csrf_token": admin.csrf, "active": "1"})
    assert on.status_code == 303
    assert "已启用 op2（赵客服）" in admin.get(on.headers["location"]).text
    assert _can_log_in(console_app, "op2", PASSWORD)


def test_the_last_admin_and_ones_own_account_stay_active(console_app: ConsoleHarness) -> None:
    admin = console_app.login("admin")
    own = _staff_id(console_app, "admin")
    last = admin.post(f"/console/users/{own}/active",
                      data={"csrf_token": admin.csrf, "active": "0"})
    assert last.status_code == 400 and "不能停用最后一个管理员账号" in last.text
    # with a second admin, the rule that remains is: not your own account
    created = admin.post("/console/users", data={
        "csrf_token": admin.csrf, "username": "admin2", "display_name": "孙管理",
        "role": "admin", "department_id": "", "password": PASSWORD})
    assert created.status_code == 303
    self_off = admin.post(f"/console/users/{own}/active",
                          data={"csrf_token": admin.csrf, "active": "0"})
    assert self_off.status_code == 400 and "不能停用自己" in self_off.text
    with session_scope(console_app.db_url) as session:
        assert session.get(Staff, own).active  # rolled back
    other = console_app.login("admin2")
    assert other.post(f"/console/users/{own}/active",
                      data={"csrf_token": other.csrf, "active": "0"}).status_code == 303
    assert admin.get("/console/users").status_code == 303  # its session ended


def test_markup_in_names_is_escaped(console_app: ConsoleHarness) -> None:
    admin = console_app.login("admin")
    name = "<script>x</script>"
    created = admin.post("/console/users", data={
        "csrf_token": admin.csrf, "username": "markup", "display_name": name,
        "role": "operator", "department_id": "", "password": PASSWORD})
    assert created.status_code == 303
    page = admin.get(created.headers["location"])
    assert name not in page.text and "&lt;script&gt;x&lt;/script&gt;" in page.text
    refused = admin.post("/console/users", data={
        "csrf_token": admin.csrf, "username": "markup", "display_name": name,
        "role": "operator", "department_id": "", "password": PASSWORD})
    assert refused.status_code == 400 and name not in refused.text


def test_admin_links_a_telegram_operator(console_app) -> None:  # type: ignore[no-untyped-def]
    from hotline.db import session_scope
    from hotline.models import Staff

    admin = console_app.login("admin")
    with session_scope(console_app.db_url) as session:
        op1 = session.query(Staff).filter_by(username="op1").one().id
        dept = session.query(Staff).filter_by(username="zhujian").one().id
    ok = admin.post(f"/console/users/{op1}/telegram",
                    data={"csrf_token": admin.csrf, "telegram_user_id": "123456789"})
    assert ok.status_code == 303
    bad = admin.post(f"/console/users/{op1}/telegram",
                     data={"csrf_token": admin.csrf, "telegram_user_id": "12ab"})
    assert bad.status_code == 400 and "/whoami" in bad.text
    wrong_role = admin.post(f"/console/users/{dept}/telegram",
                            data={"csrf_token": admin.csrf, "telegram_user_id": "555"})
    assert wrong_role.status_code == 400 and "话务员" in wrong_role.text
    with session_scope(console_app.db_url) as session:
        op2 = session.query(Staff).filter_by(username="op2").one().id
    taken = admin.post(f"/console/users/{op2}/telegram",
                       data={"csrf_token": admin.csrf, "telegram_user_id": "123456789"})
    assert taken.status_code == 400 and "已绑定账号 op1" in taken.text
    with session_scope(console_app.db_url) as session:
        assert session.get(Staff, op1).telegram_user_id == 123456789
