"""Console hardening (issue 10, staff and console): attachments, login limits, stuck chats,
sessions, CSRF input, banner codes, departments, over HTTP against real Redis and SQLite."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot import housekeeping
from console import auth, chats, login
from hotline import attachments, handoff, routing, tickets, transcripts
from hotline.db import session_scope
from hotline.handoff import Mode
from hotline.models import Department, NotificationOutbox, Staff
from tests.console_helpers import CSRF_RE, PASSWORD, ConsoleHarness, make_harness

CONV = "tg:4242"


def _post(client, url: str, **data):  # type: ignore[no-untyped-def]
    return client.post(url, data={"csrf_token": client.csrf, **data})


def _login_post(client, username: str, password: str, **headers: str):  # type: ignore[no-untyped-def]
    page = client.get("/console/login")
    token = CSRF_RE.search(page.text).group(1)
    return client.post("/console/login", headers=headers, data={
        "username": username, "password": password, "csrf_token": token, "next": "/console/"})


def _queued(harness: ConsoleHarness, conv: str = CONV, now: datetime | None = None) -> None:
    with session_scope(harness.db_url) as session:
        transcripts.add(session, conv, "telegram", "in", "enterprise", "转人工", at=now)
    handoff.request_human(harness.redis, conv, now=now)


def _notices(harness: ConsoleHarness, conv: str) -> list[tuple[str, str]]:
    with session_scope(harness.db_url) as session:
        rows = session.scalars(select(NotificationOutbox).where(
            NotificationOutbox.conversation_id == conv).order_by(NotificationOutbox.id))
        return [(r.kind, r.text) for r in rows]


# --- 1. attachments only for those who may see their chat or ticket ----------------------


def _attachment(harness: ConsoleHarness, conv: str) -> int:
    with session_scope(harness.db_url) as session:
        return attachments.save(session, conv, "营业执照.pdf", "application/pdf", b"%PDF-1.4 x",
                                "enterprise").id


def test_attachments_only_for_chat_staff_and_the_tickets_department(
        console_app: ConsoleHarness) -> None:
    with_ticket, without = _attachment(console_app, "tg:5001"), _attachment(console_app, "tg:5002")
    with session_scope(console_app.db_url) as session:
        tickets.create_ticket(session, topic="construction_permit", conversation_id="tg:5001",
                              description="施工许可证办了二十天还没有结果，请帮忙催办")
    zhujian, shuiwu = console_app.login("zhujian"), console_app.login("shuiwu")
    assert zhujian.get(f"/console/attachments/{with_ticket}").content == b"%PDF-1.4 x"
    not_found = zhujian.get(f"/console/attachments/{without}")
    assert not_found.status_code == 404
    for attachment_id in (with_ticket, without, 99999):
        refused = shuiwu.get(f"/console/attachments/{attachment_id}")
        assert refused.status_code == 404 and refused.text == not_found.text
    for username in ("op1", "boss", "admin"):
        staff = console_app.login(username)
        assert staff.get(f"/console/attachments/{without}").status_code == 200


# --- 2. the login limiter --------------------------------------------------------------


def test_parallel_wrong_passwords_are_counted_before_any_is_checked(
        console_app: ConsoleHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[str] = []
    lock = threading.Lock()
    real = login.authenticate

    def counting(session, username, password):  # type: ignore[no-untyped-def]
        with lock:
            checked.append(username)
        return real(session, username, password)

    monkeypatch.setattr(login, "authenticate", counting)
    clients = [console_app.client() for _ in range(30)]
    tokens = [CSRF_RE.search(c.get("/console/login").text).group(1) for c in clients]
    barrier = threading.Barrier(len(clients))
    codes: list[int] = []

    def attempt(client, token: str) -> None:  # type: ignore[no-untyped-def]
        barrier.wait()
        codes.append(client.post("/console/login", data={
            "username": "admin", "password": "guess-number-1", "csrf_token": token,
            "next": "/console/"}).status_code)

    threads = [threading.Thread(target=attempt, args=pair) for pair in zip(clients, tokens)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(checked) <= auth.MAX_FAILS_USER
    assert sorted(set(codes)) == [401, 429]


def test_anonymous_failures_do_not_lock_the_owner_out(console_app: ConsoleHarness) -> None:
    attacker = console_app.client("203.0.113.9")
    for _ in range(auth.MAX_FAILS_USER):
        assert _login_post(attacker, "admin", "guess-number-1").status_code == 401
    assert _login_post(attacker, "admin", PASSWORD).status_code == 429  # that address waits
    owner = console_app.client("198.51.100.7")
    assert _login_post(owner, "admin", PASSWORD).status_code == 303


def test_forwarded_for_counts_only_behind_a_trusted_proxy(db_url: str, redis_url: str) -> None:
    harness = make_harness(db_url, redis_url, console_trusted_proxies="10.0.0.1, 10.9.0.0/16")
    try:
        proxy = harness.client("10.0.0.1")
        for _ in range(auth.MAX_FAILS_USER):
            response = _login_post(proxy, "op1", "guess-number-1",
                                   **{"X-Forwarded-For": "1.2.3.4, 203.0.113.9"})
            assert response.status_code == 401
        blocked = _login_post(proxy, "op1", PASSWORD, **{"X-Forwarded-For": "203.0.113.9"})
        assert blocked.status_code == 429
        # the same proxy, another client behind it (through a second trusted hop)
        other = _login_post(harness.client("10.0.0.1"), "op1", PASSWORD,
                            **{"X-Forwarded-For": "198.51.100.7, 10.9.3.4"})
        assert other.status_code == 303
        # an untrusted peer cannot pick a fresh address per attempt
        direct = harness.client("192.0.2.50")
        for i in range(auth.MAX_FAILS_USER):
            assert _login_post(direct, "op2", "guess-number-1",
                               **{"X-Forwarded-For": f"198.51.100.{i}"}).status_code == 401
        assert _login_post(direct, "op2", PASSWORD,
                           **{"X-Forwarded-For": "198.51.100.99"}).status_code == 429
    finally:
        harness.redis.close()


# --- 3. chats stuck with a person --------------------------------------------------------


def test_supervisor_force_releases_a_chat_held_by_an_operator(
        console_app: ConsoleHarness) -> None:
    _queued(console_app)
    op1 = console_app.login("op1")
    assert _post(op1, f"/console/chats/{CONV}/take").status_code == 303
    assert 'id="force-release"' not in op1.get(f"/console/chats/{CONV}").text
    op2 = console_app.login("op2")
    assert _post(op2, f"/console/chats/{CONV}/release").status_code == 403
    boss = console_app.login("boss")
    assert 'id="force-release"' in boss.get(f"/console/chats/{CONV}").text
    forged = boss.post(f"/console/chats/{CONV}/release", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    assert handoff.state_of(console_app.redis, CONV).operator == "op1"
    released = _post(boss, f"/console/chats/{CONV}/release")
    assert released.status_code == 303
    assert released.headers["location"].endswith("?done=released")
    assert "已强制释放该会话" in boss.get(released.headers["location"]).text
    assert handoff.mode_of(console_app.redis, CONV) is Mode.BOT
    assert handoff.owned_by(console_app.redis, "op1") == []
    event = handoff.events(console_app.redis, CONV)[-1]
    assert (event.from_mode, event.to_mode, event.who, event.reason) == (
        Mode.HUMAN, Mode.BOT, "boss", "force_release")
    kind, text = _notices(console_app, CONV)[-1]
    assert kind == "handoff.released" and "智能客服" in text
    again = _post(boss, f"/console/chats/{CONV}/release")
    assert again.status_code == 409  # nothing to release any more


def test_deactivating_an_operator_releases_their_chats(console_app: ConsoleHarness) -> None:
    op1 = console_app.login("op1")
    for conv in ("tg:1", "tg:2"):
        _queued(console_app, conv)
        assert _post(op1, f"/console/chats/{conv}/take").status_code == 303
    admin = console_app.login("admin")
    with session_scope(console_app.db_url) as session:
        op1_id = session.scalar(select(Staff.id).where(Staff.username == "op1"))
    assert _post(admin, f"/console/users/{op1_id}/active", active="0").status_code == 303
    assert handoff.owned_by(console_app.redis, "op1") == []
    for conv in ("tg:1", "tg:2"):
        assert handoff.mode_of(console_app.redis, conv) is Mode.BOT
        assert handoff.events(console_app.redis, conv)[-1].reason == "operator_gone"
        assert _notices(console_app, conv)[-1][0] == "handoff.released"


def test_idle_queued_and_human_chats_go_back_to_the_bot(console_app: ConsoleHarness) -> None:
    r = console_app.redis
    now = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)
    old = now - timedelta(hours=2)
    _queued(console_app, "tg:10", old)  # waited two hours, nobody came
    _queued(console_app, "tg:11", now - timedelta(minutes=5))  # waiting a short while
    _queued(console_app, "tg:12", old)
    handoff.claim(r, "tg:12", "op1", now=old)  # an operator took it and went silent
    _queued(console_app, "tg:13", old)
    handoff.claim(r, "tg:13", "op2", now=old)
    with session_scope(console_app.db_url) as session:  # …but this one is still talking
        transcripts.add(session, "tg:13", "telegram", "in", "enterprise", "好的，我再看看",
                        at=now - timedelta(minutes=3))
    released = handoff.release_idle(r, console_app.db_url, queued_after_s=3600,
                                    human_after_s=1800, now=now)
    assert sorted(released) == ["tg:10", "tg:12"]
    assert [handoff.mode_of(r, c) for c in ("tg:10", "tg:11", "tg:12", "tg:13")] == [
        Mode.BOT, Mode.QUEUED, Mode.BOT, Mode.HUMAN]
    assert handoff.owned_by(r, "op1") == []
    for conv in ("tg:10", "tg:12"):
        assert handoff.events(r, conv)[-1].reason == "idle"
        kind, text = _notices(console_app, conv)[-1]
        assert kind == "handoff.released" and "智能客服" in text
    assert _notices(console_app, "tg:11") == []
    assert handoff.release_idle(r, console_app.db_url, queued_after_s=3600,
                                human_after_s=1800, now=now) == []


def test_the_gateway_loop_releases_idle_chats_and_resumes_the_bot(
    console_app: ConsoleHarness,
) -> None:
    """The gateway's housekeeping runs the idle release periodically and, for each chat it
    gives back, delivers the notice and tells the dialogue engine."""
    r = console_app.redis
    _queued(console_app, "tg:20", datetime.now(timezone.utc) - timedelta(hours=2))
    _queued(console_app, "tg:21")
    resumed: list[str] = []

    async def after_release(conversation: str) -> None:
        resumed.append(conversation)

    async def run_a_while() -> None:
        task = asyncio.create_task(housekeeping.idle_release_loop(
            r, console_app.db_url, queued_after_s=3600, human_after_s=1800,
            after_release=after_release, every_s=0.05))
        for _ in range(100):
            await asyncio.sleep(0.05)
            if resumed:
                break
        task.cancel()

    asyncio.run(run_a_while())
    assert resumed == ["tg:20"]
    assert handoff.mode_of(r, "tg:20") is Mode.BOT and handoff.mode_of(r, "tg:21") is Mode.QUEUED
    assert _notices(console_app, "tg:20")[-1][0] == "handoff.released"


# --- 4. sessions --------------------------------------------------------------------------


def test_changing_ones_password_ends_ones_other_sessions(console_app: ConsoleHarness) -> None:
    here, elsewhere = console_app.login("op1"), console_app.login("op1")
    other_user = console_app.login("op2")
    changed = _post(here, "/console/account/password", current=PASSWORD,
                    new="Another-pass-2027", again="Another-pass-2027")
    assert changed.status_code == 200 and "密码已修改" in changed.text
    assert here.get("/console/account").status_code == 200
    assert elsewhere.get("/console/account").status_code == 303
    assert other_user.get("/console/account").status_code == 200


def test_the_event_stream_ends_when_the_session_ends(console_app: ConsoleHarness,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chats, "SSE_BLOCK_MS", 100)
    op = console_app.login("op1")
    result: list[object] = []

    def listen() -> None:
        result.append(op.get("/console/events"))

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    time.sleep(1.0)
    assert listener.is_alive()  # streaming while the session lasts
    admin = console_app.login("admin")
    with session_scope(console_app.db_url) as session:
        op1_id = session.scalar(select(Staff.id).where(Staff.username == "op1"))
    assert _post(admin, f"/console/users/{op1_id}/active", active="0").status_code == 303
    listener.join(10)
    assert not listener.is_alive(), "the stream went on after the session ended"
    assert result[0].status_code == 200  # type: ignore[attr-defined]


# --- 5. CSRF input that is not ASCII --------------------------------------------------------


def test_non_ascii_csrf_is_refused_not_a_server_error(console_app: ConsoleHarness) -> None:
    op = console_app.login("op1")
    header = op.post("/console/logout", headers={"X-CSRF-Token": "令牌".encode()})
    assert header.status_code == 403
    form = op.post("/console/logout", data={"csrf_token": "令牌"})
    assert form.status_code == 403
    anonymous = console_app.client()
    anonymous.get("/console/login")
    refused = anonymous.post("/console/login", data={
        "username": "op1", "password": PASSWORD, "csrf_token": "令牌", "next": "/console/"})
    assert refused.status_code == 403
    department = console_app.login("zhujian")
    api = department.post("/console/api/tickets/T20261120-0001/take", json={},
                          headers={"X-CSRF-Token": "令牌".encode()})
    assert api.status_code == 403
    assert op.get("/console/account").status_code == 200  # still logged in


# --- 6. success banners from fixed codes ------------------------------------------------------


def test_chat_banners_come_from_codes_not_from_the_url(console_app: ConsoleHarness) -> None:
    _queued(console_app)
    op = console_app.login("op1")
    bait = "账号异常，请拨打 400-000-0000 并提供密码"
    page = op.get(f"/console/chats/{CONV}", params={"done": bait})
    assert page.status_code == 200 and bait not in page.text
    taken = _post(op, f"/console/chats/{CONV}/take")
    assert taken.headers["location"].endswith("?done=taken")
    assert "已接入该会话。" in op.get(taken.headers["location"]).text
    ticket = _post(op, f"/console/chats/{CONV}/ticket", topic="tax", description="出口退税一直没有到账，想问问进度",
                   company="", uscc="", contact="", phone="")
    assert ticket.status_code == 303
    location = ticket.headers["location"]
    assert "done=ticket" in location
    assert "已登记并分派" in op.get(location).text
    forged = op.get(f"/console/chats/{CONV}", params={"done": "ticket", "number": bait})
    assert bait not in forged.text and "已登记并分派" not in forged.text


# --- 7. every department of the routing table --------------------------------------------------


def test_account_page_offers_every_department_of_the_routing_table(
        console_app: ConsoleHarness) -> None:
    names = list(dict.fromkeys(t.department for t in routing.load_taxonomy().topics.values()))
    unused = next(n for n in names if n not in ("住房和城乡建设局", "税务局"))
    with session_scope(console_app.db_url) as session:  # no ticket has gone there yet
        session.delete(session.scalar(select(Department).where(Department.name == unused)))
    admin = console_app.login("admin")
    page = admin.get("/console/users").text
    for name in names:
        assert name in page
    value = next(v for v, label in _options(page) if label == unused)
    created = _post(admin, "/console/users", username="newdept", display_name="钱新部",
                    role="department", department_id=value, password=PASSWORD)
    assert created.status_code == 303, created.text
    with session_scope(console_app.db_url) as session:
        staff = session.scalar(select(Staff).where(Staff.username == "newdept"))
        assert staff is not None and staff.department is not None
        assert staff.department.name == unused
    assert console_app.login("newdept").get("/console/tickets").status_code == 200
    bogus = _post(admin, "/console/users", username="bogus", display_name="假部门",
                  role="department", department_id="route:不存在的局", password=PASSWORD)
    assert bogus.status_code == 400


def _options(page: str) -> list[tuple[str, str]]:
    import re

    select_html = page.split('name="department_id"', 1)[1].split("</select>", 1)[0]
    return re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select_html)
