"""The webhook's inbox: store an update, then acknowledge; hand out again what a crash left.

The FastAPI webhook route calls :meth:`WebhookInbox.accept` before answering Telegram; the
update processor calls :meth:`finished` once the update has been handled; :meth:`run` renews
the leases of updates still being handled and puts updates abandoned by a dead gateway (this
one before a restart, or another replica) back on the Application's queue.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from datetime import datetime, timedelta, timezone

from redis.asyncio import Redis
from redis.exceptions import RedisError
from telegram import Update
from telegram.ext import Application

from bot.tg_io import dedupe_keys
from hotline import telegram_inbox
from hotline.db import session_scope

logger = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(timezone.utc)


class WebhookInbox:
    def __init__(self, db_url: str, redis: Redis, *,
                 lease_s: float = telegram_inbox.LEASE.total_seconds()) -> None:
        self._db_url = db_url
        self._redis = redis
        self._lease = timedelta(seconds=lease_s)
        self._every_s = lease_s / 3
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._inflight: set[int] = set()
        self._bot_id: int | None = None

    def bind(self, bot_id: int) -> None:
        self._bot_id = bot_id

    @property
    def bot_id(self) -> int:
        if self._bot_id is None:
            raise RuntimeError("WebhookInbox.bind(bot_id) was not called")
        return self._bot_id

    def _store(self, payload: dict[str, object]) -> bool:
        with session_scope(self._db_url) as session:
            return telegram_inbox.store(session, self.bot_id, payload, worker=self.worker,
                                        now=_now(), lease=self._lease)

    async def accept(self, payload: dict[str, object]) -> bool:
        """Store an update (raises when the database is unreachable: answer Telegram 5xx).

        False: Telegram sent this update again after it was stored; nothing more to do."""
        new = await asyncio.to_thread(self._store, payload)
        if new:
            self._inflight.add(int(payload["update_id"]))  # type: ignore[arg-type]
        return new

    def _done(self, update_id: int) -> None:
        with session_scope(self._db_url) as session:
            telegram_inbox.done(session, self.bot_id, update_id, now=_now())

    async def finished(self, update: object) -> None:
        if not isinstance(update, Update) or update.update_id not in self._inflight:
            return
        await asyncio.to_thread(self._done, update.update_id)
        self._inflight.discard(update.update_id)

    def _sweep(self) -> tuple[list[telegram_inbox.Stored], list[int]]:
        with session_scope(self._db_url) as session:
            telegram_inbox.renew(session, self.bot_id, sorted(self._inflight),
                                 worker=self.worker, now=_now(), lease=self._lease)
        with session_scope(self._db_url) as session:
            return telegram_inbox.claim_abandoned(session, self.bot_id, worker=self.worker,
                                                  now=_now(), lease=self._lease)

    async def sweep(self, app: Application) -> int:
        """One round: renew leases, re-queue abandoned updates. Returns how many were re-queued."""
        claimed, given_up = await asyncio.to_thread(self._sweep)
        for update_id in given_up:
            logger.error("Telegram update %s given up after %s attempts (kept in telegram_inbox)",
                         update_id, telegram_inbox.MAX_ATTEMPTS)
        for stored in claimed:
            try:  # a crashed handler may have marked the update as taken: take it again
                await self._redis.delete(*dedupe_keys(self.bot_id, stored.update_id))
            except RedisError as exc:
                logger.warning("update %s: dedupe marks not cleared (Redis: %s)",
                               stored.update_id, exc)
            self._inflight.add(stored.update_id)
            await app.update_queue.put(Update.de_json(stored.payload, app.bot))
        if claimed:
            logger.warning("re-queued %d Telegram update(s) left unhandled by a stopped gateway",
                           len(claimed))
        return len(claimed)

    async def run(self, app: Application) -> None:
        """Sweep at start (what the last run left) and then every ``every_s`` seconds."""
        while True:
            try:
                await self.sweep(app)
            except Exception:  # noqa: BLE001 - database away: next round
                logger.exception("webhook inbox sweep failed")
            await asyncio.sleep(self._every_s)
