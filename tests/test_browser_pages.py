"""The other console users, in a real headless Chromium: a department sees only its own
tickets (another department's URL is refused), a supervisor's dashboard shows the figures
of ``python -m hotline tickets stats``, the knowledge base and accounts pages work, wrong
passwords are rate-limited, and the pages fit a phone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime

import pytest
from sqlalchemy import select

from hotline.db import session_scope
from hotline.models import Department, Ticket
from hotline.sla import TZ
from tests.browser_helpers import PASSWORD, login, shot
from tests.stack_helpers import Running

pytestmark = pytest.mark.stack


def _hotline(running: Running, *args: str) -> str:
    env = {**os.environ, "HOTLINE_DATABASE_URL": running.db_url}
    return subprocess.run([sys.executable, "-m", "hotline", *args], env=env, check=True,
                          capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def seeded(running: Running, staff) -> None:
    _hotline(running, "tickets", "seed-demo", "--count", "200", "--seed", "11")


def test_department_sees_only_its_own_tickets(running: Running, browser, seeded) -> None:
    page = login(browser, running, "zhujian")
    assert page.url.endswith("/console/tickets")
    departments = page.locator("table.tickets tbody tr td:nth-child(5)").all_inner_texts()
    assert departments and set(departments) == {"住房和城乡建设局"}
    with session_scope(running.db_url) as session:
        housing = session.scalar(select(Department.id).where(Department.name == "住房和城乡建设局"))
        own = session.scalar(select(Ticket.number).where(Ticket.department_id == housing))
        other = session.scalar(select(Ticket.number).where(Ticket.department_id != housing))
    shot(page, "06_tickets_department")
    page.goto(f"{running.gateway_url}/console/tickets/{own}")
    assert own in page.locator("h1").inner_text()
    assert page.locator(".timeline li").count() >= 2  # 受理, 分派 …
    shot(page, "07_ticket_detail")
    response = page.goto(f"{running.gateway_url}/console/tickets/{other}")
    assert response is not None and response.status == 403
    assert "权" in page.locator("main").inner_text()
    shot(page, "08_ticket_other_department_403")
    assert page.goto(f"{running.gateway_url}/console/dashboard").status == 403
    page.context.close()


def test_supervisor_dashboard_equals_the_statistics(running: Running, browser, seeded) -> None:
    today = datetime.now(TZ).date()
    first = today.replace(month=1, day=1)
    expected = json.loads(_hotline(running, "tickets", "stats", "--from", first.isoformat(),
                                   "--to", today.isoformat(), "--json"))["total"]
    page = login(browser, running, "boss")
    assert page.url.endswith("/console/dashboard")
    page.goto(f"{running.gateway_url}/console/dashboard?from={first}&to={today}")

    def value(figure: str) -> str:
        return page.locator(f"#{figure} b").get_attribute("data-value") or ""

    assert int(value("fig-received")) == expected["received"] > 0
    assert int(value("fig-resolved")) == expected["resolved"]
    assert int(value("fig-red")) == expected["red"]
    for figure, key in (("fig-resolution-rate", "resolution_rate"),
                        ("fig-on-time-rate", "on_time_rate"),
                        ("fig-satisfaction-rate", "satisfaction_rate")):
        assert abs(float(value(figure)) - expected[key]) < 1e-3, figure
    assert page.locator("svg").count() >= 3  # trend, topics, lights
    shot(page, "09_dashboard")
    with page.expect_download() as download:
        page.click("#export-csv")
    csv_text = download.value.path().read_bytes().decode("utf-8-sig")
    assert str(expected["received"]) in csv_text and "按诉求类别" in csv_text
    page.context.close()


def test_knowledge_base_search(running: Running, browser, staff) -> None:
    page = login(browser, running, "op1")
    page.goto(f"{running.gateway_url}/console/kb?q=注册公司需要什么材料")
    assert "营业执照" in page.locator("main").inner_text() or "登记" in page.locator("main").inner_text()
    page.goto(f"{running.gateway_url}/console/kb?q=<script>alert(1)</script>")
    assert page.locator("script:not([src])").count() == 0
    shot(page, "10_kb_search")
    page.context.close()


def test_admin_creates_an_account_that_can_log_in(running: Running, browser, staff) -> None:
    page = login(browser, running, "admin")
    page.goto(f"{running.gateway_url}/console/users")
    form = page.locator("form", has=page.locator("input[name=username]")).first
    form.locator("input[name=username]").fill("shuiwu2")
    form.locator("input[name=display_name]").fill("吴税务")
    form.locator("select[name=role]").select_option("department")
    form.locator("select[name=department_id]").select_option(label="税务局")
    form.locator("input[name=password]").fill(PASSWORD)
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert "shuiwu2" in page.locator("main").inner_text()
    shot(page, "11_users")
    page.context.close()
    new = login(browser, running, "shuiwu2")
    assert new.url.endswith("/console/tickets")
    new.context.close()


def test_wrong_passwords_are_rate_limited(running: Running, browser, staff) -> None:
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    for _ in range(5):
        page.goto(f"{running.gateway_url}/console/login")
        page.fill("input[name=username]", "op2")
        page.fill("input[name=password]", "not-the-password-1")
        page.click("button[type=submit]")
        assert "用户名或密码错误" in page.locator(".flash").inner_text()
    page.goto(f"{running.gateway_url}/console/login")
    page.fill("input[name=username]", "op2")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    assert "15 分钟" in page.locator(".flash").inner_text()
    shot(page, "12_login_rate_limited")
    context.close()


def test_console_fits_a_phone(running: Running, browser, staff) -> None:
    page = login(browser, running, "op1", viewport={"width": 390, "height": 844})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, width  # no sideways scrolling of the page itself
    shot(page, "13_queue_phone")
    page.goto(f"{running.gateway_url}/console/tickets")
    shot(page, "14_tickets_phone")
    page.context.close()
