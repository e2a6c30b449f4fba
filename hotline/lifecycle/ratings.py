"""The enterprise's rating of an answer (一事一评); 不满意 sends the ticket back (重办)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline.lifecycle.rules import (
    ALREADY_RATED,
    COMMENT_MAX_CHARS,
    STALE_RATING,
    AlreadyRated,
    InvalidInput,
    InvalidTransition,
    checked_now,
    refusal,
)
from hotline.lifecycle.transitions import move, reopen
from hotline.models import Rating, RatingLevel, Ticket, TicketEvent, TicketStatus

S = TicketStatus


@dataclass(frozen=True)
class RatingOutcome:
    """What a rating did: the enterprise is told ``reopened`` tickets go back to work."""

    rating: Rating
    event: TicketEvent
    reopened: bool


_LEVEL_ALIASES: dict[str, RatingLevel] = {
    **{level.value: level for level in RatingLevel},
    **{level.code: level for level in RatingLevel},
    **{level.zh: level for level in RatingLevel},
}


def parse_level(value: RatingLevel | str) -> RatingLevel:
    """A level from its value (``satisfied``), payload code (``s``) or Chinese (满意)."""
    if isinstance(value, RatingLevel):
        return value
    level = _LEVEL_ALIASES.get(str(value).strip())
    if level is None:
        raise InvalidInput("评价等级无效，请选择“满意”“基本满意”或“不满意”。")
    return level


def clean_comment(comment: str | None) -> str | None:
    """Trimmed comment or None; over-long ones are refused rather than cut silently."""
    text = (comment or "").strip()
    if not text:
        return None
    if len(text) > COMMENT_MAX_CHARS:
        raise InvalidInput(
            f"评价意见最多{COMMENT_MAX_CHARS}字（您写了{len(text)}字），请精简后再发送。"
        )
    return text


def _rating(session: Session, ticket: Ticket, round_: int) -> Rating | None:
    return session.scalar(
        select(Rating).where(Rating.ticket_id == ticket.id, Rating.round == round_)
    )


def rate(
    session: Session,
    ticket: Ticket,
    level: RatingLevel | str,
    comment: str | None = None,
    *,
    actor: str = "enterprise",
    conversation_id: str | None = None,
    round_: int | None = None,
    now: datetime | None = None,
    notify: bool = True,
) -> RatingOutcome:
    """The enterprise rates the latest answer; 不满意 reopens the ticket.

    ``round_`` is the resolution round the button was made for (from its payload); a
    button of an older answer is refused instead of rating the newer one. Two presses
    racing each other are stopped by the unique (ticket, round) constraint: the loser
    gets :class:`AlreadyRated` and must roll its session back.
    """
    now = checked_now(now)
    chosen = parse_level(level)
    text = clean_comment(comment)
    current_round = ticket.reopen_count or 0
    if round_ is not None and round_ != current_round:
        if _rating(session, ticket, round_) is not None:
            raise AlreadyRated(ALREADY_RATED)
        raise InvalidTransition(STALE_RATING)
    if _rating(session, ticket, current_round) is not None:
        raise AlreadyRated(ALREADY_RATED)
    status = S(ticket.status)
    if status is not S.RESOLVED:
        # The button of an answer rated 不满意 is pressed again while the ticket is redone.
        if current_round and _rating(session, ticket, current_round - 1) is not None:
            raise AlreadyRated(ALREADY_RATED)
        raise refusal("rate", ticket)
    rating = Rating(
        ticket_id=ticket.id, round=current_round, level=chosen.value, comment=text,
        actor=actor, conversation_id=conversation_id, at=now,
    )
    session.add(rating)
    try:
        session.flush()
    except IntegrityError:
        raise AlreadyRated(ALREADY_RATED) from None
    note = f"评价：{chosen.zh}" + (f"；意见：{text}" if text else "")
    if chosen is RatingLevel.DISSATISFIED:
        event = reopen(session, ticket, actor=actor, now=now, reason=f"企业{note}", notify=notify)
        return RatingOutcome(rating=rating, event=event, reopened=True)
    event = move(session, ticket, "rate", S.RATED, actor=actor, now=now, note=note, notify=notify)
    return RatingOutcome(rating=rating, event=event, reopened=False)
