"""Telegram updates received by webhook, kept until handled (table ``telegram_inbox``).

Telegram forgets an update as soon as the webhook answers 200, so the gateway stores it first
and acknowledges second; a failed store answers 503 and Telegram sends it again. The row is
claimed with a lease by the gateway that handles it and marked done afterwards. A gateway that
dies in between leaves a claimed row whose lease runs out; any gateway then claims and handles
it again (at least once: a message may be handled twice after a crash, never lost). Webhook
retries of an update already stored are recognised by ``(bot_id, update_id)`` and dropped.

Time is passed in; every function takes the caller's session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline.models import TelegramInbox as T

#: How long an update stays with the gateway that took it without word from that gateway. The
#: holder renews its in-flight rows every few seconds, so a long backlog never expires; a dead
#: holder's rows are free again within this time.
LEASE = timedelta(seconds=30)
#: An update whose handling started this many times without finishing is given up (a poison
#: update must not crash-loop the gateways); it stays in the table for inspection.
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class Stored:
    update_id: int
    payload: dict[str, Any]


def store(session: Session, bot_id: int, payload: dict[str, Any], *, worker: str,
          now: datetime, lease: timedelta = LEASE) -> bool:
    """Keep a webhook update, claimed by ``worker``. False: this update was already stored."""
    update_id = payload["update_id"]
    with session.begin_nested():
        try:
            session.add(T(bot_id=bot_id, update_id=update_id, payload=payload, received_at=now,
                          claimed_by=worker, claimed_until=now + lease, attempts=1))
            session.flush()
        except IntegrityError:
            return False  # the savepoint is rolled back: the session stays usable
    return True


def done(session: Session, bot_id: int, update_id: int, *, now: datetime) -> None:
    session.execute(
        update(T).where(T.bot_id == bot_id, T.update_id == update_id, T.done_at.is_(None))
        .values(done_at=now, claimed_by=None, claimed_until=None)
    )


def renew(session: Session, bot_id: int, update_ids: list[int], *, worker: str,
          now: datetime, lease: timedelta = LEASE) -> None:
    """Extend the lease of the rows ``worker`` is still handling."""
    if update_ids:
        session.execute(
            update(T).where(T.bot_id == bot_id, T.update_id.in_(update_ids),
                            T.claimed_by == worker, T.done_at.is_(None))
            .values(claimed_until=now + LEASE)
        )


def claim_abandoned(session: Session, bot_id: int, *, worker: str, now: datetime,
                    lease: timedelta = LEASE, limit: int = 100,
                    ) -> tuple[list[Stored], list[int]]:
    """Claim updates whose handler died (lease run out, not done), oldest first.

    Returns the claimed updates and the ids given up after :data:`MAX_ATTEMPTS`."""
    rows = session.scalars(
        select(T).where(T.bot_id == bot_id, T.done_at.is_(None),
                        or_(T.claimed_until.is_(None), T.claimed_until < now))
        .order_by(T.update_id).limit(limit)
    ).all()
    claimed: list[Stored] = []
    given_up: list[int] = []
    for row in rows:
        attempts = row.attempts  # read before the update below refreshes the row
        # Conditional on the lease still being free: of two gateways only one wins a row.
        won = session.execute(
            update(T).where(T.id == row.id, T.done_at.is_(None),
                            or_(T.claimed_until.is_(None), T.claimed_until < now))
            .values(claimed_by=worker, claimed_until=now + lease, attempts=T.attempts + 1)
        ).rowcount
        if not won:
            continue
        if attempts + 1 > MAX_ATTEMPTS:
            session.execute(update(T).where(T.id == row.id).values(
                done_at=now, claimed_by=None, claimed_until=None))
            given_up.append(row.update_id)
        else:
            claimed.append(Stored(row.update_id, row.payload))
    return claimed, given_up


def pending_count(session: Session, bot_id: int | None = None) -> int:
    query = select(func.count()).select_from(T).where(T.done_at.is_(None))
    if bot_id is not None:
        query = query.where(T.bot_id == bot_id)
    return session.scalar(query) or 0


def purge(session: Session, *, before: datetime) -> int:
    """Delete handled updates received before ``before`` (they are in the transcript)."""
    return session.query(T).filter(T.done_at.is_not(None), T.received_at < before).delete()
