"""Transactional outbox of notifications to enterprises (通知发件箱).

Why this module exists: "every status change notifies the enterprise" must hold even when
Telegram is down, the gateway restarts or two gateways run. So a change never sends
anything itself: it writes a row here in the same database transaction as the change
(:func:`notify_ticket`), and a delivery loop in the gateway (``bot/outbox_delivery.py``)
sends the rows later, with retries, marking each one delivered. Delivered rows are
deleted after ``HOTLINE_OUTBOX_RETENTION_DAYS`` (:func:`purge_delivered`); rows that gave
up stay until an operator requeues them (:func:`requeue_failed`: ``hotline outbox
requeue`` or the console's dashboard).

Rows and channels:

- ``conversation_id`` is ``tg:<chat id>`` or ``web:<uuid>``; a ticket without a
  conversation (taken by phone, demo data ``demo:…``) gets no row, since there is no chat
  to tell.
- Telegram rows are claimed by the gateway's loop. Web-chat rows wait, pending, until
  that conversation's page is connected; the web chat then claims them for that
  conversation only (:func:`claim_for_conversation`), so nothing is lost while the page
  is closed and the enterprise sees its news when it comes back.
- Within one conversation rows go out in order: a row is not claimed while an earlier
  row of the same conversation is still pending (e.g. waiting for its retry).

Claiming is a conditional ``UPDATE … WHERE id = :id AND status = 'pending' AND the lease
is free`` that sets a lease (``claimed_by``, ``claimed_until``): of two gateways only one
updates the row, and a gateway that dies mid-send loses its lease, so the row is sent
again later (at-least-once; a duplicate is better than a lost notice). The lease is per
row: the sender renews it (:func:`renew`) right before sending each row of its batch and
while the send is in flight, and skips a row whose lease another gateway took meanwhile. A failure puts the
row back with exponential backoff (or the ``retry_after`` Telegram asked for); after
:attr:`RetryPolicy.max_attempts` it is marked ``failed`` for operators to requeue.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import and_, delete, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

from hotline import routing, sla, transcripts
from hotline.models import (
    OPEN_STATUSES,
    Attachment,
    NotificationOutbox,
    OutboxStatus,
    RatingLevel,
    Ticket,
    TicketEvent,
    TicketStatus,
)

S = TicketStatus
O = NotificationOutbox  # noqa: E741 - short alias for query building

CHANNELS: dict[str, str] = {"tg": "telegram", "web": "web"}
"""Conversation-id prefix → channel name that the outbox delivers to."""

CALLBACK_LIMIT_BYTES = 64
"""Telegram's limit for callback_data: every button payload written here fits in it."""

TEXT_LIMIT = 4096
"""Telegram's message limit; longer texts are split by the delivery loop."""

RATE_INTENT = "inform"
"""Rasa intent of the rating buttons: the taxonomy's ``inform`` (no new intent), carrying
the entities ``ticket_id``, ``rating`` and ``round``; the action tells a rating from a bare
ticket number by the ``rating`` entity."""

NOTIFY_AUTHOR = "bot:notify"
"""Transcript author of a delivered notification (the enterprise saw it, operators too)."""


# --- rating buttons -----------------------------------------------------------------------


SCRIPT_KEY = "hotline:script:"
"""Redis key prefix: the script (``t``/``s``) a conversation last wrote in words; every
message to it — replies, notices, operator messages, buttons — goes out in that script."""


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


def _topic_zh(topic: str) -> str:
    try:
        return routing.load_taxonomy().topic(topic).zh
    except ValueError:
        return topic


def _light_text(ticket: Ticket, now: datetime) -> str:
    status = S(ticket.status)
    if status in OPEN_STATUSES:
        light = sla.traffic_light(ticket.created_at, ticket.deadline, now, ticket.limit_days)
        return f"{light.emoji} {light.zh}"
    closed = sla.closed_light(ticket.deadline, ticket.resolved_at or now)
    return f"{closed.emoji} {closed.zh}"


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
        f"工单号：{ticket.number}（{_topic_zh(ticket.topic)}）",
        f"状态：{status.zh}",
        f"承办部门：{department}",
    ]
    deadline = sla.as_local(ticket.deadline).strftime("%Y年%m月%d日 %H:%M")
    lines.append(f"办理时限：{deadline}（{_light_text(ticket, now)}）")
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


# --- writing ------------------------------------------------------------------------------


def channel_of(conversation_id: str | None) -> str | None:
    """``tg`` / ``web`` for conversations the outbox delivers to, else None."""
    if not conversation_id or ":" not in conversation_id:
        return None
    prefix = conversation_id.split(":", 1)[0]
    return prefix if prefix in CHANNELS else None


def enqueue(
    session: Session,
    conversation_id: str | None,
    kind: str,
    text: str,
    *,
    ticket_id: int | None = None,
    buttons: list[dict[str, str]] | None = None,
    now: datetime | None = None,
    attachment_id: int | None = None,
    author: str | None = None,
) -> NotificationOutbox | None:
    """Queue a message for a conversation in the caller's transaction (no commit).

    None when the conversation is not on a channel the outbox delivers to.
    """
    channel = channel_of(conversation_id)
    if channel is None or conversation_id is None:
        return None
    if not text.strip():
        raise ValueError("an outbox message needs text")
    for button in buttons or []:
        if len(button["payload"].encode()) > CALLBACK_LIMIT_BYTES:
            raise ValueError(f"button payload over {CALLBACK_LIMIT_BYTES} bytes: {button}")
    now = now or datetime.now(timezone.utc)
    row = NotificationOutbox(
        conversation_id=conversation_id, channel=channel, ticket_id=ticket_id, kind=kind,
        text=text, buttons=buttons or None, status=OutboxStatus.PENDING.value, attempts=0,
        next_attempt_at=now, created_at=now, attachment_id=attachment_id, author=author,
    )
    session.add(row)
    session.flush()
    return row


def notify_ticket(
    session: Session, ticket: Ticket, event: TicketEvent, *, now: datetime
) -> NotificationOutbox | None:
    """Queue the notice of a ticket's status change (called by :mod:`hotline.lifecycle`)."""
    if channel_of(ticket.conversation_id) is None:
        return None
    text, buttons = compose(ticket, event, now)
    return enqueue(
        session, ticket.conversation_id, f"ticket.{event.to_status}", text,
        ticket_id=ticket.id, buttons=buttons, now=now,
    )


# --- delivering ---------------------------------------------------------------------------


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
    transcripts.add(session, row.conversation_id, CHANNELS[row.channel], "out",
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
