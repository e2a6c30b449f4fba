"""Form validation as the action server runs it (rasa-sdk tracker and dispatcher)."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.ticket_form import ValidateTicketForm


def _tracker(intent: str = "open_ticket", confidence: float = 0.9) -> Tracker:
    latest: dict[str, Any] = {"text": "x", "intent": {"name": intent, "confidence": confidence},
                              "entities": [], "intent_ranking": []}
    return Tracker("tg:1", {}, latest, [], False, None, {"name": "ticket_form"}, "action_listen")


def _validate(slot: str, value: Any, tracker: Tracker | None = None):
    dispatcher = CollectingDispatcher()
    method = getattr(ValidateTicketForm(), f"validate_{slot}")
    result = method(value, dispatcher, tracker or _tracker(), {})
    return result, [m.get("text") for m in dispatcher.messages]


@pytest.mark.parametrize(
    ("text", "reason"),
    [("   ", "不能为空"), ("😡😡😡👎", "只有表情"), ("<div><br/></div>", "网页标签")],
)
def test_descriptions_without_words_are_asked_again(text: str, reason: str) -> None:
    result, said = _validate("ticket_description", text)
    assert result["ticket_description"] is None
    assert reason in said[0]


def test_a_long_description_is_kept_whole_with_a_note() -> None:
    text = "园区道路施工导致厂区断电，" * 400  # ~5,200 characters
    result, said = _validate("ticket_description", text)
    assert result["ticket_description"] == text
    assert "已完整保存" in said[0]


def test_the_description_sets_the_topic_when_the_nlu_is_sure() -> None:
    result, _ = _validate("ticket_description", "园区三天两头停电，生产线停工",
                          _tracker("utilities", 0.95))
    assert result["ticket_topic"] == "utilities"
    result, _ = _validate("ticket_description", "园区三天两头停电，生产线停工",
                          _tracker("utilities", 0.4))
    assert "ticket_topic" not in result


def test_markup_inside_real_text_is_kept_as_written() -> None:
    result, said = _validate("ticket_description", "<b>施工许可</b>三个月没批")
    assert result["ticket_description"] == "<b>施工许可</b>三个月没批" and said == []


@pytest.mark.parametrize(
    ("slot", "value", "expected", "reason"),
    [
        ("uscc", "91440300MA5FHX7K1A", None, "校验位"),
        ("uscc", "91440300MA5FHX7K1T", "91440300MA5FHX7K1T", None),
        ("contact_phone", "138abc0000", None, "字母"),
        ("contact_phone", "0755 8600 1234", "0755-86001234", None),
        ("company_name", "12", None, "全称"),
        ("ticket_topic", "weather", None, "选择诉求类别"),
        ("ticket_topic", "land", "land", None),
        ("ticket_confirm", "嗯", None, "确认提交"),
    ],
)
def test_slot_validation(slot: str, value: Any, expected: Any, reason: str | None) -> None:
    result, said = _validate(slot, value)
    assert result[slot] == expected
    if reason:
        assert reason in said[0]
    else:
        assert said == []


def test_a_slot_cleared_by_the_form_start_is_not_judged() -> None:
    result, said = _validate("ticket_topic", None)
    assert result == {"ticket_topic": None} and said == []
