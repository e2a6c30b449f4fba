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

The parts: this module writes rows (:func:`enqueue`, :func:`notify_ticket`);
:mod:`hotline.outbox_compose` says what a ticket's notice reads; :mod:`hotline.outbox_lease`
claims, renews and closes rows. Every name stays importable from ``hotline.outbox``.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy.orm import Session

from hotline import channels, redis_keys
from hotline.models import NotificationOutbox, OutboxStatus, Ticket, TicketEvent
from hotline.outbox_compose import (
    CALLBACK_LIMIT_BYTES,
    RATE_INTENT,
    TEXT_LIMIT,
    compose,
    rating_buttons,
    rating_payload,
)
from hotline.outbox_lease import (
    DEFAULT_RETRY,
    NOTIFY_AUTHOR,
    Claimed,
    RetryPolicy,
    claim_due,
    claim_for_conversation,
    failed_rows,
    has_pending,
    mark_delivered,
    mark_failed_attempt,
    pending_among,
    pending_for,
    purge_delivered,
    release,
    renew,
    requeue,
    requeue_failed,
)

__all__ = [
    "CALLBACK_LIMIT_BYTES", "CHANNELS", "DEFAULT_RETRY", "NOTIFY_AUTHOR", "RATE_INTENT",
    "SCRIPT_KEY", "TEXT_LIMIT", "Claimed", "RetryPolicy", "channel_of", "claim_due",
    "claim_for_conversation", "compose", "enqueue", "failed_rows", "has_pending", "mark_delivered",
    "mark_failed_attempt", "notify_ticket", "pending_among", "pending_for", "purge_delivered", "rating_buttons",
    "rating_payload", "release", "renew", "requeue", "requeue_failed",
]

CHANNELS: dict[str, str] = {prefix: c.name for prefix, c in channels.CHANNELS.items()}
"""Conversation-id prefix → channel name that the outbox delivers to."""

SCRIPT_KEY = redis_keys.SCRIPT
"""Redis key prefix: the script (``t``/``s``) a conversation last wrote in words; every
message to it — replies, notices, operator messages, buttons — goes out in that script."""


def channel_of(conversation_id: str | None) -> str | None:
    """``tg`` / ``web`` for conversations the outbox delivers to, else None."""
    channel = channels.channel_of(conversation_id)
    return channel.prefix if channel else None


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
