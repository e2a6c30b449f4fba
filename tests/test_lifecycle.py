"""Ticket lifecycle: transitions, audit trail, outbox rows, ratings (一事一评), reopen, bad input."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline import lifecycle, sla, tickets
from hotline.lifecycle import AlreadyRated, InvalidInput, InvalidTransition
from hotline.models import (
    NotificationOutbox,
    Rating,
    Ticket,
    TicketEvent,
    TicketStatus,
)

NOON = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)  # Friday 12:00 in Shanghai
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
STAFF = "staff:王科长"


def new_ticket(session: Session, conversation_id: str | None = "tg:42", topic: str = "tax") -> Ticket:
    return tickets.create_ticket(
        session, topic=topic, description="增值税专用发票领用额度不够，影响开票",
        conversation_id=conversation_id, now=NOON,
    )


def resolved_ticket(session: Session, conversation_id: str | None = "tg:42") -> Ticket:
    ticket = new_ticket(session, conversation_id)
    lifecycle.take(session, ticket, actor=STAFF, now=NOON + HOUR)
    lifecycle.resolve(session, ticket, "已为贵司调增发票领用额度至每月100份。", actor=STAFF,
                      now=NOON + DAY)
    return ticket


def trail(session: Session, ticket: Ticket) -> list[tuple[str | None, str]]:
    events = session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
    )
    return [(e.from_status, e.to_status) for e in events]


def outbox_rows(session: Session, ticket: Ticket) -> list[NotificationOutbox]:
    return list(session.scalars(
        select(NotificationOutbox).where(NotificationOutbox.ticket_id == ticket.id)
        .order_by(NotificationOutbox.id)
    ))


def test_happy_path_records_every_step_and_notifies_each(session: Session) -> None:
    ticket = resolved_ticket(session)
    outcome = lifecycle.rate(session, ticket, "satisfied", "  办得很快 ", now=NOON + 2 * DAY)

    assert ticket.status == TicketStatus.RATED.value
    assert not outcome.reopened
    assert outcome.rating.level == "satisfied" and outcome.rating.comment == "办得很快"
    assert trail(session, ticket) == [
        (None, "received"), ("received", "dispatched"), ("dispatched", "in_progress"),
        ("in_progress", "resolved"), ("resolved", "rated"),
    ]
    take_event = session.scalars(select(TicketEvent).where(
        TicketEvent.ticket_id == ticket.id, TicketEvent.to_status == "in_progress")).one()
    assert take_event.actor == STAFF and take_event.at == NOON + HOUR

    rows = outbox_rows(session, ticket)
    assert [r.kind for r in rows] == [
        "ticket.dispatched", "ticket.in_progress", "ticket.resolved", "ticket.rated"
    ]
    assert all(r.conversation_id == "tg:42" and r.channel == "tg" and r.status == "pending"
               for r in rows)
    receipt = rows[0].text
    assert ticket.number in receipt and "已受理" in receipt and "税务局" in receipt
    assert "2026年11月27日 23:59" in receipt and "绿灯" in receipt
    answer = rows[2]
    assert "已为贵司调增发票领用额度" in answer.text and "按期办结" in answer.text
    assert [b["title"] for b in answer.buttons] == ["满意", "基本满意", "不满意"]
    for button, code in zip(answer.buttons, "sbd"):
        payload = button["payload"]
        assert len(payload.encode()) <= 64
        assert payload.startswith("/inform{")
        assert json.loads(payload[len("/inform"):]) == {
            "ticket_id": ticket.number, "rating": code, "round": 0
        }
    assert "满意" in rows[3].text and rows[3].buttons is None
    assert ticket.first_resolved_at == ticket.resolved_at == NOON + DAY


def test_dissatisfied_reopens_with_new_deadline_and_a_new_round(session: Session) -> None:
    ticket = resolved_ticket(session)
    rated_at = datetime(2026, 11, 24, 4, 0, tzinfo=timezone.utc)  # Tuesday noon
    outcome = lifecycle.rate(session, ticket, "d", "额度还是不够用", now=rated_at)

    assert outcome.reopened
    assert ticket.status == TicketStatus.REOPENED.value
    assert ticket.escalated is True and ticket.reopen_count == 1
    assert ticket.reply is None and ticket.resolved_at is None
    assert ticket.first_resolved_at == NOON + DAY  # handling time still counts to the first answer
    # Tuesday + 5 working days (tax) → end of the next Tuesday, counted from the reopen.
    assert sla.as_local(ticket.deadline).date().isoformat() == "2026-12-01"
    assert trail(session, ticket)[-1] == ("resolved", "reopened")
    reopened_notice = outbox_rows(session, ticket)[-1]
    assert reopened_notice.kind == "ticket.reopened" and "重办" in reopened_notice.text
    assert "2026年12月01日" in reopened_notice.text

    # The same button again, while the ticket is being redone.
    with pytest.raises(AlreadyRated, match="您已评价过该工单"):
        lifecycle.rate(session, ticket, "d", now=rated_at + HOUR)

    lifecycle.take(session, ticket, actor=STAFF, now=rated_at + HOUR)
    lifecycle.resolve(session, ticket, "已协调追加额度，并开通电子发票。", actor=STAFF,
                      now=rated_at + DAY)
    answer = outbox_rows(session, ticket)[-1]
    assert json.loads(answer.buttons[0]["payload"][len("/inform"):])["round"] == 1
    # A stale button of the first answer does not rate the second one.
    with pytest.raises(AlreadyRated):
        lifecycle.rate(session, ticket, "s", round_=0, now=rated_at + 2 * DAY)
    second = lifecycle.rate(session, ticket, "b", round_=1, now=rated_at + 2 * DAY)
    assert second.rating.round == 1 and ticket.status == TicketStatus.RATED.value
    assert ticket.first_resolved_at == NOON + DAY and ticket.resolved_at == rated_at + DAY
    assert session.scalar(select(func.count()).select_from(Rating)) == 2


def test_rating_pressed_twice_is_refused(session: Session) -> None:
    ticket = resolved_ticket(session)
    lifecycle.rate(session, ticket, "满意", now=NOON + 2 * DAY)
    events_before = len(trail(session, ticket))
    with pytest.raises(AlreadyRated, match="您已评价过该工单"):
        lifecycle.rate(session, ticket, "不满意", now=NOON + 2 * DAY)
    assert ticket.status == TicketStatus.RATED.value
    assert len(trail(session, ticket)) == events_before


def test_rating_an_unresolved_ticket_is_refused(session: Session) -> None:
    ticket = new_ticket(session)
    with pytest.raises(InvalidTransition, match="工单尚未办结，暂不能评价"):
        lifecycle.rate(session, ticket, "satisfied", now=NOON + HOUR)
    lifecycle.take(session, ticket, actor=STAFF, now=NOON + HOUR)
    with pytest.raises(InvalidTransition, match="工单尚未办结"):
        lifecycle.rate(session, ticket, "s", now=NOON + HOUR)
    assert session.scalar(select(func.count()).select_from(Rating)) == 0


def test_one_rating_per_round_is_enforced_by_the_database(session: Session) -> None:
    ticket = resolved_ticket(session)
    session.add(Rating(ticket_id=ticket.id, round=0, level="satisfied", actor="enterprise"))
    session.flush()
    session.add(Rating(ticket_id=ticket.id, round=0, level="dissatisfied", actor="enterprise"))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ("take_twice", "无需重复签收"),
        ("resolve_untaken", "请先签收"),
        ("reopen_open", "尚未办结"),
        ("dispatch_in_progress", "不能再改派"),
        ("take_resolved", "不能签收"),
    ],
)
def test_invalid_transitions_are_refused_in_chinese_and_change_nothing(
    session: Session, step: str, message: str
) -> None:
    ticket = new_ticket(session)
    other = tickets.department_named(session, "商务局")
    if step in ("take_twice", "dispatch_in_progress"):
        lifecycle.take(session, ticket, actor=STAFF, now=NOON + HOUR)
    if step == "take_resolved":
        lifecycle.take(session, ticket, actor=STAFF, now=NOON + HOUR)
        lifecycle.resolve(session, ticket, "已办结", actor=STAFF, now=NOON + 2 * HOUR)
    status, dept, events, rows = (ticket.status, ticket.department_id,
                                  len(trail(session, ticket)), len(outbox_rows(session, ticket)))
    calls = {
        "take_twice": lambda: lifecycle.take(session, ticket, actor=STAFF, now=NOON + DAY),
        "take_resolved": lambda: lifecycle.take(session, ticket, actor=STAFF, now=NOON + DAY),
        "resolve_untaken": lambda: lifecycle.resolve(session, ticket, "答复", actor=STAFF,
                                                     now=NOON + DAY),
        "reopen_open": lambda: lifecycle.reopen(session, ticket, actor="operator:李",
                                                now=NOON + DAY),
        "dispatch_in_progress": lambda: lifecycle.dispatch(session, ticket, other,
                                                           actor="operator:李", now=NOON + DAY),
    }
    with pytest.raises(InvalidTransition, match=message) as caught:
        calls[step]()
    assert caught.value.message == str(caught.value)
    assert (ticket.status, ticket.department_id) == (status, dept)
    assert len(trail(session, ticket)) == events
    assert len(outbox_rows(session, ticket)) == rows


def test_redispatch_and_change_status(session: Session) -> None:
    ticket = new_ticket(session)
    commerce = tickets.department_named(session, "商务局")
    event = lifecycle.change_status(session, ticket, "dispatched", actor="operator:李",
                                    department=commerce, note="涉及出口退税", now=NOON + HOUR)
    assert event.note == "改派至商务局：涉及出口退税"
    assert ticket.department.name == "商务局"
    assert "改派至商务局" in outbox_rows(session, ticket)[-1].text
    with pytest.raises(InvalidTransition, match="无需重复分派"):
        lifecycle.dispatch(session, ticket, commerce, now=NOON + HOUR)
    with pytest.raises(InvalidInput, match="须指定承办部门"):
        lifecycle.change_status(session, ticket, "dispatched", actor=STAFF, now=NOON + HOUR)
    with pytest.raises(InvalidTransition, match="评价只能由企业作出"):
        lifecycle.change_status(session, ticket, "rated", actor=STAFF, now=NOON + HOUR)
    with pytest.raises(InvalidTransition):
        lifecycle.change_status(session, ticket, "received", actor=STAFF, now=NOON + HOUR)
    with pytest.raises(InvalidInput, match="未知的工单状态"):
        lifecycle.change_status(session, ticket, "closed", actor=STAFF, now=NOON + HOUR)
    lifecycle.change_status(session, ticket, "in_progress", actor=STAFF, note="已联系企业核实",
                            now=NOON + HOUR)
    assert "办理说明：已联系企业核实" in outbox_rows(session, ticket)[-1].text
    with pytest.raises(InvalidInput, match="不能为空"):
        lifecycle.change_status(session, ticket, "resolved", actor=STAFF, note="  ",
                                now=NOON + DAY)
    lifecycle.change_status(session, ticket, "resolved", actor=STAFF, note="已办结答复",
                            now=NOON + DAY)
    assert ticket.reply == "已办结答复"


def test_operator_may_reopen_a_rated_ticket(session: Session) -> None:
    ticket = resolved_ticket(session)
    lifecycle.rate(session, ticket, "s", now=NOON + 2 * DAY)
    lifecycle.reopen(session, ticket, actor="operator:回访", reason="回访发现未落实",
                     now=NOON + 3 * DAY)
    assert ticket.status == "reopened" and ticket.reopen_count == 1 and ticket.escalated
    assert trail(session, ticket)[-1] == ("rated", "reopened")


@pytest.mark.parametrize("reply", ["", "   \n ", None])
def test_resolve_needs_a_written_reply(session: Session, reply: str | None) -> None:
    ticket = new_ticket(session)
    lifecycle.take(session, ticket, actor=STAFF, now=NOON + HOUR)
    with pytest.raises(InvalidInput, match="书面答复"):
        lifecycle.resolve(session, ticket, reply, actor=STAFF, now=NOON + DAY)  # type: ignore[arg-type]
    assert ticket.status == "in_progress" and ticket.resolved_at is None


def test_overlong_reply_and_comment_and_bad_level_are_refused(session: Session) -> None:
    ticket = new_ticket(session)
    lifecycle.take(session, ticket, actor=STAFF, now=NOON + HOUR)
    with pytest.raises(InvalidInput, match="答复内容过长"):
        lifecycle.resolve(session, ticket, "答" * 3001, actor=STAFF, now=NOON + DAY)
    lifecycle.resolve(session, ticket, "答" * 3000, actor=STAFF, now=NOON + DAY)
    assert len(outbox_rows(session, ticket)[-1].text) <= 4096
    with pytest.raises(InvalidInput, match="最多500字"):
        lifecycle.rate(session, ticket, "s", "很" * 501, now=NOON + 2 * DAY)
    with pytest.raises(InvalidInput, match="评价等级无效"):
        lifecycle.rate(session, ticket, "excellent", now=NOON + 2 * DAY)
    raw = "<b>谢谢</b><script>alert(1)</script>"
    outcome = lifecycle.rate(session, ticket, "s", raw, now=NOON + 2 * DAY)
    assert outcome.rating.comment == raw  # stored raw; escaped where rendered


def test_naive_now_is_refused(session: Session) -> None:
    ticket = new_ticket(session)
    with pytest.raises(ValueError):
        lifecycle.take(session, ticket, actor=STAFF, now=datetime(2026, 11, 21, 9, 0))


def test_no_outbox_row_without_a_chat(session: Session) -> None:
    phone = new_ticket(session, conversation_id=None)
    demo = new_ticket(session, conversation_id="demo:7:0001")
    assert outbox_rows(session, phone) == [] and outbox_rows(session, demo) == []
    assert [e.to_status for e in phone.events] == ["received", "dispatched"]


def test_rate_from_chat_checks_the_ticket_belongs_to_the_chat(session: Session) -> None:
    ticket = resolved_ticket(session, conversation_id="web:abc")
    with pytest.raises(tickets.TicketNotFound):
        tickets.rate_from_chat(session, number="T20990101-0001", level="s",
                               conversation_id="web:abc", now=NOON + 2 * DAY)
    with pytest.raises(tickets.TicketNotVisible):
        tickets.rate_from_chat(session, number=ticket.number, level="s",
                               conversation_id="tg:stranger", now=NOON + 2 * DAY)
    outcome = tickets.rate_from_chat(session, number=ticket.number.lower(), level="b",
                                     conversation_id="web:abc", round_=0, now=NOON + 2 * DAY)
    assert outcome.rating.level == "basically_satisfied"
    assert outcome.rating.conversation_id == "web:abc"
    assert outbox_rows(session, ticket)[-1].channel == "web"


# --- description of a new ticket ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "empty"),
        (None, "empty"),
        ("   \n\t\u200b ", "empty"),
        ("😀😀👍🙏", "no_words"),
        ("？？？！！…", "no_words"),
        ("<p></p><br/><div class='x'>&nbsp;</div>", "markup_only"),
        ("<!-- 注释 --><span></span>", "markup_only"),
    ],
)
def test_description_refused(text: str | None, code: str) -> None:
    _clean, issue = tickets.validate_description(text)
    assert issue is not None and issue.code == code and issue.blocking
    assert "文字" in issue.message


def test_long_description_is_kept_whole_with_a_warning() -> None:
    text = "我司厂房用电容量不足，申请增容三个月仍无进展。" * 250
    assert len(text) > 5000
    clean, issue = tickets.validate_description(text)
    assert clean == text
    assert issue is not None and issue.code == "too_long" and not issue.blocking
    assert f"{len(text)}字" in issue.message


def test_description_is_tidied_but_real_text_with_markup_kept() -> None:
    clean, issue = tickets.validate_description("\r\n  贷款额度<5万元，\r\n\r\n\r\n\r\n<b>急</b>  ")
    assert issue is None
    assert clean == "贷款额度<5万元，\n\n<b>急</b>"
    assert tickets.validate_description("申请退税 👍")[1] is None
