"""Giving chats nobody answers back to the bot, and telling the enterprise why: a
supervisor's force-release, an operator's deactivation, the idle limit."""

from __future__ import annotations

from datetime import datetime, timezone

import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hotline import outbox
from hotline.db import session_scope
from hotline.handoff.queries import owned_by, state_of, workloads
from hotline.handoff.states import (
    QUEUE_KEY,
    Event,
    InvalidHandoff,
    Mode,
    Reason,
    as_text,
    epoch_of,
)
from hotline.handoff.transitions import release
from hotline.models import TranscriptMessage

SYSTEM = "system"  # the ``who`` of releases nobody made by hand

_RELEASED_ZH = {
    (Reason.IDLE, Mode.QUEUED): "很抱歉，人工客服暂时都在忙，您已等待较长时间。智能客服继续为您服务："
                                "您可以直接描述诉求，我们登记工单后由承办部门联系您；"
                                "稍后也可以再次发送“转人工”。",
    (Reason.IDLE, Mode.HUMAN): "本次人工服务因较长时间没有新消息已自动结束，智能客服继续为您服务。"
                               "如需人工服务，请再次发送“转人工”。",
}
_RELEASED_DEFAULT_ZH = ("人工客服暂时无法继续接待，智能客服继续为您服务。如需人工服务，请再次发送"
                        "“转人工”；您也可以直接描述诉求，我们登记工单后由承办部门联系您。")


def released_notice_zh(event: Event) -> str:
    """What the enterprise is told when :func:`release` gave its chat back to the bot."""
    return _RELEASED_ZH.get((Reason(event.reason), event.from_mode), _RELEASED_DEFAULT_ZH)


def release_and_notify(
    r: redis.Redis, session: Session, conversation: str, who: str, *,
    reason: Reason | str = Reason.FORCE_RELEASE, only_from: Mode | None = None,
    now: datetime | None = None,
) -> Event:
    """:func:`release` and tell the enterprise through the outbox (in ``session``)."""
    event = release(r, conversation, who, reason=reason, only_from=only_from, now=now)
    outbox.enqueue(session, conversation, "handoff.released", released_notice_zh(event), now=now)
    return event


def release_operator(r: redis.Redis, session: Session, operator: str, who: str, *,
                     now: datetime | None = None) -> list[str]:
    """Give every chat ``operator`` owns back to the bot (their account was deactivated)."""
    released = []
    for conversation in owned_by(r, operator):
        try:
            release_and_notify(r, session, conversation, who, reason=Reason.OPERATOR_GONE,
                               only_from=Mode.HUMAN, now=now)
        except InvalidHandoff:
            continue  # handed back or closed meanwhile
        released.append(conversation)
    return released


def _last_activity(session: Session, conversations: list[str]) -> dict[str, datetime]:
    """The time of each conversation's latest transcript line (either side)."""
    if not conversations:
        return {}
    rows = session.execute(
        select(TranscriptMessage.conversation_id, func.max(TranscriptMessage.at))
        .where(TranscriptMessage.conversation_id.in_(conversations))
        .group_by(TranscriptMessage.conversation_id)
    ).all()
    out = {}
    for conversation, at in rows:
        if at is not None:
            out[conversation] = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
    return out


def idle_chats(r: redis.Redis, session: Session, *, queued_after_s: float,
               human_after_s: float, now: datetime | None = None) -> list[tuple[str, Mode]]:
    """Chats queued longer than ``queued_after_s`` with nobody taking them, and human chats
    with no message either way for ``human_after_s`` (a limit of 0 or less: never)."""
    at = epoch_of(now)
    found: list[tuple[str, Mode]] = []
    if queued_after_s > 0:
        found += [(as_text(m), Mode.QUEUED)
                  for m in r.zrangebyscore(QUEUE_KEY, "-inf", at - queued_after_s)]
    if human_after_s > 0:
        owned = sorted({c for operator in workloads(r) for c in owned_by(r, operator)})
        last = _last_activity(session, owned)
        for conversation in owned:
            state = state_of(r, conversation)
            if state.mode is not Mode.HUMAN or state.since is None:
                continue
            latest = max(state.since.timestamp(),
                         last[conversation].timestamp() if conversation in last else 0.0)
            if latest <= at - human_after_s:
                found.append((conversation, Mode.HUMAN))
    return found


def release_idle(r: redis.Redis, db_url: str, *, queued_after_s: float, human_after_s: float,
                 now: datetime | None = None) -> list[str]:
    """Give idle queued and human chats back to the bot, telling each enterprise why.

    The periodic housekeeping of the process that delivers the outbox calls this (then tells
    the dialogue engine each returned chat is the bot's again, as after a hand-back).
    Returns the released conversations.
    """
    released = []
    with session_scope(db_url) as session:
        for conversation, mode in idle_chats(r, session, queued_after_s=queued_after_s,
                                              human_after_s=human_after_s, now=now):
            try:
                release_and_notify(r, session, conversation, SYSTEM, reason=Reason.IDLE,
                                   only_from=mode, now=now)
            except InvalidHandoff:
                continue  # taken, handed back or closed meanwhile
            released.append(conversation)
    return released
