"""Identity in the conversation, as the action server runs it: progress answers, the verify
button, a code typed back, and a stranger's rating button for someone else's ticket."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions import handoff as handoff_actions
from actions import identity as identity_actions
from actions import tickets as ticket_actions
from hotline import db, identity, lifecycle, tickets
from hotline.models import NotificationOutbox

USCC = "91440300MA5FHX7K1T"
OWNER, STRANGER = "tg:100", "tg:200"


@pytest.fixture
def scoped(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    for module in (identity_actions, ticket_actions):
        monkeypatch.setattr(module, "session_scope", lambda: db.session_scope(db_url))
    return db_url


def _tracker(conv: str, text: str, intent: str = "inform",
             entities: list[dict[str, Any]] | None = None) -> Tracker:
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.9},
              "entities": entities or []}
    return Tracker(conv, {}, latest, [{"event": "user", "text": text,
                                       "parse_data": {"intent": {"name": intent}}}],
                   False, None, None, "action_listen")


def _run(action: Any, tracker: Tracker) -> list[dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    asyncio.run(action.run(dispatcher, tracker, {}))
    return dispatcher.messages


def _setup(db_url: str) -> str:
    with db.session_scope(db_url) as session:
        company = identity.claim(session, OWNER, uscc=USCC, name="深圳市华兴精密制造有限公司",
                                 contact_name="张三", contact_phone="13800138000", actor="x")
        identity.staff_verify(session, OWNER, actor="staff:op")
        ticket = tickets.create_ticket(session, topic="tax", description="留抵退税没到账",
                                       conversation_id=OWNER, enterprise_id=company.id)
        lifecycle.take(session, ticket, actor="d")
        lifecycle.resolve(session, ticket, "已办理退税。", actor="d")
        tickets.create_ticket(session, topic="land", description="土地证", conversation_id=OWNER,
                              enterprise_id=company.id)
        identity.claim(session, STRANGER, uscc=USCC, name="华兴", contact_name="李四",
                       contact_phone="13900139000", actor="x")
        return ticket.number


def test_stranger_with_the_code_gets_the_same_answer_as_for_a_missing_ticket(scoped: str) -> None:
    number = _setup(scoped)
    ent = [{"entity": "ticket_id", "value": number}]
    mine = _run(ticket_actions.ActionCheckTicket(), _tracker(STRANGER, "查", "check_ticket", ent))
    missing = _run(ticket_actions.ActionCheckTicket(), _tracker(
        STRANGER, "查", "check_ticket", [{"entity": "ticket_id", "value": "T20990101-0001"}]))
    assert [m["response"] for m in mine] == [m["response"] for m in missing] == [
        "utter_ticket_not_found"]
    rate = _run(ticket_actions.ActionHandleInform(), _tracker(
        STRANGER, "/inform", entities=ent + [{"entity": "rating", "value": "s"},
                                             {"entity": "round", "value": "0"}]))
    assert rate[0]["response"] == "utter_ticket_not_found"
    with db.session_scope(scoped) as session:
        assert tickets.by_number(session, number).status == "resolved"  # not rated by a stranger


def test_progress_offers_verification_and_a_typed_code_verifies(scoped: str,
                                                                 monkeypatch) -> None:
    _setup(scoped)
    said = _run(ticket_actions.ActionCheckTicket(), _tracker(STRANGER, "我的诉求呢", "check_ticket"))
    assert said[0]["response"] == "utter_no_open_tickets"
    assert said[-1]["response"] == "utter_verify_to_see_more"
    assert said[-1]["buttons"] == [identity_actions.VERIFY_BUTTON]
    start = _run(ticket_actions.ActionHandleInform(), _tracker(
        STRANGER, identity_actions.VERIFY_BUTTON["payload"],
        entities=[{"entity": "verify_identity", "value": "start"}]))
    assert "验证码已发送" in start[0]["text"]
    with db.session_scope(scoped) as session:
        row = session.scalars(select(NotificationOutbox).where(
            NotificationOutbox.kind == "identity.code")).one()
        assert row.conversation_id == OWNER
        code = re.search(r"验证码：(\d{6})", row.text).group(1)  # type: ignore[union-attr]
    wrong = "000000" if code != "000000" else "111111"
    # A six-digit code the NLU could not place goes to the fallback action: still checked.
    monkeypatch.setattr(handoff_actions, "consecutive_fallbacks", lambda t: 1)
    said = _run(handoff_actions.ActionFallback(), _tracker(STRANGER, wrong, "nlu_fallback"))
    assert "还可以再试4次" in said[0]["text"]
    said = _run(ticket_actions.ActionHandleInform(), _tracker(STRANGER, f" {code} "))
    assert "验证成功" in said[0]["text"]
    said = _run(ticket_actions.ActionCheckTicket(), _tracker(STRANGER, "我的诉求呢", "check_ticket"))
    assert said[0]["response"] == "utter_open_tickets_header"
    assert all(m.get("response") != "utter_verify_to_see_more" for m in said)


def test_verifying_without_a_verified_channel_points_to_staff(scoped: str) -> None:
    with db.session_scope(scoped) as session:
        identity.claim(session, STRANGER, uscc=USCC, name="华兴", contact_name=None,
                       contact_phone=None, actor="x")
    said = _run(ticket_actions.ActionHandleInform(), _tracker(
        STRANGER, "/inform", entities=[{"entity": "verify_identity", "value": "start"}]))
    assert "转人工核验" in said[0]["text"]
    assert said[0]["buttons"] == [identity_actions.HUMAN_BUTTON]
    # With no code pending, six digits are not taken as one.
    said = _run(ticket_actions.ActionHandleInform(), _tracker(STRANGER, "123456"))
    assert all("验证" not in (m.get("text") or "") for m in said)
