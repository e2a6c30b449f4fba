"""Console test helpers: an app serving only the console, accounts of every role, login.

Tests that use them get a real Redis (database 12, flushed per test) and a migrated SQLite
file; nothing is mocked. ``console_app`` yields a :class:`ConsoleHarness`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from unittest import mock

import pytest
import redis
import redis.asyncio as aioredis
from fastapi import FastAPI
from fastapi.testclient import TestClient

from console.context import ConsoleContext
from console.web import install
from hotline.db import session_scope
from hotline.local import seed
from hotline.models import Department
from hotline.settings import Settings
from hotline.staff import create_staff, hash_password

PASSWORD = "Secret-pass-2026"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class ConsoleHarness:
    app: FastAPI
    ctx: ConsoleContext
    db_url: str
    redis: redis.Redis
    departments: dict[str, int] = field(default_factory=dict)
    delivered: list[str] = field(default_factory=list)

    def client(self, address: str | None = None) -> TestClient:
        """A client without a session; ``address`` is the peer address the app sees."""
        if address is None:
            return TestClient(self.app, base_url="http://testserver", follow_redirects=False)
        return TestClient(self.app, base_url="http://testserver", follow_redirects=False,
                          client=(address, 50000))

    def login(self, username: str, password: str = PASSWORD) -> TestClient:
        """A client logged in as ``username``; its ``.csrf`` attribute is the session token."""
        client = self.client()
        page = client.get("/console/login")
        token = CSRF_RE.search(page.text)
        assert token, page.text
        response = client.post("/console/login", data={
            "username": username, "password": password, "csrf_token": token.group(1),
            "next": "/console/"})
        assert response.status_code == 303, response.text
        home = client.get("/console/account")
        found = re.search(r'data-csrf="([^"]+)"', home.text)
        assert found, home.text
        client.csrf = found.group(1)  # type: ignore[attr-defined]
        return client


@lru_cache(maxsize=8)
def _hash_once(password: str) -> str:
    """A real argon2 hash, made once per run: the harness's six accounts share one password,
    and hashing it six times per test (~0.1-0.3 s each) was most of a console test's set-up."""
    return hash_password(password)


def make_harness(db_url: str, redis_url: str, **settings: object) -> ConsoleHarness:
    url = redis_url.rsplit("/", 1)[0] + "/12"
    sync = redis.Redis.from_url(url)
    sync.flushdb()
    config = Settings(database_url=db_url, redis_url=url, office_hours="always", **settings)
    harness = ConsoleHarness(FastAPI(), None, db_url, sync)  # type: ignore[arg-type]
    harness.ctx = ConsoleContext(settings=config, db_url=db_url, redis=sync,
                                 aredis=aioredis.Redis.from_url(url),
                                 deliver=harness.delivered.append)
    install(harness.app, lambda: harness.ctx)
    with session_scope(db_url) as session, mock.patch("hotline.staff.hash_password", _hash_once):
        seed.ensure_departments(session)
        session.flush()
        harness.departments = {d.name: d.id for d in session.query(Department)}
        housing = harness.departments["住房和城乡建设局"]
        tax = harness.departments["税务局"]
        create_staff(session, "admin", "王管理", PASSWORD, "admin")
        create_staff(session, "op1", "李客服", PASSWORD, "operator")
        create_staff(session, "op2", "赵客服", PASSWORD, "operator")
        create_staff(session, "boss", "陈督办", PASSWORD, "supervisor")
        create_staff(session, "zhujian", "周住建", PASSWORD, "department", housing)
        create_staff(session, "shuiwu", "吴税务", PASSWORD, "department", tax)
    return harness


@pytest.fixture
def console_app(db_url: str, redis_url: str) -> Iterator[ConsoleHarness]:
    harness = make_harness(db_url, redis_url)
    yield harness
    harness.redis.close()
