"""Actions for ticket progress (诉求进度查询). Thin: the work is in ``hotline.tickets``."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.identity import VERIFY_BUTTON, start_verification, try_code
from actions.topics import send_full_answer
from hotline import lifecycle, sla, tickets
from hotline.db import session_scope


def latest_entity(tracker: Tracker, name: str) -> str | None:
    value = next(tracker.get_latest_entity_values(name), None)
    return None if value is None or value == "" else str(value)


def tell_ticket(dispatcher: CollectingDispatcher, view: tickets.TicketView) -> None:
    dispatcher.utter_message(
        response="utter_ticket_status",
        ticket_id=view.number,
        topic_zh=view.topic_zh,
        status_zh=view.status_zh,
        department=view.department,
        deadline=view.deadline,
        light=view.light,
    )
    if view.reply:
        dispatcher.utter_message(response="utter_ticket_reply", reply=view.reply)


class ActionCheckTicket(Action):
    """Status of one ticket by number, or the enterprise's open tickets without one."""

    def name(self) -> str:
        return "action_check_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        number = latest_entity(tracker, "ticket_id")
        conversation_id = tracker.sender_id
        with session_scope() as session:
            if number is None:
                open_ones = tickets.open_tickets_for(session, conversation_id)
                hidden = tickets.others_hidden(session, conversation_id)
                if not open_ones:
                    dispatcher.utter_message(response="utter_no_open_tickets")
                else:
                    dispatcher.utter_message(response="utter_open_tickets_header",
                                             count=len(open_ones))
                    for ticket in open_ones:
                        tell_ticket(dispatcher, tickets.view(ticket))
                if hidden:
                    dispatcher.utter_message(response="utter_verify_to_see_more",
                                             buttons=[VERIFY_BUTTON])
                return []
            try:
                ticket = tickets.ticket_for(session, number, conversation_id)
            except tickets.TicketNotFound:  # not found and not yours answer the same
                dispatcher.utter_message(response="utter_ticket_not_found", ticket_id=number)
                return [SlotSet("ticket_id", None)]
            tell_ticket(dispatcher, tickets.view(ticket))
        return [SlotSet("ticket_id", number)]


def rate_ticket(dispatcher: CollectingDispatcher, tracker: Tracker, number: str) -> None:
    """一事一评 from the rating buttons ``/inform{"ticket_id":…,"rating":…,"round":…}``."""
    level = latest_entity(tracker, "rating") or ""
    round_text = latest_entity(tracker, "round")
    round_ = int(round_text) if round_text and round_text.isdigit() else None
    with session_scope() as session:
        try:
            ticket = tickets.ticket_for(session, number, tracker.sender_id)
            outcome = lifecycle.rate(
                session, ticket, level, actor=f"enterprise:{tracker.sender_id}",
                conversation_id=tracker.sender_id, round_=round_,
                notify=False,  # answered right here in the chat
            )
        except tickets.TicketNotFound:  # not yours answers the same
            session.rollback()
            dispatcher.utter_message(response="utter_ticket_not_found", ticket_id=number)
            return
        except lifecycle.LifecycleError as refused:
            session.rollback()
            dispatcher.utter_message(response="utter_rating_refused", reason=str(refused))
            return
        if outcome.reopened:
            dispatcher.utter_message(
                response="utter_rating_reopened", ticket_id=number,
                deadline=sla.as_local(ticket.deadline).strftime("%Y年%m月%d日"),
            )
        else:
            dispatcher.utter_message(response="utter_rating_thanks", ticket_id=number,
                                     level=lifecycle.parse_level(level).zh)


class ActionHandleInform(Action):
    """A bare piece of information: a rating button rates, a ticket number is looked up;
    the rest is acknowledged."""

    def name(self) -> str:
        return "action_handle_inform"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if latest_entity(tracker, "verify_identity") == "start":
            start_verification(dispatcher, tracker)
            return []
        entry_id = latest_entity(tracker, "kb_full")
        if entry_id:
            return send_full_answer(dispatcher, entry_id)
        if try_code(dispatcher, tracker):
            return []
        number = latest_entity(tracker, "ticket_id")
        if number and latest_entity(tracker, "rating"):
            rate_ticket(dispatcher, tracker, number)
            return []
        if number:
            return await ActionCheckTicket().run(dispatcher, tracker, domain)
        if tracker.latest_message.get("shape") == "number":  # digits alone: say what we need
            dispatcher.utter_message(response="utter_number_only")
            return []
        dispatcher.utter_message(response="utter_inform_ack")
        return []
