"""Issue 10, outbox: a lease per row (no double send when a batch or one send outlives the
lease), requeueing rows that gave up (CLI and console), retention of delivered rows."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select

from bot.outbox_delivery import OutboxDelivery
from hotline import outbox
from hotline.db import session_scope
from hotline.models import NotificationOutbox
from hotline.settings import get_settings
from tests.console_helpers import ConsoleHarness

T0 = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)
SEC = timedelta(seconds=1)


class StepClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class GatedBot:
    """Records sends; a send to a chat in ``gates`` waits until its event is set."""

    def __init__(self, sent: list[tuple[int, str]]) -> None:
        self.sent = sent
        self.gates: dict[int, asyncio.Event] = {}
        self.entered: set[int] = set()

    async def send_message(self, chat_id: int, text: str, reply_markup: Any = None) -> None:
        self.entered.add(chat_id)
        gate = self.gates.get(chat_id)
        if gate is not None:
            await gate.wait()
        self.sent.append((chat_id, text))


async def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def put_rows(db_url: str, *conversations: str) -> list[int]:
    with session_scope(db_url) as s:
        return [outbox.enqueue(s, c, "test", f"通知 {c}", now=T0).id  # type: ignore[union-attr]
                for c in conversations]


def lease_of(db_url: str, row_id: int) -> datetime | None:
    with session_scope(db_url) as s:
        row = s.get(NotificationOutbox, row_id)
        assert row is not None
        return row.claimed_until


async def test_a_batch_and_a_send_that_outlive_the_lease_are_not_sent_twice(db_url: str) -> None:
    slow_row, _ = put_rows(db_url, "tg:1", "tg:2")
    sent: list[tuple[int, str]] = []
    clock = StepClock(T0)
    first_bot, second_bot = GatedBot(sent), GatedBot(sent)
    first_bot.gates[1] = asyncio.Event()
    first = OutboxDelivery(first_bot, db_url, clock=clock, lease=60 * SEC,  # type: ignore[arg-type]
                           batch_size=10, worker="A", renew_every=0.01)
    second = OutboxDelivery(second_bot, db_url, clock=clock, lease=60 * SEC,  # type: ignore[arg-type]
                            batch_size=10, worker="B", renew_every=0.01)
    pass_a = asyncio.create_task(first.deliver_due())  # claims both, hangs sending to chat 1
    await wait_until(lambda: 1 in first_bot.entered)
    for _ in range(3):  # the send to chat 1 takes 120 s, twice the lease
        clock.advance(40 * SEC)
        await wait_until(lambda: (lease_of(db_url, slow_row) or T0) > clock.now)

    # The second gateway runs meanwhile: chat 1 is still being sent, chat 2 waited too long.
    assert await second.deliver_due() == 1
    assert sent == [(2, "通知 tg:2")]
    first_bot.gates[1].set()
    assert await pass_a == 1
    assert sorted(sent) == [(1, "通知 tg:1"), (2, "通知 tg:2")]  # each exactly once
    with session_scope(db_url) as s:
        assert list(s.scalars(select(NotificationOutbox.status).order_by(NotificationOutbox.id))) \
            == ["delivered", "delivered"]


# --- requeue and retention --------------------------------------------------------------


@pytest.fixture
def cli_db(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("HOTLINE_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield db_url
    get_settings.cache_clear()


def give_up(db_url: str, row_id: int, error: str = "Forbidden: bot was blocked by the user") -> None:
    """Fail a row until the outbox gives up on it (15 attempts)."""
    policy = outbox.RetryPolicy(base=timedelta(0), max_delay=timedelta(0))
    with session_scope(db_url) as s:
        conversation = s.get(NotificationOutbox, row_id).conversation_id  # type: ignore[union-attr]
    for attempt in range(policy.max_attempts):
        now = T0 + attempt * SEC
        with session_scope(db_url) as s:
            assert outbox.claim_for_conversation(s, conversation, worker="W", now=now)
        with session_scope(db_url) as s:
            outbox.mark_failed_attempt(s, row_id, worker="W", now=now, error=error, policy=policy)
    assert row_state(db_url, row_id)[0] == "failed"


def row_state(db_url: str, row_id: int) -> tuple[str, int]:
    with session_scope(db_url) as s:
        row = s.get(NotificationOutbox, row_id)
        assert row is not None
        return row.status, row.attempts


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    from hotline.cli import main

    code = main(list(argv))
    return code, capsys.readouterr().out


def test_cli_requeue_one_or_all_failed_rows(cli_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    one, two, pending = put_rows(cli_db, "tg:11", "tg:12", "tg:13")
    give_up(cli_db, one)
    give_up(cli_db, two)
    with session_scope(cli_db) as s:  # given up: never claimed again
        assert [r.id for r in outbox.claim_due(s, channel="tg", worker="X",
                                               now=T0 + timedelta(days=1))] == [pending]

    code, out = run_cli(capsys, "outbox", "requeue", "--id", str(one))
    assert code == 0 and "1" in out
    assert row_state(cli_db, one) == ("pending", 0)
    assert row_state(cli_db, two) == ("failed", 15)
    code, out = run_cli(capsys, "outbox", "requeue", "--id", str(pending))  # not failed
    assert code == 1 and "0" in out

    code, out = run_cli(capsys, "outbox", "requeue", "--all-failed")
    assert code == 0 and "1" in out
    assert row_state(cli_db, two) == ("pending", 0)
    now = datetime.now(timezone.utc)  # due again, at once
    with session_scope(cli_db) as s:
        ids = [r.id for r in outbox.claim_due(s, channel="tg", worker="Y", now=now)]
    assert one in ids and two in ids
    with pytest.raises(SystemExit):  # one of the two is required
        run_cli(capsys, "outbox", "requeue")


def test_delivered_rows_older_than_the_retention_are_purged(
    cli_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.housekeeping import purge_outbox_once

    old_done, old_failed, old_pending, new_done = put_rows(
        cli_db, "tg:21", "tg:22", "tg:23", "tg:24")
    now = datetime.now(timezone.utc)
    with session_scope(cli_db) as s:
        for row_id, status, at in ((old_done, "delivered", now - timedelta(days=31)),
                                   (old_failed, "failed", now - timedelta(days=31)),
                                   (old_pending, "pending", now - timedelta(days=31)),
                                   (new_done, "delivered", now - timedelta(days=29))):
            row = s.get(NotificationOutbox, row_id)
            assert row is not None
            row.status, row.created_at = status, at
            row.delivered_at = at if status == "delivered" else None
    assert get_settings().outbox_retention_days == 30
    assert purge_outbox_once(cli_db, 30) == 1
    assert purge_outbox_once(cli_db, 30) == 0
    with session_scope(cli_db) as s:  # failed and pending rows stay, whatever their age
        left = set(s.scalars(select(NotificationOutbox.id)))
    assert left == {old_failed, old_pending, new_done}

    code, out = run_cli(capsys, "outbox", "purge", "--days", "28")
    assert code == 0 and "1" in out
    with session_scope(cli_db) as s:
        assert set(s.scalars(select(NotificationOutbox.id))) == {old_failed, old_pending}


def test_console_lists_failed_notifications_and_requeues_them(
    console_app: ConsoleHarness, caplog: pytest.LogCaptureFixture
) -> None:
    web = "web:8c0e9e1e-3b1f-4f7a-9a59-5d1c1f3b2a10"
    one, two, fine = put_rows(console_app.db_url, "tg:987654321", web, "tg:555")
    give_up(console_app.db_url, one)
    give_up(console_app.db_url, two, error="ValueError: attachment 7 is gone")

    boss = console_app.login("boss")
    board = boss.get("/console/dashboard")
    assert board.status_code == 200 and 'id="failed-notifications"' in board.text
    assert "/console/notifications" in board.text
    page = boss.get("/console/notifications")
    assert page.status_code == 200
    assert "发送失败的通知" in page.text and "重新发送" in page.text
    assert "Forbidden: bot was blocked by the user" in page.text and "attachment 7 is gone" in page.text
    assert page.text.count('name="row"') == 2  # one button per failed row, none for the rest
    # Conversations are masked: neither the chat id nor the web session id is shown.
    assert "987654321" not in page.text and "8c0e9e1e" not in page.text
    assert "98*****21" in page.text

    for who in ("op1", "zhujian"):  # operators and departments neither see nor requeue
        other = console_app.login(who)
        assert other.get("/console/notifications").status_code == 403
        assert other.post("/console/notifications/requeue",
                          data={"csrf_token": other.csrf, "row": str(one)}).status_code == 403
    forged = boss.post("/console/notifications/requeue", data={"csrf_token": "x", "row": str(one)})
    assert forged.status_code == 403
    assert row_state(console_app.db_url, one) == ("failed", 15)

    caplog.set_level("INFO")
    done = boss.post("/console/notifications/requeue",
                     data={"csrf_token": boss.csrf, "row": str(one)}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].endswith("?done=requeued")
    assert row_state(console_app.db_url, one) == ("pending", 0)
    assert row_state(console_app.db_url, two) == ("failed", 15)
    assert any("requeue" in r.getMessage() and "boss" in r.getMessage() for r in caplog.records)
    assert "tg:987654321" in console_app.delivered  # delivered now, not at the next poll
    after = boss.get(done.headers["location"])
    assert "已重新排队" in after.text and after.text.count('name="row"') == 1

    everything = boss.post("/console/notifications/requeue",
                           data={"csrf_token": boss.csrf, "all": "1"}, follow_redirects=False)
    assert everything.status_code == 303
    assert row_state(console_app.db_url, two) == ("pending", 0)
    assert row_state(console_app.db_url, fine) == ("pending", 0)
    assert "没有发送失败的通知" in boss.get("/console/notifications").text
    admin = console_app.login("admin")
    assert admin.get("/console/notifications").status_code == 200
