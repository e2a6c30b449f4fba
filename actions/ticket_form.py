"""The ticket form (诉求登记): start, validation, confirmation, submit, cancel.

Validation replies say exactly what is wrong; a slot returned as None is asked again.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.offers import offered_ticket
from actions.topics import record_kb_feedback
from hotline import enterprises, identity, routing, sla, tickets
from hotline.db import session_scope
from hotline.settings import get_settings
from hotline.textnorm import normalize

FORM_SLOTS = (
    "ticket_topic", "ticket_description", "company_name", "uscc", "contact_name",
    "contact_phone", "ticket_confirm", "known_enterprise", "ticket_cancelled",
)
MIN_TOPIC_CONFIDENCE = 0.6
# While the form asks for something, the answer is that thing — a name like 陈先生 or 小李
# is not a "no" — unless it is clearly a cancel: these words alone, or the 取消 button.
_CANCEL_WORD = (
    r"(?:/deny|取消(?:登记|提交|吧)?|不办了|先不办了|不用办了|不想办了|算了|不用了|不要了|不登记了|"
    r"不提了|不提交了|不填了|不说了|不弄了|退出|放弃|撤销|再见|拜拜|以后再说)"
)
CANCEL = re.compile(rf"(?:{_CANCEL_WORD}[吧了啦呢。.，,！!~～\s]*)+")
CANCELLED = {"ticket_cancelled": True, "requested_slot": None}


def is_cancel(tracker: Tracker) -> bool:
    text = normalize(str(tracker.latest_message.get("text") or "")).strip()
    return CANCEL.fullmatch(text) is not None


def taxonomy() -> routing.Taxonomy:
    return routing.load_taxonomy(get_settings().routing_file)


def topic_of_message(tracker: Tracker) -> str | None:
    intent = tracker.latest_message.get("intent") or {}
    if intent.get("name") in taxonomy().topics and intent.get("confidence", 0) >= MIN_TOPIC_CONFIDENCE:
        return str(intent["name"])
    return None


class ActionStartTicket(Action):
    """Prefill the form: the topic and words of the message that led here, and the
    enterprise on file for this chat (逐户建档) so it is not asked again."""

    def name(self) -> str:
        return "action_start_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        # A button under a topic answer, or a typed yes (提交诉求 / 是的) to the bot's offer,
        # carries that message's topic and words; a typed "我要反映问题" later starts afresh.
        pressed = str(tracker.latest_message.get("text") or "").startswith("/")
        keep = ("ticket_topic", "ticket_description") if pressed or offered_ticket(tracker) else ()
        events: list[EventType] = [SlotSet(slot, None) for slot in FORM_SLOTS if slot not in keep]
        events += record_kb_feedback(tracker, useful=False)  # "没解决，提交诉求"
        with session_scope() as session:
            card = enterprises.card_for(session, tracker.sender_id)
        if card is not None:
            # Filled slots are not asked again; a missing contact still is.
            events += [
                SlotSet("company_name", card.name),
                SlotSet("uscc", card.uscc),
                SlotSet("contact_name", card.contact_name),
                SlotSet("contact_phone", card.contact_phone),
                SlotSet("known_enterprise", card.uscc),
            ]
            dispatcher.utter_message(response="utter_known_enterprise", company=card.name,
                                     uscc=card.uscc)
        # Also after a typed yes (action_affirm), where no rule names the form next.
        return [*events, FollowupAction("ticket_form")]


Cleaner = Callable[[str], tuple[str | None, str | None]]

#: An account of the problem typed where the form asked for a name is at least this long …
STORY_MIN_CHARS = 6
#: … and not an answer about the form's own question (我忘了公司全称了, 联系人找我们老板).
_ABOUT_THE_FORM = re.compile(
    r"全称|名称|名字|叫什么|信用代码|代码|执照|电话|手机|号码|联系人|称呼|姓名|姓|找我|找他|找她|联系我")


#: Where a sentence is certainly no answer (a name is asked): it is taken as the problem told.
STORY_SLOTS = ("company_name", "contact_name")


def is_story(text: str) -> bool:
    """Whether ``text``, refused as a name, tells the problem instead."""
    text = normalize(text).strip()
    return (len(text) >= STORY_MIN_CHARS and enterprises.is_sentence(text)
            and _ABOUT_THE_FORM.search(text) is None)


def add_story(text: str, tracker: Tracker, dispatcher: CollectingDispatcher) -> dict[str, Any]:
    """The enterprise told (more of) its problem where the form asked for a name: its words
    join the ticket's description, where the department reads them (nothing typed is lost,
    nor taken for a name), and the form asks for the name again. A topic the NLU is sure of
    becomes the ticket's: the latest words say best what the enterprise wants handled; one
    it only leans to, other than the ticket's, clears it, and the form asks the category
    (the likeliest first) before the name."""
    text = str(text).strip()
    before = str(tracker.get_slot("ticket_description") or "")
    combined = before if text in before else (f"{before}\n（补充）{text}" if before else text)
    combined, issue = tickets.validate_description(combined)
    slots: dict[str, Any] = {"ticket_description": combined}
    said = "好的，这段情况已补充进诉求内容。"
    topic, current = topic_of_message(tracker), tracker.get_slot("ticket_topic")
    leaning = (tracker.latest_message.get("intent") or {}).get("name")
    if topic and topic != current:
        slots["ticket_topic"] = topic
        said = f"好的，这段情况已补充进诉求内容，诉求类别改为“{taxonomy().topic(topic).zh}”。"
    elif topic is None and leaning in taxonomy().topics and leaning != current:
        slots["ticket_topic"] = None
    dispatcher.utter_message(text=said)
    if issue is not None:  # too long: kept whole, with the advice to sum it up
        dispatcher.utter_message(text=issue.message)
    return slots


def _cleaned(slot: str, clean: Cleaner) -> Callable[..., dict[str, Any]]:
    """A slot validator from a ``hotline.enterprises`` cleaner: the canonical value, or
    None plus the cleaner's Chinese reason so the form asks again."""

    def validate(
        self: FormValidationAction, value: Any, dispatcher: CollectingDispatcher,
        tracker: Tracker, domain: DomainDict,
    ) -> dict[str, Any]:
        if value is None:  # cleared by action_start_ticket, not typed
            return {slot: None}
        if is_cancel(tracker):
            return {slot: None, **CANCELLED}
        cleaned, problem = clean(str(value))
        if cleaned is None and slot in STORY_SLOTS and is_story(str(value)):
            return {slot: None, **add_story(str(value), tracker, dispatcher)}
        if problem:
            dispatcher.utter_message(text=problem)
        return {slot: cleaned}

    return validate


class ValidateTicketForm(FormValidationAction):
    def name(self) -> str:
        return "validate_ticket_form"

    def validate_ticket_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:  # cleared by action_start_ticket, not typed
            return {"ticket_description": None}
        if is_cancel(tracker):
            return {"ticket_description": None, **CANCELLED}
        text, issue = tickets.validate_description(str(value))
        if issue is not None:
            dispatcher.utter_message(text=issue.message)
            if issue.blocking:
                return {"ticket_description": None}
        slots: dict[str, Any] = {"ticket_description": text}
        if not tracker.get_slot("ticket_topic"):
            topic = topic_of_message(tracker)
            if topic:
                slots["ticket_topic"] = topic
        return slots

    def validate_ticket_topic(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:  # cleared by action_start_ticket, not typed
            return {"ticket_topic": None}
        if is_cancel(tracker):
            return {"ticket_topic": None, **CANCELLED}
        topics = taxonomy().topics
        if isinstance(value, str) and value in topics:  # a list or dict is no topic (unhashable)
            return {"ticket_topic": value}
        typed = normalize(str(value)).strip(" 。.")
        for name, topic in topics.items():  # a category's name typed instead of pressed
            if typed and (typed == topic.zh or (len(typed) >= 2 and typed in topic.zh)):
                return {"ticket_topic": name}
        dispatcher.utter_message(text="请点击下方按钮选择诉求类别。")
        return {"ticket_topic": None}

    validate_company_name = _cleaned("company_name", enterprises.clean_company)
    validate_uscc = _cleaned("uscc", enterprises.clean_uscc)
    validate_contact_name = _cleaned("contact_name", enterprises.clean_person)
    validate_contact_phone = _cleaned("contact_phone", enterprises.clean_phone)

    def validate_ticket_confirm(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:  # cleared by action_start_ticket, not typed
            return {"ticket_confirm": None}
        if value is False or is_cancel(tracker):
            return {"ticket_confirm": None, **CANCELLED}
        if value is True:
            return {"ticket_confirm": True}
        dispatcher.utter_message(text="请点击“确认提交”，或发送“取消”放弃登记。")
        return {"ticket_confirm": None}


class ActionAskTicketTopic(Action):
    """Ask the category with buttons: the NLU's best topic guesses first."""

    def name(self) -> str:
        return "action_ask_ticket_topic"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        topics = taxonomy().topics
        ranked = [r["name"] for r in tracker.latest_message.get("intent_ranking") or []
                  if r.get("name") in topics][:4]
        ranked += [t for t in topics if t not in ranked]
        buttons = [
            {"title": topics[t].zh, "payload": f'/inform{{"ticket_topic":"{t}"}}'}
            for t in ranked
        ]
        dispatcher.utter_message(text="请选择诉求类别（最可能的排在前面）：", buttons=buttons)
        return []


class ActionAskTicketConfirm(Action):
    def name(self) -> str:
        return "action_ask_ticket_confirm"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        topic = taxonomy().topic(tracker.get_slot("ticket_topic"))
        description = str(tracker.get_slot("ticket_description") or "")
        shown = description if len(description) <= 200 else description[:200] + "…"
        dispatcher.utter_message(
            text=(
                "请核对诉求信息：\n"
                f"类别：{topic.zh}（承办：{topic.department}，{topic.days}个工作日）\n"
                f"内容：{shown}\n"
                f"企业：{tracker.get_slot('company_name')}\n"
                f"信用代码：{tracker.get_slot('uscc')}\n"
                f"联系人：{tracker.get_slot('contact_name')}  {tracker.get_slot('contact_phone')}"
            ),
            buttons=[
                {"title": "确认提交", "payload": "/affirm"},
                {"title": "取消", "payload": "/deny"},
            ],
        )
        return []


class ActionSubmitTicket(Action):
    def name(self) -> str:
        return "action_submit_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        slot = tracker.get_slot
        if slot("ticket_cancelled") or slot("ticket_confirm") is not True:
            dispatcher.utter_message(response="utter_ticket_cancelled")
            return [SlotSet(s, None) for s in FORM_SLOTS] + [SlotSet("requested_slot", None)]
        with session_scope() as session:
            company = identity.claim(
                session, tracker.sender_id, uscc=slot("uscc"), name=slot("company_name"),
                contact_name=slot("contact_name"), contact_phone=slot("contact_phone"),
                actor=f"enterprise:{tracker.sender_id}",
            )
            ticket = tickets.create_ticket(
                session, topic=slot("ticket_topic"), description=slot("ticket_description"),
                conversation_id=tracker.sender_id, enterprise_id=company.id,
                applicant_verified=identity.verified_enterprise(session, tracker.sender_id)
                == company.id,
                contact_name=slot("contact_name"), contact_phone=slot("contact_phone"),
                act=slot("act") or "appeal", actor=f"enterprise:{tracker.sender_id}",
                notify=False,  # told right here in the chat
            )
            dispatcher.utter_message(
                response="utter_ticket_created", ticket_id=ticket.number,
                department=ticket.department.name if ticket.department else "",
                days=ticket.limit_days,
                deadline=sla.as_local(ticket.deadline).strftime("%Y年%m月%d日"),
            )
            number = ticket.number
        return [SlotSet(s, None) for s in FORM_SLOTS] + [SlotSet("ticket_id", number)]


class ActionCancelTicket(Action):
    def name(self) -> str:
        return "action_cancel_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_ticket_cancelled")
        return [SlotSet(s, None) for s in FORM_SLOTS] + [SlotSet("requested_slot", None)]
