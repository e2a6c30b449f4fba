"""Delivering the outbox: leases that let one sender at a time claim a row, retries with
backoff, the end of a row (delivered, failed, requeued, purged). See :mod:`hotline.outbox`
for why and how rows are claimed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

from hotline import transcripts
from hotline.channels import CHANNELS
from hotline.models import Attachment, NotificationOutbox, OutboxStatus

O = NotificationOutbox  # noqa: E741 - short alias for query building

NOTIFY_AUTHOR = "bot:notify"
"""Transcript author of a delivered notification (the enterprise saw it, operators too)."""


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: base·factor^(attempt−1) capped at max; failed after max_attempts."""

    base: timedelta = timedelta(seconds=2)
    factor: float = 2.0
    max_delay: timedelta = timedelta(hours=1)
    max_attempts: int = 15

    def delay(self, attempts: int) -> timedelta:
        seconds = self.base.total_seconds() * self.factor ** max(attempts - 1, 0)
        return min(timedelta(seconds=seconds), self.max_delay)


DEFAULT_RETRY = RetryPolicy()


@dataclass(frozen=True)
class Claimed:
    """A row leased to one sender (a plain value: safe to use after the session closed)."""

    id: int
    conversation_id: str
    channel: str
    kind: str
    text: str
    buttons: list[dict[str, str]]
    attempts: int
    attachment_id: int | None = None
    attachment_name: str | None = None
    attachment_mime: str | None = None


def _lease_free(now: datetime) -> Any:
    return or_(O.claimed_until.is_(None), O.claimed_until < now)


def _claim(session: Session, ids: list[int], *, worker: str, now: datetime,
           lease: timedelta, in_order: bool = False) -> list[Claimed]:
    claimed: list[Claimed] = []
    for row_id in ids:
        result = session.execute(
            update(O)
            .where(O.id == row_id, O.status == OutboxStatus.PENDING.value, _lease_free(now))
            .values(claimed_by=worker, claimed_until=now + lease)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            row = session.get(O, row_id, populate_existing=True)
            assert row is not None
            file = session.get(Attachment, row.attachment_id) if row.attachment_id else None
            claimed.append(
                Claimed(id=row.id, conversation_id=row.conversation_id, channel=row.channel,
                        kind=row.kind, text=row.text, buttons=list(row.buttons or []),
                        attempts=row.attempts, attachment_id=row.attachment_id,
                        attachment_name=file.filename if file else None,
                        attachment_mime=file.mime if file else None)
            )
        elif in_order:  # another sender got it: the rest would arrive out of order
            break
    return claimed


def _due_ids(session: Session, *, now: datetime, limit: int, channel: str | None = None,
             conversation_id: str | None = None) -> list[int]:
    earlier = aliased(O)
    blocked_by_earlier = exists().where(
        and_(
            earlier.conversation_id == O.conversation_id,
            earlier.status == OutboxStatus.PENDING.value,
            earlier.id < O.id,
        )
    )
    query = select(O.id).where(
        O.status == OutboxStatus.PENDING.value,
        O.next_attempt_at <= now,
        _lease_free(now),
        ~blocked_by_earlier,
    )
    if channel is not None:
        query = query.where(O.channel == channel)
    if conversation_id is not None:
        query = query.where(O.conversation_id == conversation_id)
    return list(session.scalars(query.order_by(O.id).limit(limit)))


def claim_due(
    session: Session,
    *,
    channel: str,
    worker: str,
    now: datetime,
    lease: timedelta = timedelta(minutes=2),
    limit: int = 20,
) -> list[Claimed]:
    """Lease up to ``limit`` due rows of ``channel`` to ``worker`` (commit to publish it).

    Only the first pending row of each conversation is due, so one conversation's
    messages arrive in order; rows of other conversations are not held up.
    """
    return _claim(session, _due_ids(session, now=now, limit=limit, channel=channel),
                  worker=worker, now=now, lease=lease)


def has_pending(connection: Connection, conversation_id: str) -> bool:
    """Whether the conversation has any row not yet delivered: one indexed lookup on a plain
    connection, no ORM session. The web chat's pump asks first, every few seconds for each
    open page, and claims (:func:`claim_for_conversation`) only then: most polls find none."""
    return connection.execute(
        select(O.id).where(O.conversation_id == conversation_id,
                           O.status == OutboxStatus.PENDING.value).limit(1)
    ).first() is not None


def pending_among(connection: Connection, conversation_ids: list[str]) -> set[str]:
    """Which of the conversations have a row not yet delivered (:func:`has_pending` for many
    at once: a gateway asks for all its open web pages in one query)."""
    return set(connection.scalars(
        select(O.conversation_id).distinct().where(
            O.conversation_id.in_(conversation_ids),
            O.status == OutboxStatus.PENDING.value)))


def claim_for_conversation(
    session: Session,
    conversation_id: str,
    *,
    worker: str,
    now: datetime,
    lease: timedelta = timedelta(minutes=2),
    limit: int = 20,
) -> list[Claimed]:
    """Lease the due rows of one conversation, in order (the web chat, when its page is open).

    Unlike :func:`claim_due` this takes every due row from the oldest on, stopping at the
    first that is not due or is leased elsewhere, so the page gets them in order.
    """
    rows = session.scalars(
        select(O).where(O.conversation_id == conversation_id,
                        O.status == OutboxStatus.PENDING.value).order_by(O.id).limit(limit)
    ).all()
    ids: list[int] = []
    for row in rows:
        if row.next_attempt_at > now or (row.claimed_until is not None and row.claimed_until >= now):
            break
        ids.append(row.id)
    return _claim(session, ids, worker=worker, now=now, lease=lease, in_order=True)


def renew(session: Session, row_id: int, *, worker: str, now: datetime,
          lease: timedelta) -> bool:
    """Extend ``worker``'s lease on a row to ``now + lease``; False if the lease was lost.

    The sender calls it right before sending each row of its batch and then every so
    often while that send is in flight: a lease is held per row for as long as that row
    is being sent, so a batch (or one slow send) that outlives the lease it was claimed
    with is never sent a second time by another gateway. A row whose lease ran out and
    was taken by another gateway (or delivered, or released) is no longer ``worker``'s:
    the conditional update matches nothing and the sender skips it.
    """
    result = session.execute(
        update(O)
        .where(O.id == row_id, O.status == OutboxStatus.PENDING.value, O.claimed_by == worker)
        .values(claimed_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def mark_delivered(session: Session, row_id: int, *, worker: str, now: datetime) -> bool:
    """Record a successful send (and put it in the transcript). False if the lease was lost."""
    result = session.execute(
        update(O)
        .where(O.id == row_id, O.status == OutboxStatus.PENDING.value, O.claimed_by == worker)
        .values(status=OutboxStatus.DELIVERED.value, delivered_at=now, claimed_by=None,
                claimed_until=None, attempts=O.attempts + 1, last_error=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    row = session.get(O, row_id, populate_existing=True)
    assert row is not None
    transcripts.add(session, row.conversation_id, CHANNELS[row.channel].name, "out",
                    row.author or NOTIFY_AUTHOR, row.text, at=now, attachment_id=row.attachment_id)
    return True


def mark_failed_attempt(
    session: Session,
    row_id: int,
    *,
    worker: str,
    now: datetime,
    error: str,
    retry_after: timedelta | None = None,
    policy: RetryPolicy = DEFAULT_RETRY,
) -> OutboxStatus:
    """Record a failed send: retry later (backoff, or ``retry_after``), or give up."""
    row = session.get(O, row_id, populate_existing=True)
    if row is None or row.claimed_by != worker or row.status != OutboxStatus.PENDING.value:
        return OutboxStatus(row.status) if row else OutboxStatus.FAILED
    row.attempts += 1
    row.last_error = error[:2000]
    row.claimed_by = None
    row.claimed_until = None
    if row.attempts >= policy.max_attempts:
        row.status = OutboxStatus.FAILED.value
    else:
        delay = retry_after if retry_after is not None else policy.delay(row.attempts)
        row.next_attempt_at = now + delay
    session.flush()
    return OutboxStatus(row.status)


def release(session: Session, row_ids: list[int], *, worker: str,
            not_before: datetime | None = None) -> None:
    """Give leased rows back unsent and uncounted (e.g. the bot was told to slow down)."""
    if not row_ids:
        return
    values: dict[str, Any] = {"claimed_by": None, "claimed_until": None}
    if not_before is not None:
        values["next_attempt_at"] = not_before
    session.execute(
        update(O).where(O.id.in_(row_ids), O.claimed_by == worker).values(**values)
        .execution_options(synchronize_session=False)
    )


def requeue(session: Session, row_id: int, *, now: datetime) -> None:
    """Operators: send a failed row again from scratch."""
    session.execute(
        update(O).where(O.id == row_id).values(
            status=OutboxStatus.PENDING.value, attempts=0, next_attempt_at=now,
            claimed_by=None, claimed_until=None,
        ).execution_options(synchronize_session=False)
    )


def requeue_failed(session: Session, *, now: datetime, row_id: int | None = None) -> int:
    """Operators: rows that gave up (``failed``) start again from scratch, due at once.

    Only ``failed`` rows: a pending or delivered row is left alone. ``row_id`` limits it
    to one row; without it every failed row is requeued. Returns how many.
    """
    query = update(O).where(O.status == OutboxStatus.FAILED.value)
    if row_id is not None:
        query = query.where(O.id == row_id)
    result = session.execute(
        query.values(status=OutboxStatus.PENDING.value, attempts=0, next_attempt_at=now,
                     claimed_by=None, claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def failed_rows(session: Session, *, limit: int = 100) -> list[NotificationOutbox]:
    """Rows that gave up, newest first (the console's list for requeueing)."""
    return list(session.scalars(
        select(O).where(O.status == OutboxStatus.FAILED.value).order_by(O.id.desc()).limit(limit)
    ))


def purge_delivered(session: Session, older_than_days: int, now: datetime | None = None) -> int:
    """Retention: delete rows delivered more than ``older_than_days`` ago; returns how many.

    Pending and failed rows stay whatever their age (not yet told; operators requeue them).
    The delivered text lives on in the transcript, which has its own retention.
    """
    if older_than_days < 1:
        raise ValueError("retention must be at least one day")
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=older_than_days)
    result = session.execute(
        delete(O).where(O.status == OutboxStatus.DELIVERED.value, O.delivered_at < cutoff)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def pending_for(session: Session, conversation_id: str) -> list[NotificationOutbox]:
    """Rows not yet delivered to a conversation, oldest first (console, diagnostics)."""
    return list(
        session.scalars(
            select(O).where(O.conversation_id == conversation_id,
                            O.status == OutboxStatus.PENDING.value).order_by(O.id)
        )
    )
