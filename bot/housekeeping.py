"""Background chores of the gateway: transcript retention (also ``hotline transcripts
purge``), retention of delivered notifications (also ``hotline outbox purge``) and giving
idle queued or human chats back to the bot; handled webhook updates are deleted after a day."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone

import redis

from hotline import handoff, outbox, telegram_inbox, transcripts
from hotline.db import session_scope
from hotline.settings import get_settings

logger = logging.getLogger(__name__)
PURGE_EVERY_S = 6 * 3600
IDLE_EVERY_S = 60.0


def purge_once(db_url: str, days: int) -> int:
    with session_scope(db_url) as session:
        count = transcripts.purge(session, days)
    if count:
        logger.info("retention: deleted %d transcript messages older than %d days", count, days)
    return count


def purge_outbox_once(db_url: str, days: int) -> int:
    """Delete notifications delivered more than ``days`` ago (pending and failed stay)."""
    with session_scope(db_url) as session:
        count = outbox.purge_delivered(session, days)
    if count:
        logger.info("retention: deleted %d delivered notifications older than %d days",
                    count, days)
    return count


def purge_inbox_once(db_url: str) -> int:
    """Delete webhook updates handled more than a day ago (their messages are in transcripts)."""
    with session_scope(db_url) as session:
        return telegram_inbox.purge(session,
                                    before=datetime.now(timezone.utc) - timedelta(days=1))


async def purge_loop(db_url: str, days: int, every_s: float = PURGE_EVERY_S,
                     outbox_days: int | None = None) -> None:
    """Apply the retentions (transcripts: ``days``; delivered notifications: ``outbox_days``,
    default ``HOTLINE_OUTBOX_RETENTION_DAYS``) now and then every ``every_s`` seconds,
    until cancelled."""
    if outbox_days is None:
        outbox_days = get_settings().outbox_retention_days
    while True:
        try:
            await asyncio.to_thread(purge_once, db_url, days)
        except Exception:  # noqa: BLE001 - a busy database must not stop the gateway
            logger.exception("transcript retention pass failed; will retry")
        try:
            await asyncio.to_thread(purge_outbox_once, db_url, outbox_days)
        except Exception:  # noqa: BLE001 - a busy database must not stop the gateway
            logger.exception("outbox retention pass failed; will retry")
        try:
            await asyncio.to_thread(purge_inbox_once, db_url)
        except Exception:  # noqa: BLE001 - a busy database must not stop the gateway
            logger.exception("webhook inbox retention pass failed; will retry")
        await asyncio.sleep(every_s)


async def idle_release_loop(
    r: redis.Redis, db_url: str, *, queued_after_s: float, human_after_s: float,
    after_release: Callable[[str], Awaitable[None]], every_s: float = IDLE_EVERY_S,
) -> None:
    """Every ``every_s`` seconds, give chats queued or silent with a person too long back to
    the bot (:func:`hotline.handoff.release_idle`; the enterprise is told through the
    outbox), then ``after_release`` each (deliver the notice, tell the dialogue engine)."""
    while True:
        await asyncio.sleep(every_s)
        try:
            released = await asyncio.to_thread(
                handoff.release_idle, r, db_url,
                queued_after_s=queued_after_s, human_after_s=human_after_s)
        except Exception:  # noqa: BLE001 - Redis or the database down: try again later
            logger.exception("idle chat release pass failed; will retry")
            continue
        for conversation in released:
            logger.info("idle chat given back to the bot")
            try:
                await after_release(conversation)
            except Exception:  # noqa: BLE001 - the outbox retries delivery on its own
                logger.exception("after releasing an idle chat")
