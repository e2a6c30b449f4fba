"""Background chores of the gateway: transcript retention (also ``hotline transcripts purge``)."""

from __future__ import annotations

import asyncio
import logging

from hotline import transcripts
from hotline.db import session_scope

logger = logging.getLogger(__name__)
PURGE_EVERY_S = 6 * 3600


def purge_once(db_url: str, days: int) -> int:
    with session_scope(db_url) as session:
        count = transcripts.purge(session, days)
    if count:
        logger.info("retention: deleted %d transcript messages older than %d days", count, days)
    return count


async def purge_loop(db_url: str, days: int, every_s: float = PURGE_EVERY_S) -> None:
    """Apply the retention now and then every ``every_s`` seconds, until cancelled."""
    while True:
        try:
            await asyncio.to_thread(purge_once, db_url, days)
        except Exception:  # noqa: BLE001 - a busy database must not stop the gateway
            logger.exception("transcript retention pass failed; will retry")
        await asyncio.sleep(every_s)
