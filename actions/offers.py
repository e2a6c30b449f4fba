"""The bot's offer of a ticket, and a typed yes to it.

An appeal, a declined question and an after-hours 转人工 end with the offer "提交诉求" as a
button. People on phones often type their answer instead (是的 / 好的，提交诉求 / 要): that
yes opens the form just as the button does, keeping the words that led to the offer. Outside
an offer a yes is only acknowledged.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction
from rasa_sdk.executor import CollectingDispatcher

#: The offer itself. "没解决，提交诉求" under an answer is not an offer: a typed 好的 there
#: means "fine", not "open a ticket".
TICKET_OFFER = {"title": "提交诉求", "payload": "/open_ticket"}


def offered_ticket(tracker: Tracker) -> bool:
    """Whether the bot's turn just before the enterprise's latest message offered a ticket."""
    seen_latest = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            if seen_latest:
                return False  # an earlier turn: the bot said nothing in between
            seen_latest = True
        elif kind == "bot" and seen_latest:
            buttons = (event.get("data") or {}).get("buttons") or []
            if TICKET_OFFER in buttons:
                return True
    return False


class ActionAffirm(Action):
    """A yes outside the form: the offered ticket if there was an offer, else 好的。"""

    def name(self) -> str:
        return "action_affirm"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if offered_ticket(tracker):
            return [FollowupAction("action_start_ticket")]
        dispatcher.utter_message(response="utter_ok")
        return []
