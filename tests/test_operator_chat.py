"""The operator actions of the core (hotline.operator_chat): one implementation and one set of
refusals for the console and the operators' Telegram group; close checks the owner in the
same atomic step as the transition."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from hotline import handoff, operator_chat
from hotline.db import session_scope
from hotline.handoff import Mode, NotOwner
from hotline.operator_chat import ChatError

ROOT = Path(__file__).resolve().parent.parent
CHAT = "tg:777"


@pytest.fixture
def r(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/14")  # this file's own
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def test_close_by_another_operator_is_refused_inside_the_transition(r: redis.Redis) -> None:
    handoff.request_human(r, CHAT)
    handoff.claim(r, CHAT, "op1")
    with pytest.raises(NotOwner):
        handoff.close(r, CHAT, "op2", owner_only=True)
    assert handoff.state_of(r, CHAT).mode is Mode.HUMAN
    handoff.close(r, CHAT, "op1", owner_only=True)
    assert handoff.state_of(r, CHAT).mode is Mode.CLOSED


def test_a_queued_chat_may_be_closed_by_any_operator(r: redis.Redis) -> None:
    handoff.request_human(r, CHAT)
    handoff.close(r, CHAT, "op2", owner_only=True)
    assert handoff.state_of(r, CHAT).mode is Mode.CLOSED


def test_refusals_name_the_owner_the_same_way_for_every_action(
    r: redis.Redis, db_url: str,
) -> None:
    handoff.request_human(r, CHAT)
    operator_chat.remember_name(r, "tg-op-501", "张 三")
    with session_scope(db_url) as session:
        operator_chat.take(session, r, CHAT, "tg-op-501", "张 三")
    refusals = {}
    with session_scope(db_url) as session:
        for action, call in {
            "take": lambda s: operator_chat.take(s, r, CHAT, "op2", "李客服"),
            "reply": lambda s: operator_chat.reply(s, r, CHAT, "op2", "李客服", "你好", None, 10),
            "hand_back": lambda s: operator_chat.hand_back(s, r, CHAT, "op2"),
            "close": lambda s: operator_chat.close(s, r, CHAT, "op2"),
        }.items():
            with pytest.raises(ChatError) as refused:
                call(session)
            refusals[action] = str(refused.value)
    for action, text in refusals.items():
        assert text == f"该会话由客服 张 三 接待，{operator_chat.OWNED_ELSEWHERE[action]}"
    assert handoff.state_of(r, CHAT).operator == "tg-op-501"  # nothing changed hands


def test_the_gateway_imports_no_console_module_but_the_app_it_mounts() -> None:
    """bot/operator_group.py used to import console.chat_service for the operator actions."""
    code = ("import sys, bot.operator_group, bot.telegram, bot.relay, bot.webchat; "
            "print(sorted(m for m in sys.modules if m == 'console' or m.startswith('console.')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
