"""Topic messages: a consult is answered from the knowledge base (一次性告知); an appeal is
told where it goes and offered a ticket."""

from __future__ import annotations

import json
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.offers import TICKET_OFFER
from hotline import routing
from hotline.db import session_scope
from hotline.kb import declined, feedback
from hotline.kb.aspects import Aspect, answerable_aspects, asks_beyond
from hotline.kb.decide import FIGURE_NOT_IN_SOURCE
from hotline.kb.index import get_index
from hotline.kb.models import Entry, Hit, SearchResult
from hotline.kb.render import render_answer, render_focused
from hotline.kb.search import search
from hotline.kb.statutes import law_short_name
from hotline.settings import get_settings

logger = logging.getLogger(__name__)

ANSWER_BUTTONS = [
    {"title": "有用", "payload": "/thank"},
    {"title": "没解决，提交诉求", "payload": "/open_ticket"},
    {"title": "转人工", "payload": "/request_human"},
]
APPEAL_BUTTONS = [
    TICKET_OFFER,
    {"title": "转人工", "payload": "/request_human"},
]


#: Other results offered under an answer: at most this many, scoring at least this share
#: of the answer's first-stage score.
RELATED_MAX = 2
RELATED_SHARE = 0.6
RELATED_TITLE_CHARS = 24
#: A declined question (other than for a figure no source states, which points at its entry
#: already) still gets the closest entries of its topic one tap away, said to be no sure
#: answer, so that a false decline costs a tap rather than the answer. Only entries of the
#: question's topic (the NLU's), scoring within RELATED_SHARE of the first, and only when the
#: first covers NEAREST_MIN_COVERAGE of the question's words: an English question on 开办企业
#: covered 0.13 (人才优粤卡 items), 火星基地入驻补贴 0.29 (社会保险补贴), and 0.2 let both
#: through. Measured with the NLU's topics (session 13,
#: tests/data/nlu_topics_of_kb_questions.json): of the answerable questions declined, buttons
#: for 8 of 15 with the right entry among them for 7 (kb_questions_fresh) and 3 of 13 / 2
#: (kb_questions_statutes); of the unanswerable, buttons for 18 of 64 (kb_unanswerable_fresh)
#: and 11 of 36 (kb_unanswerable).
NEAREST_MAX = 3
NEAREST_MIN_COVERAGE = 0.3
NEAREST_TEXT = "政策库里最接近的内容如下，不一定能回答您的问题，需要的话点一下查看："


def full_button(entry: Entry, title: str = "查看完整办事指南") -> dict[str, str]:
    payload = "/inform" + json.dumps({"kb_full": entry.id}, ensure_ascii=False)
    return {"title": title, "payload": payload}


def short_label(entry: Entry) -> str:
    """A button title for an entry: 《企业所得税法》第九条, or the (shortened) title."""
    if entry.source == "laws":
        name = entry.keywords[0] if entry.keywords else entry.title
        return f"《{name}》{entry.article or ''}"
    title = entry.title
    return title if len(title) <= RELATED_TITLE_CHARS else title[: RELATED_TITLE_CHARS - 1] + "…"


def _cited_as(entry: Entry) -> str:
    """How a curated entry's ``cites`` names ``entry``."""
    return f"{law_short_name(entry.title)} {entry.article}" if entry.article else entry.title


def related(result: SearchResult) -> list[Entry]:
    """Runners-up close enough to the answer that the asker may have meant one of them
    (not the answer again under its own name, nor a source the answer already cites)."""
    top = result.top
    if top is None:
        return []
    shown = {top.entry.title, *top.entry.cites}
    return [h.entry for h in _close(result)[1:]
            if h.entry.title not in shown and _cited_as(h.entry) not in shown][:RELATED_MAX]


def _close(result: SearchResult) -> list[Hit]:
    """The hits scoring within :data:`RELATED_SHARE` of the first (the first included)."""
    top = result.top
    return [h for h in result.hits if top is not None and h.score >= RELATED_SHARE * top.score]


def nearest(result: SearchResult, topic: str) -> list[Entry]:
    """The entries of ``topic`` closest to a declined question, to point at (see
    :data:`NEAREST_MAX`)."""
    if result.coverage < NEAREST_MIN_COVERAGE:
        return []
    by_label: dict[str, Entry] = {}
    for hit in _close(result):
        if hit.entry.topic == topic:
            by_label.setdefault(short_label(hit.entry), hit.entry)
    return list(by_label.values())[:NEAREST_MAX]


def send_answer(dispatcher: CollectingDispatcher, entry: Entry, aspects: list[Aspect],
                others: list[Entry] | None = None, summary: bool = False) -> None:
    """The answer: the asked parts first when the question asked for some (with the full
    一次性告知 list one tap away; with ``summary`` the entry's summary too, for a clause
    no part answers), else the whole entry; then close runners-up one tap away
    (您问的是不是…), then the feedback buttons."""
    chunks = render_focused(entry, aspects, summary=summary) if aspects else render_answer(entry)
    for chunk in chunks:
        dispatcher.utter_message(json_message={"html": chunk})
    if others:
        dispatcher.utter_message(response="utter_kb_related",
                                 buttons=[full_button(e, short_label(e)) for e in others])
    buttons = ([full_button(entry)] if aspects else []) + ANSWER_BUTTONS
    dispatcher.utter_message(response="utter_kb_feedback", buttons=buttons)


def send_full_answer(dispatcher: CollectingDispatcher, entry_id: str) -> list[EventType]:
    """The 查看完整办事指南 button: the whole entry, if it still exists."""
    entry = get_index().by_id.get(entry_id)
    if entry is None:
        dispatcher.utter_message(response="utter_kb_full_gone")
        return []
    send_answer(dispatcher, entry, [])
    return [SlotSet("kb_entry", entry.id)]


def log_declined(result: SearchResult, topic: str | None, conversation_id: str) -> None:
    """Keep the question the knowledge base could not answer, for staff (never fatal)."""
    try:
        with session_scope() as session:
            declined.record(session, result, topic, conversation_id)
    except Exception:  # logging a gap must never cost the enterprise its reply
        logger.exception("could not log a declined knowledge-base question")


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
                entry = result.top.entry
                send_answer(dispatcher, entry, answerable_aspects(result.normalized, entry),
                            related(result), summary=asks_beyond(result.normalized))
                return [*remember(act, topic, text), SlotSet("kb_entry", entry.id)]
            log_declined(result, topic, tracker.sender_id)
            if result.reason == FIGURE_NOT_IN_SOURCE and result.top is not None:
                # on the subject, without the asked amount: say so, the entry one tap away
                entry = result.top.entry
                dispatcher.utter_message(response="utter_kb_figure_not_in_source",
                                         department=entry.department or info.department,
                                         buttons=[full_button(entry, short_label(entry))])
            else:
                dispatcher.utter_message(
                    response="utter_kb_not_sure", topic_zh=info.zh, department=info.department
                )
                if closest := nearest(result, topic):
                    dispatcher.utter_message(text=NEAREST_TEXT, buttons=[
                        full_button(e, short_label(e)) for e in closest])
            dispatcher.utter_message(response="utter_offer_ticket", buttons=APPEAL_BUTTONS)
            return remember(act, topic, text)
        dispatcher.utter_message(
            response="utter_topic_received", topic_zh=info.zh, department=info.department,
            days=info.days,
        )
        dispatcher.utter_message(response="utter_offer_ticket", buttons=APPEAL_BUTTONS)
        return remember(act, topic, text)
