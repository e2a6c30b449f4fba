"""Questions the knowledge base declined: logged so staff see what to add.

The console's knowledge-base page lists them grouped by normalized text, most asked
first, with the last time asked and the entry that came closest.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hotline.kb.models import SearchResult
from hotline.models import KbDeclined

MAX_QUESTION = 2000
log = logging.getLogger(__name__)


def record(
    session: Session, result: SearchResult, topic: str | None, conversation_id: str | None
) -> KbDeclined:
    """Store one declined question (the raw text, capped, and its normalized form)."""
    row = KbDeclined(
        question=(result.query or "")[:MAX_QUESTION],
        normalized=(result.normalized or result.query or "")[:200],
        topic=topic,
        reason=(result.reason or "")[:60],
        best_entry_id=result.top.entry.id[:100] if result.top else None,
        missing="、".join(result.missing)[:200] or None,
        conversation_id=conversation_id,
    )
    session.add(row)
    session.flush()
    _group_for_hot_issues(session, row)
    return row


def _group_for_hot_issues(session: Session, row: KbDeclined) -> None:
    """Many enterprises asking what the knowledge base cannot answer is a hot issue too;
    grouped in a savepoint, so a failure there never loses the question."""
    from hotline.hot import service as hot

    try:
        with session.begin_nested():
            hot.on_declined(session, row)
    except Exception:  # noqa: BLE001 - grouping is an aid
        log.exception("hot issues: grouping declined question %s failed", row.id)
        hot.forget_index()


#: Why the bot declined, as staff read it (the reasons of hotline.kb.decide and
#: hotline.kb.search): what kind of gap the knowledge base has.
REASON_ZH = {
    "weak match": "没有相近的内容",
    "no words": "没有可检索的词语",
    "no match": "没有相近的内容",
    "not a policy question": "不是政策问题",
    "figure not in source": "问的金额、比例或标准，来源里没有写明",
    "support not in source": "问的补贴、奖励，最接近的内容没有提到",
    "another jurisdiction": "问的是其他地区的规定",
    "current round not in source": "问的是本年度或本批次的安排",
    "subject not in knowledge base": "问的事项知识库没有收录",
    "subject not covered": "最接近的内容不涉及所问事项",
    "low coverage": "最接近的内容只涉及问题的一小部分",
    "key word missing": "最接近的内容缺少关键词",
    "unlike answerable questions": "模型判断与能回答的问题不像",
}


@dataclass(frozen=True, slots=True)
class DeclinedGroup:
    normalized: str
    count: int
    last_at: datetime
    topic: str | None
    missing: str | None
    best_entry_id: str | None
    reason: str | None = None

    @property
    def reason_zh(self) -> str:
        return REASON_ZH.get(self.reason or "", "") if self.reason else ""


def top(session: Session, limit: int = 50) -> list[DeclinedGroup]:
    """Declined questions grouped by normalized text, most asked (then latest) first, each
    with the topic, missing words and closest entry of its latest asking."""
    latest = func.max(KbDeclined.at).label("last_at")
    count = func.count().label("n")
    groups = session.execute(
        select(KbDeclined.normalized, count, latest, func.max(KbDeclined.id))
        .group_by(KbDeclined.normalized)
        .order_by(count.desc(), latest.desc())
        .limit(limit)
    ).all()
    rows = session.scalars(
        select(KbDeclined).where(KbDeclined.id.in_([g[3] for g in groups]))
    ).all()
    sample = {r.id: r for r in rows}
    return [
        DeclinedGroup(normalized, int(n), last_at, sample[last_id].topic,
                      sample[last_id].missing, sample[last_id].best_entry_id,
                      sample[last_id].reason)
        for normalized, n, last_at, last_id in groups
    ]


def total(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(KbDeclined)) or 0)
