"""The fault test of bench/chaos.py, smaller: chats on the real stack (Telegram by webhook)
while Redis, the action server, the gateway and Rasa are each killed with SIGKILL and
restarted by the supervisor. Nothing an enterprise sent is lost or doubled, every message is
answered (or a busy notice is given), no ticket is doubled or silently missing, and every
notification arrives exactly once.

Its own stack (it kills processes), so it takes a few minutes: Rasa loads its model twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.chaos import COMPONENTS, run
from tests.stack_helpers import ARTIFACTS

pytestmark = pytest.mark.stack


@pytest.mark.timeout(900)
def test_killing_each_component_loses_and_doubles_nothing() -> None:
    out: Path = ARTIFACTS / "chaos"
    report = run(chats=12, kill=COMPONENTS, warmup_s=6.0, gap_s=3.0, transcripts=out)
    print(report)
    assert report.messages_sent >= 12 * 5
    assert (report.lost, report.duplicated, report.unanswered) == (0, 0, 0)
    assert report.tickets_confirmed >= 1  # the ticket form was really exercised
    assert report.tickets_duplicated == 0 and report.tickets_missing_untold == 0
    assert report.notifications == 12 * (len(COMPONENTS) + 1)
    assert (report.notifications_lost, report.notifications_duplicated) == (0, 0)
    assert report.inbox_left == 0 and report.outbox_left == 0
    assert set(report.recovery_s) == set(COMPONENTS)
    assert all(seconds == seconds for seconds in report.recovery_s.values())  # none timed out
