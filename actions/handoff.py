"""Handing a chat to a person: 转人工, two fallbacks in a row, a misconduct complaint.

Thin: the state machine is :mod:`hotline.handoff`, the hours :mod:`hotline.office_hours`.
After these actions the gateway routes the conversation by its mode (``bot/relay.py``).
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

import redis
from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.identity import try_code
from actions.offers import TICKET_OFFER
from hotline import handoff
from hotline.handoff import Reason
from hotline.office_hours import OfficeHours
from hotline.settings import get_settings

logger = logging.getLogger(__name__)
FALLBACK_INTENT = "nlu_fallback"


@lru_cache(maxsize=1)
def _redis() -> redis.Redis:
    url = get_settings().redis_url
    if not url:
        raise RuntimeError("REDIS_URL is not set: handoff needs Redis")
    return redis.Redis.from_url(url)


def consecutive_fallbacks(tracker: Tracker) -> int:
    """How many of the enterprise's latest messages in a row the NLU did not understand."""
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent != FALLBACK_INTENT:
            break
        count += 1
    return count


def hand_off(dispatcher: CollectingDispatcher, tracker: Tracker, reason: Reason,
             lead: str | None = None) -> None:
    """Queue the chat for an operator, or say when people are there and offer a ticket."""
    settings = get_settings()
    hours = OfficeHours.parse(settings.office_hours)
    now = datetime.now(timezone.utc)
    if not hours.is_open(now):
        text = (f"{lead}\n" if lead else "") + (
            f"现在是非工作时间，人工客服暂时无法接入。{hours.closed_notice_zh(now)}。"
            "您可以现在提交诉求，工作时间内会有专人跟进并联系您；紧急事项请拨打 12345。")
        dispatcher.utter_message(text=text, buttons=[TICKET_OFFER])
        return
    r = _redis()
    try:
        handoff.request_human(r, tracker.sender_id, reason)
    except handoff.InvalidHandoff as exc:
        dispatcher.utter_message(text=exc.message)
        return
    notice = handoff.queue_notice_zh(r, tracker.sender_id, avg_handle_s=settings.avg_handle_s,
                                     first=True)
    dispatcher.utter_message(text=(f"{lead}\n" if lead else "") + notice,
                             buttons=[handoff.CANCEL_BUTTON])


class ActionRequestHuman(Action):
    """转人工 (also the 转人工 buttons); after a misconduct complaint the reason says so."""

    def name(self) -> str:
        return "action_request_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        reason = (Reason.MISCONDUCT if tracker.get_slot("ticket_topic") == "misconduct"
                  else Reason.REQUEST_HUMAN)
        hand_off(dispatcher, tracker, reason)
        return []


class ActionFallback(Action):
    """Not understood: ask again once; the second time in a row, a person takes over."""

    def name(self) -> str:
        return "action_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        if try_code(dispatcher, tracker):  # a one-time code typed back (企业身份核验)
            return []
        if consecutive_fallbacks(tracker) < handoff.FALLBACK_LIMIT:
            dispatcher.utter_message(response="utter_default")
            return []
        hand_off(dispatcher, tracker, Reason.TWO_FALLBACKS,
                 lead="抱歉，我还是没能理解您的问题，为您转接人工客服。")
        return []
