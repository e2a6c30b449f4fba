"""Questions the knowledge base declined: logged so staff see what to add.

The console's knowledge-base page lists them grouped by normalized text, most asked
first, with the last time asked and the entry that came closest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hotline.kb.models import SearchResult
from hotline.models import KbDeclined

MAX_QUESTION = 2000


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
    return row


@dataclass(frozen=True, slots=True)
class DeclinedGroup:
    normalized: str
    count: int
    last_at: datetime
    topic: str | None
    missing: str | None
    best_entry_id: str | None


def top(session: Session, limit: int = 50) -> list[DeclinedGroup]:
    """Declined questions grouped by normalized text, most asked (then latest) first."""
    latest = func.max(KbDeclined.at).label("last_at")
    count = func.count().label("n")
    rows = session.execute(
        select(KbDeclined.normalized, count, latest)
        .group_by(KbDeclined.normalized)
        .order_by(count.desc(), latest.desc())
        .limit(limit)
    ).all()
    out: list[DeclinedGroup] = []
    for normalized, n, last_at in rows:
        sample = session.execute(
            select(KbDeclined)
            .where(KbDeclined.normalized == normalized)
            .order_by(KbDeclined.at.desc(), KbDeclined.id.desc())
            .limit(1)
        ).scalar_one()
        out.append(DeclinedGroup(normalized, int(n), last_at, sample.topic, sample.missing,
                                 sample.best_entry_id))
    return out


def total(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(KbDeclined)) or 0)
