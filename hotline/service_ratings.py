"""Ratings of human service (人工服务评价): after an operator hands a chat back or closes
it, the enterprise gets 满意 / 基本满意 / 不满意 buttons; each spell of service is rated once.

The button payload names the handoff event that ended the service
(``/rate_service:<level code>:<event id>``, well within Telegram's 64 bytes); the operator
is read from that event, so a payload cannot credit someone else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import redis
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline import handoff
from hotline.models import RATING_CODES, RatingLevel, ServiceRating

PREFIX = "/rate_service:"
_PAYLOAD = re.compile(r"^/rate_service:([sbd]):(\d{1,20}-\d{1,20})$")
_BY_CODE = {code: level for level, code in RATING_CODES.items()}
ASK = "请您对本次人工服务进行评价："


def buttons(event_id: str) -> list[dict[str, str]]:
    return [{"title": level.zh, "payload": f"{PREFIX}{level.code}:{event_id}"}
            for level in RatingLevel]


def is_payload(text: str) -> bool:
    return text.startswith(PREFIX)


def _operator_of(r: redis.Redis, event_id: str, conversation: str) -> str | None:
    found = r.xrange(handoff.EVENTS_KEY, event_id, event_id)
    if not found:
        return None
    fields = {k.decode(): v.decode() for k, v in found[0][1].items()}
    if fields.get("conversation") != conversation or fields.get("from") != "human":
        return None
    return fields.get("who")


def record(session: Session, r: redis.Redis, conversation: str, payload: str) -> str:
    """Store the press; returns the Chinese answer for the enterprise."""
    match = _PAYLOAD.match(payload)
    if match is None:
        return "这个评价按钮已失效，感谢您的反馈。"
    level, event_id = _BY_CODE[match.group(1)], match.group(2)
    operator = _operator_of(r, event_id, conversation)
    if operator is None:
        return "这个评价按钮已失效，感谢您的反馈。"
    try:
        with session.begin_nested():
            session.add(ServiceRating(conversation_id=conversation, session_key=event_id,
                                      operator=operator, level=level.value))
    except IntegrityError:
        return "您已评价过本次人工服务，感谢您的反馈。"
    return f"感谢您的评价（{level.zh}）！我们会持续改进服务。"


@dataclass(frozen=True)
class ServiceSummary:
    rated: int
    satisfied: int  # 满意 + 基本满意, as for tickets

    @property
    def satisfaction_rate(self) -> float | None:
        return self.satisfied / self.rated if self.rated else None


def summary(session: Session, start: datetime, end: datetime) -> ServiceSummary:
    rows = dict(session.execute(
        select(ServiceRating.level, func.count())
        .where(ServiceRating.at >= start, ServiceRating.at < end)
        .group_by(ServiceRating.level)).all())
    rated = sum(rows.values())
    satisfied = rows.get(RatingLevel.SATISFIED.value, 0) + rows.get(
        RatingLevel.BASICALLY_SATISFIED.value, 0)
    return ServiceSummary(rated, satisfied)
