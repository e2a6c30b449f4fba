"""A real headless Chromium (Debian's ``/usr/bin/chromium``) driven by Python Playwright.

``scripts/test.sh`` installs chromium (apt, as root) and Playwright comes from the app lock
file; without a browser the browser tests fail with the command to fix it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from hotline.db import session_scope
from hotline.models import Department, Staff
from hotline.staff import create_staff
from tests.stack_helpers import ARTIFACTS, Running

SCREENSHOTS = ARTIFACTS / "screenshots"
PASSWORD = "Browser-pass-2026"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-default-apps", "--disable-sync", "--no-first-run",
    "--disable-extensions", "--mute-audio",
]


def chromium_path() -> str:
    found = os.environ.get("HOTLINE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(found).exists():
        pytest.fail("Chromium not found: install Debian's chromium (`apt-get install chromium`, "
                    "done by scripts/test.sh when run as root) or set HOTLINE_CHROMIUM")
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Module-scoped: Playwright's sync API keeps an event loop running in the test thread
    while it is started, which async tests after the browser modules must not inherit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def staff(running: Running) -> dict[str, str]:
    """Accounts in the running stack's database: username → role."""
    accounts = {"op1": ("李客服", "operator", None), "op2": ("赵客服", "operator", None),
                "boss": ("陈督办", "supervisor", None), "admin": ("王管理", "admin", None),
                "zhujian": ("周住建", "department", "住房和城乡建设局")}
    from hotline.local import seed

    with session_scope(running.db_url) as session:
        seed.ensure_departments(session)
        session.flush()
        for username, (name, role, dept) in accounts.items():
            if session.query(Staff).filter_by(username=username).first():
                continue
            dept_id = session.query(Department).filter_by(name=dept).one().id if dept else None
            create_staff(session, username, name, PASSWORD, role, dept_id)
    return {u: r for u, (_n, r, _d) in accounts.items()}


def login(browser, running: Running, username: str, viewport: dict | None = None):  # type: ignore[no-untyped-def]
    return login_at(browser, running.gateway_url, username, viewport)


def login_at(browser, base: str, username: str, viewport: dict | None = None,  # type: ignore[no-untyped-def]
             password: str = PASSWORD):
    """A console page logged in as ``username`` on the console served at ``base``."""
    context = browser.new_context(viewport=viewport or {"width": 1366, "height": 900},
                                  locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{base}/console/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "/console/login" not in page.url, page.content()
    return page


def shot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


class Phone:
    """The fake Bot API's blocking helpers, run off the test thread: Playwright's sync API
    keeps an event loop running there, and the fake refuses to block inside one."""

    def __init__(self, running: Running) -> None:
        self._running = running
        self._pool = ThreadPoolExecutor(max_workers=1)

    def _call(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        return self._pool.submit(fn, *args, **kwargs).result()

    def say(self, chat: int, text: str, timeout: float = 30):  # type: ignore[no-untyped-def]
        return self._call(self._running.say, chat, text, timeout)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        target = getattr(self._running.fake, name)
        if not callable(target):
            return target
        return lambda *args, **kwargs: self._call(target, *args, **kwargs)
