"""The ticket form takes an answer as the slot it asked for: names that look like "no"
(陈先生, 小李) and registered names with place prefixes are kept whole; only a clear cancel
leaves the form. tests/data/form_answers.json: 50 contact names and 50 company names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.ticket_form import ValidateTicketForm, is_cancel
from hotline.textnorm import normalize

ANSWERS = json.loads((Path(__file__).parent / "data" / "form_answers.json").read_text("utf-8"))


def _tracker(text: str, intent: str) -> Tracker:
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": []}
    return Tracker("tg:1", {}, latest, [], False, None, {"name": "ticket_form"}, "action_listen")


def _validate(slot: str, text: str, intent: str = "deny") -> tuple[dict[str, Any], list[str]]:
    dispatcher = CollectingDispatcher()
    result = getattr(ValidateTicketForm(), f"validate_{slot}")(
        text, dispatcher, _tracker(text, intent), {})
    return result, [m.get("text") or "" for m in dispatcher.messages]


def test_the_answer_sets_are_large_enough() -> None:
    assert len(ANSWERS["names"]) >= 50 and len(ANSWERS["companies"]) >= 50


@pytest.mark.parametrize("name", ANSWERS["names"])
@pytest.mark.parametrize("intent", ["deny", "goodbye", "inform"])
def test_every_realistic_name_is_a_name(name: str, intent: str) -> None:
    result, said = _validate("contact_name", name, intent)
    assert result == {"contact_name": normalize(name).strip()}, said


@pytest.mark.parametrize("company", ANSWERS["companies"])
def test_every_registered_company_name_is_kept_whole(company: str) -> None:
    result, said = _validate("company_name", company, "inform")
    assert result == {"company_name": normalize(company)}, said


@pytest.mark.parametrize(
    ("typed", "kept"),
    [("我们是东莞市长安镇鑫源五金制品有限公司", "东莞市长安镇鑫源五金制品有限公司"),
     ("公司名称：深圳市南山区腾达科技有限公司。", "深圳市南山区腾达科技有限公司")],
)
def test_lead_in_words_around_a_company_name_are_dropped(typed: str, kept: str) -> None:
    assert _validate("company_name", typed, "inform")[0] == {"company_name": kept}


@pytest.mark.parametrize("text", ["取消", "不办了", "算了，不提了", "/deny", "取消吧", "不辦了", "再见"])
@pytest.mark.parametrize("slot", ["contact_name", "company_name", "ticket_description",
                                  "uscc", "contact_phone", "ticket_topic"])
def test_a_clear_cancel_leaves_the_form(text: str, slot: str) -> None:
    result, _ = _validate(slot, text)
    assert result[slot] is None and result["ticket_cancelled"] is True
    assert result["requested_slot"] is None


@pytest.mark.parametrize("text", ["陈先生", "小李", "不是很急但是要办", "算了吧你们就是不管"])
def test_words_near_a_cancel_are_not_one(text: str) -> None:
    assert not is_cancel(_tracker(text, "deny"))


def test_the_cancel_button_on_the_summary_cancels() -> None:
    dispatcher = CollectingDispatcher()
    result = ValidateTicketForm().validate_ticket_confirm(False, dispatcher, _tracker("/deny", "deny"), {})
    assert result["ticket_cancelled"] is True and result["requested_slot"] is None


def test_a_topic_typed_by_its_name() -> None:
    assert _validate("ticket_topic", "融资与信贷", "financing")[0] == {"ticket_topic": "financing"}
    result, said = _validate("ticket_topic", "随便", "out_of_scope")
    assert result == {"ticket_topic": None} and "点击下方按钮" in said[0]


@pytest.mark.parametrize(
    "typed",
    ["我们厂的环评批复一直下不来，已经三个月了", "为什么还不给我们办证", "你们怎么还没处理",
     "贷款批不下来怎么办", "工业用地申请已经半年了没有消息"],
)
def test_a_sentence_is_not_taken_as_the_company_name(typed: str) -> None:
    result, said = _validate("company_name", typed, "inform")
    assert result == {"company_name": None}
    assert "不像企业名称" in " ".join(said)


@pytest.mark.parametrize("typed", ["华兴精密", "腾达科技", "鑫源五金制品有限公司，谢谢"])
def test_short_names_and_a_name_in_a_sentence_still_pass(typed: str) -> None:
    result, _ = _validate("company_name", typed, "inform")
    assert result["company_name"]
