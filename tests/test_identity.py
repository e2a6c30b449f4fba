"""An enterprise is who it proves to be: a typed (public) credit code is only a claim.

Each test reproduces a step of the audit's attack (a stranger's chat types the victim's
统一社会信用代码) or a way to prove identity (one-time code, staff confirmation).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline import identity, lifecycle, tickets
from hotline.models import Enterprise, EnterpriseEvent, NotificationOutbox, Ticket

USCC = "91440300MA5FHX7K1T"
NOW = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)
VICTIM, STRANGER, COLLEAGUE = "tg:100", "web:2f1c0f5e-0000-4000-8000-000000000001", "tg:300"


def _claim(session: Session, conversation: str, name: str = "深圳市华兴精密制造有限公司",
           contact: str = "张三", phone: str = "13800138000") -> Enterprise:
    return identity.claim(session, conversation, uscc=USCC, name=name, contact_name=contact,
                          contact_phone=phone, actor=f"enterprise:{conversation}", now=NOW)


def _ticket(session: Session, conversation: str, enterprise: Enterprise) -> Ticket:
    return tickets.create_ticket(session, topic="tax", description="留抵退税三个月没到账",
                                 conversation_id=conversation, enterprise_id=enterprise.id,
                                 now=NOW)


@pytest.fixture
def victim(session: Session) -> tuple[Enterprise, Ticket]:
    """The enterprise on file, its chat verified by staff, and a resolved ticket with a reply."""
    enterprise = _claim(session, VICTIM)
    identity.staff_verify(session, VICTIM, actor="staff:op1", now=NOW)
    ticket = _ticket(session, VICTIM, enterprise)
    lifecycle.take(session, ticket, actor="dept", now=NOW + timedelta(hours=1))
    lifecycle.resolve(session, ticket, "已为贵司办理留抵退税 35 万元。", actor="dept",
                      now=NOW + timedelta(days=1))
    return enterprise, ticket


def test_a_stranger_typing_the_code_overwrites_nothing(session: Session, victim) -> None:
    enterprise, _ = victim
    _claim(session, STRANGER, name="华兴精密", contact="李四", phone="13900139000")
    session.refresh(enterprise)
    assert (enterprise.name, enterprise.contact_name, enterprise.contact_phone) == (
        "深圳市华兴精密制造有限公司", "张三", "13800138000")
    changes = identity.pending_changes(session, enterprise.id)
    assert [(c.conversation_id, c.name, c.contact_name, c.contact_phone) for c in changes] == [
        (STRANGER, "华兴精密", "李四", "13900139000")]
    # Filing again with the same data does not pile up the same proposal.
    _claim(session, STRANGER, name="华兴精密", contact="李四", phone="13900139000")
    assert len(identity.pending_changes(session, enterprise.id)) == 1


def test_a_stranger_sees_and_rates_only_its_own_tickets(session: Session, victim) -> None:
    enterprise, victims = victim
    _claim(session, STRANGER)
    own = _ticket(session, STRANGER, enterprise)
    assert [t.number for t in tickets.open_tickets_for(session, STRANGER)] == [own.number]
    with pytest.raises(tickets.TicketNotFound):  # the department's reply stays hidden
        tickets.ticket_for(session, victims.number, STRANGER)
    with pytest.raises(tickets.TicketNotFound):
        tickets.rate_from_chat(session, number=victims.number, level="s",
                               conversation_id=STRANGER, round_=0, now=NOW + timedelta(days=2))
    session.refresh(victims)
    assert victims.status == "resolved"
    assert tickets.ticket_for(session, own.number, STRANGER).id == own.id
    # The victim's verified chat sees both, and its card has the file's contact.
    assert {t.number for t in tickets.open_tickets_for(session, VICTIM)} == {own.number}
    assert tickets.ticket_for(session, own.number, VICTIM).id == own.id
    assert tickets.others_hidden(session, STRANGER) == 0  # victim's only ticket is resolved
    assert not own.applicant_verified


def test_unverified_chat_is_told_other_tickets_exist_but_not_which(session: Session,
                                                                   victim) -> None:
    enterprise, _ = victim
    _ticket(session, VICTIM, enterprise)  # an open one of the victim's
    _claim(session, STRANGER)
    assert tickets.others_hidden(session, STRANGER) == 1
    assert tickets.open_tickets_for(session, STRANGER) == []


def test_staff_confirmation_verifies_with_an_audit_event(session: Session, victim) -> None:
    enterprise, victims = victim
    _claim(session, COLLEAGUE)
    with pytest.raises(tickets.TicketNotFound):
        tickets.ticket_for(session, victims.number, COLLEAGUE)
    identity.staff_verify(session, COLLEAGUE, actor="staff:op2", now=NOW)
    assert tickets.ticket_for(session, victims.number, COLLEAGUE).id == victims.id
    event = session.scalars(select(EnterpriseEvent).where(
        EnterpriseEvent.conversation_id == COLLEAGUE, EnterpriseEvent.kind == "verified")).one()
    assert event.actor == "staff:op2"
    identity.revoke(session, COLLEAGUE, actor="staff:op2", now=NOW)
    with pytest.raises(tickets.TicketNotFound):
        tickets.ticket_for(session, victims.number, COLLEAGUE)


def test_claiming_another_enterprise_drops_the_verification(session: Session, victim) -> None:
    other = identity.claim(session, VICTIM, uscc="91110000802100433B", name="北京某某有限公司",
                           contact_name=None, contact_phone=None, actor="x", now=NOW)
    claim = identity.claim_of(session, VICTIM)
    assert claim is not None and claim.enterprise_id == other.id and not claim.verified


def _code_sent_to(session: Session, conversation: str) -> str:
    row = session.scalars(select(NotificationOutbox).where(
        NotificationOutbox.conversation_id == conversation,
        NotificationOutbox.kind == "identity.code").order_by(NotificationOutbox.id.desc())).first()
    assert row is not None
    match = re.search(r"验证码：(\d{6})", row.text)
    assert match is not None
    return match.group(1)


def test_one_time_code_goes_to_the_verified_chat_and_verifies(session: Session, victim) -> None:
    _, victims = victim
    _claim(session, COLLEAGUE)
    result, count = identity.start_challenge(session, COLLEAGUE, now=NOW)
    assert (result, count) == (identity.ChallengeResult.SENT, 1)
    code = _code_sent_to(session, VICTIM)
    wrong = "000000" if code != "000000" else "111111"
    assert identity.check_code(session, COLLEAGUE, wrong, now=NOW) == (
        identity.CodeResult.WRONG, identity.MAX_ATTEMPTS - 1)
    assert identity.check_code(session, COLLEAGUE, code, now=NOW)[0] is identity.CodeResult.VERIFIED
    assert tickets.ticket_for(session, victims.number, COLLEAGUE).id == victims.id
    # Used once: the same code does nothing more.
    assert identity.check_code(session, COLLEAGUE, code, now=NOW)[0] is identity.CodeResult.NONE
    assert identity.start_challenge(session, COLLEAGUE, now=NOW)[0] is \
        identity.ChallengeResult.ALREADY_VERIFIED


def test_codes_expire_and_wrong_tries_are_limited(session: Session, victim) -> None:
    _claim(session, COLLEAGUE)
    identity.start_challenge(session, COLLEAGUE, now=NOW)
    code = _code_sent_to(session, VICTIM)
    late = NOW + identity.CODE_TTL + timedelta(seconds=1)
    assert identity.check_code(session, COLLEAGUE, code, now=late)[0] is identity.CodeResult.NONE
    identity.start_challenge(session, COLLEAGUE, now=NOW)
    code = _code_sent_to(session, VICTIM)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(identity.MAX_ATTEMPTS - 1):
        assert identity.check_code(session, COLLEAGUE, wrong, now=NOW)[0] is identity.CodeResult.WRONG
    assert identity.check_code(session, COLLEAGUE, wrong, now=NOW)[0] is identity.CodeResult.EXPIRED
    assert identity.check_code(session, COLLEAGUE, code, now=NOW)[0] is identity.CodeResult.NONE
    assert identity.claim_of(session, COLLEAGUE).verified is False  # type: ignore[union-attr]
    # Three codes an hour at most.
    assert identity.start_challenge(session, COLLEAGUE, now=NOW)[0] is identity.ChallengeResult.SENT
    assert identity.start_challenge(session, COLLEAGUE, now=NOW)[0] is \
        identity.ChallengeResult.TOO_MANY


def test_no_verified_channel_means_staff_must_verify(session: Session) -> None:
    _claim(session, STRANGER)  # first filing: the enterprise is created, the chat not verified
    assert identity.claim_of(session, STRANGER).verified is False  # type: ignore[union-attr]
    assert identity.start_challenge(session, STRANGER, now=NOW)[0] is \
        identity.ChallengeResult.NO_CHANNEL
    assert identity.start_challenge(session, "tg:999", now=NOW)[0] is \
        identity.ChallengeResult.NO_CLAIM


def test_staff_approve_or_reject_proposed_changes(session: Session, victim) -> None:
    enterprise, _ = victim
    _claim(session, STRANGER, contact="李四", phone="13900139000")
    _claim(session, COLLEAGUE, contact="王五", phone="13700137000")
    first, second = identity.pending_changes(session, enterprise.id)
    identity.decide_change(session, first.id, approve=False, actor="staff:sup", now=NOW)
    identity.decide_change(session, second.id, approve=True, actor="staff:sup", now=NOW)
    session.refresh(enterprise)
    assert (enterprise.contact_name, enterprise.contact_phone) == ("王五", "13700137000")
    with pytest.raises(identity.IdentityError):
        identity.decide_change(session, second.id, approve=True, actor="staff:sup", now=NOW)
    kinds = [e.kind for e in identity.events_of(session, enterprise.id)]
    assert "change_approved" in kinds and "change_rejected" in kinds
