"""What a notification to an enterprise says: the ticket-progress notice and its rating
buttons. Plain text, composed from the ticket and the event in the caller's transaction."""

from __future__ import annotations

import json
from datetime import datetime

from hotline import routing, sla
from hotline.channels import TELEGRAM
from hotline.models import RatingLevel, Ticket, TicketEvent, TicketStatus

S = TicketStatus

CALLBACK_LIMIT_BYTES = TELEGRAM.callback_limit_bytes or 64
"""Telegram's limit for callback_data: every button payload written here fits in it."""

TEXT_LIMIT = TELEGRAM.text_limit or 4096
"""Telegram's message limit; longer texts are split by the delivery loop."""

RATE_INTENT = "inform"
"""Rasa intent of the rating buttons: the taxonomy's ``inform`` (no new intent), carrying
the entities ``ticket_id``, ``rating`` and ``round``; the action tells a rating from a bare
ticket number by the ``rating`` entity."""


def rating_payload(number: str, level: RatingLevel, round_: int) -> str:
    """``/inform{"ticket_id":"T20261122-0042","rating":"s","round":0}`` (≤ 64 bytes).

    ``ticket_id`` is the NLU's existing entity (it fills the slot); ``rating`` is the
    level's one-letter code (s 满意, b 基本满意, d 不满意); ``round`` is the resolution
    round the button belongs to, so a stale button cannot rate a newer answer.
    """
    body = json.dumps(
        {"ticket_id": number, "rating": level.code, "round": round_},
        ensure_ascii=False, separators=(",", ":"),
    )
    payload = f"/{RATE_INTENT}{body}"
    if len(payload.encode()) > CALLBACK_LIMIT_BYTES:
        raise ValueError(f"rating payload longer than {CALLBACK_LIMIT_BYTES} bytes: {payload}")
    return payload


def rating_buttons(ticket: Ticket) -> list[dict[str, str]]:
    """The three rating buttons of the ticket's current answer, as Rasa-style buttons."""
    return [
        {"title": level.zh, "payload": rating_payload(ticket.number, level, ticket.reopen_count)}
        for level in RatingLevel
    ]


# --- composing ----------------------------------------------------------------------------


def _headline(ticket: Ticket, event: TicketEvent, department: str) -> str:
    before = S(event.from_status) if event.from_status else None
    after = S(event.to_status)
    if after is S.DISPATCHED:
        if before in (None, S.RECEIVED):
            return f"您的诉求已受理，并已分派至{department}办理。"
        return f"您的诉求已改派至{department}办理。"
    if after is S.IN_PROGRESS:
        if before is S.REOPENED:
            return f"{department}已签收重办，正在重新办理您的诉求。"
        return f"{department}已签收，正在办理您的诉求。"
    if after is S.RESOLVED:
        return f"您的诉求已办结，{department}答复如下。"
    if after is S.RATED:
        return "感谢您的评价，本工单已归档。"
    if after is S.REOPENED:
        return (
            f"您的诉求已转入重办（第{ticket.reopen_count}次），已督促{department}"
            "在新的时限内重新办理并答复。"
        )
    return f"您的诉求状态更新为：{after.zh}。"


def compose(ticket: Ticket, event: TicketEvent, now: datetime) -> tuple[str, list[dict[str, str]] | None]:
    """The Chinese text (and rating buttons for ``resolved``) telling the enterprise of ``event``.

    Plain text, no markup: the reply and notes are shown exactly as written, so nothing a
    department types can break the message or inject formatting.
    """
    department = ticket.department.name if ticket.department else "待分派"
    status = S(event.to_status)
    lines = [
        f"【诉求办理进度】{_headline(ticket, event, department)}",
        f"工单号：{ticket.number}（{routing.topic_zh(ticket.topic)}）",
        f"状态：{status.zh}",
        f"承办部门：{department}",
    ]
    deadline = sla.as_local(ticket.deadline).strftime("%Y年%m月%d日 %H:%M")
    lines.append(f"办理时限：{deadline}（{sla.light_words(sla.ticket_light(ticket, now), emoji=True)}）")
    buttons: list[dict[str, str]] | None = None
    if status is S.RESOLVED:
        lines += ["", "部门答复：", ticket.reply or "", "", "请您对本次办理结果进行评价（一事一评）："]
        buttons = rating_buttons(ticket)
    elif status is S.RATED and event.note:
        lines.append(event.note.replace("评价：", "您的评价：", 1))
    elif status is S.IN_PROGRESS and event.note and event.note != "签收办理":
        lines.append(f"办理说明：{event.note}")
    text = "\n".join(lines)
    if len(text) > TEXT_LIMIT:  # cannot happen with the lifecycle's limits; kept safe anyway
        text = text[: TEXT_LIMIT - 1] + "…"
    return text, buttons
