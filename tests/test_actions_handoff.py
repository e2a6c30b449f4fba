"""The handoff actions as the action server runs them, against a real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import handoff as handoff_actions
from actions.offers import TICKET_OFFER
from hotline import handoff
from hotline.handoff import Mode
from hotline.settings import Settings


@pytest.fixture
def r(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/11")
    client.flushdb()
    monkeypatch.setattr(handoff_actions, "_redis", lambda: client)
    yield client
    client.close()


def _settings(monkeypatch: pytest.MonkeyPatch, hours: str) -> None:
    monkeypatch.setattr(handoff_actions, "get_settings",
                        lambda: Settings(office_hours=hours, avg_handle_s=300))


def _user(intent: str) -> dict[str, Any]:
    return {"event": "user", "text": "x", "parse_data": {"intent": {"name": intent}}}


def _tracker(conv: str, events: list[dict[str, Any]], slots: dict[str, Any] | None = None
             ) -> Tracker:
    return Tracker(conv, slots or {}, {"intent": {"name": "request_human"}}, events, False, None,
                   None, "action_listen")


def _run(action, tracker: Tracker) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    dispatcher = CollectingDispatcher()
    asyncio.run(action.run(dispatcher, tracker, {}))
    return dispatcher.messages


def test_request_human_in_office_hours_queues_with_place_and_wait(
        r: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    _settings(monkeypatch, "always")
    handoff.request_human(r, "tg:1")  # someone is already waiting
    said = _run(handoff_actions.ActionRequestHuman(), _tracker("tg:2", []))
    assert handoff.mode_of(r, "tg:2") is Mode.QUEUED
    assert "您前面还有 1 位" in said[0]["text"] and "预计等待约 10 分钟" in said[0]["text"]
    assert said[0]["buttons"] == [handoff.CANCEL_BUTTON]
    again = _run(handoff_actions.ActionRequestHuman(), _tracker("tg:2", []))
    assert again[0]["text"] == "您已在排队等待人工客服，请稍候。"


def test_outside_office_hours_a_ticket_is_offered(r: redis.Redis,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    _settings(monkeypatch, "Mon 00:00-00:01")
    said = _run(handoff_actions.ActionRequestHuman(), _tracker("tg:3", []))
    assert handoff.mode_of(r, "tg:3") is Mode.BOT
    assert "非工作时间" in said[0]["text"] and "下一次开放" in said[0]["text"]
    assert said[0]["buttons"] == [TICKET_OFFER]


def test_misconduct_topic_is_the_reason(r: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    _settings(monkeypatch, "always")
    _run(handoff_actions.ActionRequestHuman(),
         _tracker("tg:4", [], {"ticket_topic": "misconduct"}))
    assert handoff.state_of(r, "tg:4").reason == "misconduct"


@pytest.mark.parametrize(("intents", "count"), [
    ([], 0), (["greet"], 0), (["nlu_fallback"], 1), (["greet", "nlu_fallback"], 1),
    (["nlu_fallback", "nlu_fallback"], 2), (["nlu_fallback", "greet", "nlu_fallback"], 1),
])
def test_consecutive_fallbacks(intents: list[str], count: int) -> None:
    events = [_user(i) for i in intents]
    events.insert(0, {"event": "bot", "text": "hi"})
    assert handoff_actions.consecutive_fallbacks(_tracker("tg:5", events)) == count


def test_the_second_fallback_in_a_row_hands_off(r: redis.Redis,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    _settings(monkeypatch, "always")
    once = _run(handoff_actions.ActionFallback(), _tracker("tg:6", [_user("nlu_fallback")]))
    assert once == [{"response": "utter_default", **{k: v for k, v in once[0].items()
                                                     if k != "response"}}]
    assert handoff.mode_of(r, "tg:6") is Mode.BOT
    twice = _run(handoff_actions.ActionFallback(),
                 _tracker("tg:6", [_user("nlu_fallback"), _user("nlu_fallback")]))
    assert "没能理解" in twice[0]["text"] and "转接人工客服" in twice[0]["text"]
    assert handoff.state_of(r, "tg:6").reason == "two_fallbacks"
