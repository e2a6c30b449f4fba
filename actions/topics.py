"""Topic messages: a consult is answered from the knowledge base (一次性告知); an appeal is
told where it goes and offered a ticket."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from hotline import routing
from hotline.db import session_scope
from hotline.kb import feedback
from hotline.kb.render import render_answer
from hotline.kb.search import search
from hotline.settings import get_settings

logger = logging.getLogger(__name__)

ANSWER_BUTTONS = [
    {"title": "有用", "payload": "/thank"},
    {"title": "没解决，提交诉求", "payload": "/open_ticket"},
    {"title": "转人工", "payload": "/request_human"},
]
APPEAL_BUTTONS = [
    {"title": "提交诉求", "payload": "/open_ticket"},
    {"title": "转人工", "payload": "/request_human"},
]


def act_of(tracker: Tracker) -> str:
    """consult or appeal, from the NLU's act classifier (appeal when unsure)."""
    act = (tracker.latest_message.get("act") or {}).get("name")
    if act is None:
        act = next(tracker.get_latest_entity_values("act"), None)
    return "consult" if act == "consult" else "appeal"


def remember(act: str, topic: str, text: str) -> list[EventType]:
    """Keep the topic and the enterprise's own words: a ticket opened next starts from them."""
    return [
        SlotSet("act", act), SlotSet("ticket_topic", topic), SlotSet("ticket_description", text),
        SlotSet("kb_entry", None),
    ]


def record_kb_feedback(tracker: Tracker, useful: bool) -> list[EventType]:
    """The answer just given was (not) useful: count it for its entry, once."""
    entry_id = tracker.get_slot("kb_entry")
    if not entry_id:
        return []
    with session_scope() as session:
        feedback.record(session, entry_id, tracker.sender_id, useful)
    return [SlotSet("kb_entry", None)]


class ActionThank(Action):
    """Thanks — after an answer, the 有用 button — counted as useful feedback."""

    def name(self) -> str:
        return "action_thank"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_thank")
        return record_kb_feedback(tracker, useful=True)


class ActionHandleTopic(Action):
    def name(self) -> str:
        return "action_handle_topic"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        topic = (tracker.latest_message.get("intent") or {}).get("name") or ""
        text = tracker.latest_message.get("text") or ""
        try:
            info = routing.load_taxonomy(get_settings().routing_file).topic(topic)
        except ValueError:
            dispatcher.utter_message(response="utter_default")
            return []
        act = act_of(tracker)
        if act == "consult":
            result = search(text, topic=topic, k=3)
            if result.confident and result.top is not None:
                for chunk in render_answer(result.top.entry):
                    dispatcher.utter_message(json_message={"html": chunk})
                dispatcher.utter_message(response="utter_kb_feedback", buttons=ANSWER_BUTTONS)
                return [*remember(act, topic, text), SlotSet("kb_entry", result.top.entry.id)]
            dispatcher.utter_message(
                response="utter_kb_not_sure", topic_zh=info.zh, department=info.department
            )
            dispatcher.utter_message(response="utter_offer_ticket", buttons=APPEAL_BUTTONS)
            return remember(act, topic, text)
        dispatcher.utter_message(
            response="utter_topic_received", topic_zh=info.zh, department=info.department,
            days=info.days,
        )
        dispatcher.utter_message(response="utter_offer_ticket", buttons=APPEAL_BUTTONS)
        return remember(act, topic, text)
