"""Feedback on knowledge-base answers (有用 / 没解决), stored per entry for tuning."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hotline.models import KbFeedback


def record(session: Session, entry_id: str, conversation_id: str, useful: bool,
           comment: str | None = None) -> KbFeedback:
    row = KbFeedback(entry_id=entry_id[:100], conversation_id=conversation_id, useful=useful,
                     comment=comment)
    session.add(row)
    session.flush()
    return row


def summary(session: Session) -> dict[str, tuple[int, int]]:
    """entry id → (useful, not useful) counts."""
    rows = session.execute(
        select(KbFeedback.entry_id, KbFeedback.useful, func.count()).group_by(
            KbFeedback.entry_id, KbFeedback.useful
        )
    )
    out: dict[str, tuple[int, int]] = {}
    for entry_id, useful, count in rows:
        yes, no = out.get(entry_id, (0, 0))
        out[entry_id] = (yes + count, no) if useful else (yes, no + count)
    return out
