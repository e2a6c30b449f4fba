"""A typed yes to the bot's offer of a ticket opens the form with the words that led to it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import ticket_form as form_actions
from actions.offers import TICKET_OFFER, ActionAffirm, offered_ticket
from actions.topics import ANSWER_BUTTONS, APPEAL_BUTTONS
from hotline import db

LETTER = "消防验收报上去七个月了一直没有结果，窗口让我们找中介，请领导过问"


def _user(text: str, intent: str) -> dict[str, Any]:
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}}


def _bot(text: str, buttons: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"event": "bot", "text": text, "data": {"buttons": buttons}}


def _tracker(events: list[dict[str, Any]], slots: dict[str, Any] | None = None) -> Tracker:
    latest = events[-1]
    return Tracker("tg:1", slots or {}, {"text": latest["text"], **latest["parse_data"]},
                   events, False, None, None, "action_listen")


APPEAL = [_user(LETTER, "construction_permit"), _bot("已为您转交住房和城乡建设局。"),
          _bot("需要为您提交诉求吗？", APPEAL_BUTTONS)]


@pytest.mark.parametrize(
    ("events", "offered"),
    [
        (APPEAL + [_user("是的，提交诉求", "affirm")], True),
        (APPEAL + [_user("要", "affirm")], True),
        # the offer was two turns ago: the bot said something else since
        (APPEAL + [_user("谢谢", "thank"), _bot("不客气"), _user("好的", "affirm")], False),
        # the user wrote twice without an answer in between
        (APPEAL + [_user("嗯", "affirm"), _user("好的", "affirm")], False),
        # under an answer, "没解决，提交诉求" is a button, not an offer: 好的 means fine
        ([_user("食品经营许可要什么材料", "business_license"), _bot("材料如下", ANSWER_BUTTONS),
          _user("好的", "affirm")], False),
        ([_user("好的", "affirm")], False),
    ],
)
def test_only_a_yes_right_after_the_offer_answers_it(events: list[dict[str, Any]],
                                                     offered: bool) -> None:
    assert offered_ticket(_tracker(events)) is offered


def test_a_yes_to_the_offer_starts_the_ticket_and_otherwise_is_acknowledged() -> None:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionAffirm().run(
        dispatcher, _tracker(APPEAL + [_user("是的，提交诉求", "affirm")]), {}))
    assert events == [FollowupAction("action_start_ticket")] and dispatcher.messages == []
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionAffirm().run(dispatcher, _tracker([_user("好的", "affirm")]), {}))
    assert events == [] and dispatcher.messages[0]["response"] == "utter_ok"
    assert TICKET_OFFER in APPEAL_BUTTONS and TICKET_OFFER not in ANSWER_BUTTONS


@pytest.mark.parametrize(("typed", "intent"),
                         [("是的，提交诉求", "affirm"), ("提交诉求", "open_ticket")])
def test_the_form_keeps_the_letter_after_a_typed_yes(
        typed: str, intent: str, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(form_actions, "session_scope", lambda: db.session_scope(db_url))
    slots = {"ticket_topic": "construction_permit", "ticket_description": LETTER}
    after_offer = _tracker(APPEAL + [_user(typed, intent)], slots)
    events = asyncio.run(form_actions.ActionStartTicket().run(CollectingDispatcher(), after_offer,
                                                               {}))
    cleared = {e["name"] for e in events if e.get("event") == "slot" and e["value"] is None}
    assert "ticket_description" not in cleared and "company_name" in cleared
    assert events[-1] == FollowupAction("ticket_form")
    # typed later, after something else, a new ticket starts afresh
    later = _tracker(APPEAL + [_user("谢谢", "thank"), _bot("不客气"),
                               _user("我要反映问题", "open_ticket")], slots)
    events = asyncio.run(form_actions.ActionStartTicket().run(CollectingDispatcher(), later, {}))
    assert SlotSet("ticket_description", None) in events
