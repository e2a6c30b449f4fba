"""Delivery of the notification outbox (:mod:`hotline.outbox`) to the enterprises' Telegram chats.

Why this module exists: ticket changes are made by the action server and the console,
which cannot talk to Telegram or to a browser; they only write outbox rows. The gateway
owns the channels, so it sends the rows:

- :class:`OutboxDelivery` — a loop started with the Telegram application: it claims due
  ``tg:`` rows (a lease, so two gateway processes never send the same row at once), sends
  each with the PTB ``Bot``, marks it delivered, and on failure puts it back with
  exponential backoff — or exactly the ``retry_after`` Telegram asked for, pausing the
  whole loop meanwhile, since flood control applies to the bot, not to one chat.
  The lease is renewed per row, right before its send and while the send is in
  flight, and a row another gateway took over meanwhile is skipped: a batch or a
  send that outlives the lease it was claimed with is still sent only once.
  Telegram's send limits (:mod:`hotline.send_rate`) are kept by the bot itself (its rate
  limiter waits); a row whose chat would make it wait longer than ``defer_after_s`` — a
  burst of notices to one enterprise — is put off until its chat's window has room instead,
  so the loop goes on with the other chats.
  Stopping it hands unsent claims back; a crash leaves them leased only until the lease
  runs out. Either way a restarted loop sends every undelivered row.

Web-chat rows are not sent here: they wait for their page, see :mod:`bot.outbox_web`.

Delivery is at-least-once: a crash between Telegram's "ok" and the database's commit
sends that one message again after the lease, which beats losing it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from redis.asyncio import Redis
from redis.exceptions import RedisError
from telegram import Bot, InlineKeyboardMarkup
from telegram.error import RetryAfter, TelegramError

from bot import tg_io
from bot.logsafe import pseudonym
from hotline import attachments, channels, live, outbox, redis_keys
from hotline.db import session_scope
from hotline.outbox import Claimed, RetryPolicy
from hotline.send_rate import SendRate
from hotline.textnorm import to_traditional

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def worker_name() -> str:
    """Unique per loop: host, process and a random tag (two loops may share a process)."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _markup(buttons: list[dict[str, str]]) -> InlineKeyboardMarkup | None:
    """Payloads fit as they are (the outbox checks when it writes them)."""
    keys = [(b["title"], b["payload"]) for b in buttons]
    return tg_io.keyboard(keys, one_row=len(keys) <= 3)  # 满意 | 基本满意 | 不满意


class OutboxDelivery:
    """The gateway's Telegram sender for outbox rows (see the module docstring).

    ``clock`` decides which rows are due and is injectable so tests can step time;
    ``redis`` (optional) lets a notice follow the script, Simplified or Traditional, the
    enterprise last wrote in (the relay records it).
    """

    def __init__(
        self,
        bot: Bot,
        db_url: str,
        *,
        worker: str | None = None,
        poll_interval: float = 1.0,
        batch_size: int = 20,
        lease: timedelta = timedelta(minutes=2),
        policy: RetryPolicy = outbox.DEFAULT_RETRY,
        clock: Clock = utcnow,
        redis: Redis | None = None,
        renew_every: float | None = None,
        rate: SendRate | None = None,
        defer_after_s: float = 1.5,
    ) -> None:
        self.bot = bot
        self.db_url = db_url
        self.worker = worker or worker_name()
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self.lease = lease
        self.policy = policy
        self.clock = clock
        self.redis = redis
        self.renew_every = (renew_every if renew_every is not None
                            else max(lease.total_seconds() / 3, 0.01))
        self.rate = rate
        self.defer_after_s = defer_after_s
        self.delivered = 0
        self.deferred = 0
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._paused_until: datetime | None = None

    # --- one pass -------------------------------------------------------------------

    def _claim(self, now: datetime) -> list[Claimed]:
        with session_scope(self.db_url) as session:
            return outbox.claim_due(session, channel="tg", worker=self.worker, now=now,
                                    lease=self.lease, limit=self.batch_size)

    def _renew(self, row: Claimed, now: datetime) -> bool:
        with session_scope(self.db_url) as session:
            return outbox.renew(session, row.id, worker=self.worker, now=now, lease=self.lease)

    async def _keep_lease(self, row: Claimed) -> None:
        """While ``row`` is being sent, renew its lease every ``renew_every`` seconds."""
        while True:
            await asyncio.sleep(self.renew_every)
            try:
                held = await asyncio.to_thread(self._renew, row, self.clock())
            except Exception:  # noqa: BLE001 - the database hiccuped: try again next tick
                logger.warning("outbox row %s: lease renewal failed", row.id, exc_info=True)
                continue
            if not held:
                logger.warning("outbox row %s: lease lost while sending", row.id)
                return

    async def _send_leased(self, row: Claimed) -> None:
        keeper = asyncio.create_task(self._keep_lease(row))
        try:
            await self._send(row)
        finally:
            keeper.cancel()
            try:
                await keeper
            except asyncio.CancelledError:
                pass

    def _delivered(self, row: Claimed, now: datetime) -> bool:
        with session_scope(self.db_url) as session:
            return outbox.mark_delivered(session, row.id, worker=self.worker, now=now)

    def _failed(self, row: Claimed, now: datetime, error: str,
                retry_after: timedelta | None = None) -> None:
        with session_scope(self.db_url) as session:
            status = outbox.mark_failed_attempt(
                session, row.id, worker=self.worker, now=now, error=error,
                retry_after=retry_after, policy=self.policy,
            )
        log = logger.error if status is outbox.OutboxStatus.FAILED else logger.warning
        log("outbox row %s to %s: %s (%s)", row.id, pseudonym(row.conversation_id), error,
            status.value)

    def _release(self, rows: list[Claimed], not_before: datetime | None = None) -> None:
        with session_scope(self.db_url) as session:
            outbox.release(session, [r.id for r in rows], worker=self.worker,
                           not_before=not_before)

    async def _traditional(self, conversation_id: str) -> bool:
        if self.redis is None:
            return False
        try:
            return await self.redis.get(redis_keys.script(conversation_id)) == b"t"
        except Exception:  # noqa: BLE001 - the script is a nicety; Redis down must not block
            logger.warning("script of %s unknown (Redis)", pseudonym(conversation_id))
            return False

    async def _chat_busy_for(self, row: Claimed) -> float:
        """Seconds the row's chat would hold its send up, when over ``defer_after_s``; else 0."""
        if self.rate is None:
            return 0.0
        try:
            wait = await self.rate.peek(int(channels.TELEGRAM.chat_id(row.conversation_id)))
        except (RedisError, ValueError):
            return 0.0  # the bot's limiter decides (and fails open) when it sends
        return wait if wait > self.defer_after_s else 0.0

    async def _send(self, row: Claimed) -> None:
        chat_id = int(channels.TELEGRAM.chat_id(row.conversation_id))
        text, buttons = row.text, row.buttons
        if await self._traditional(row.conversation_id):
            text = to_traditional(text)
            buttons = [{**b, "title": to_traditional(b["title"])} for b in buttons]
        await tg_io.send_text(self.bot, chat_id, text, reply_markup=_markup(buttons))
        if row.attachment_id is not None:
            data = await asyncio.to_thread(_attachment_bytes, self.db_url, row.attachment_id)
            if data is None:
                raise ValueError(f"attachment {row.attachment_id} is gone")
            await tg_io.send_file(self.bot, chat_id, data, filename=row.attachment_name or "附件",
                                  mime=row.attachment_mime)

    async def _tell_console(self, conversation_id: str) -> None:
        if self.redis is None:
            return
        try:
            await live.apublish(self.redis, conversation_id, "delivered")
        except Exception:  # noqa: BLE001 - the console refreshes anyway; never stop delivery
            logger.warning("could not publish delivery of %s", pseudonym(conversation_id),
                           exc_info=True)

    async def deliver_due(self) -> int:
        """Send the rows due now; returns how many were delivered. Safe to call anytime."""
        now = self.clock()
        if self._paused_until is not None and now < self._paused_until:
            return 0
        claimed = await asyncio.to_thread(self._claim, now)
        done = 0
        for i, row in enumerate(claimed):
            if self._stopping.is_set():
                await asyncio.to_thread(self._release, claimed[i:])
                break
            if (busy := await self._chat_busy_for(row)) > 0:
                await asyncio.to_thread(self._release, [row],
                                        self.clock() + timedelta(seconds=busy))
                self.deferred += 1
                continue
            # Lease per row: renew it now; the rows behind a slow send may have been taken
            # by another gateway after their lease ran out, and must not be sent twice.
            if not await asyncio.to_thread(self._renew, row, self.clock()):
                logger.info("outbox row %s: lease taken over, skipped", row.id)
                continue
            try:
                await self._send_leased(row)
            except RetryAfter as exc:
                wait = tg_io.retry_after(exc)
                now = self.clock()
                self._paused_until = now + wait
                await asyncio.to_thread(self._failed, row, now, str(exc), wait)
                await asyncio.to_thread(self._release, claimed[i + 1 :], now + wait)
                break
            except (TelegramError, ValueError) as exc:  # network, 5xx, blocked, bad chat id
                await asyncio.to_thread(self._failed, row, self.clock(), f"{type(exc).__name__}: {exc}")
                await self._tell_console(row.conversation_id)
                continue
            except Exception as exc:  # noqa: BLE001 - a bug must not stop the other rows
                logger.exception("outbox row %s: unexpected error", row.id)
                await asyncio.to_thread(self._failed, row, self.clock(), f"{type(exc).__name__}: {exc}")
                continue
            if await asyncio.to_thread(self._delivered, row, self.clock()):
                done += 1
                await self._tell_console(row.conversation_id)
        self.delivered += done
        return done

    # --- the loop -------------------------------------------------------------------

    def wake(self) -> None:
        """Look for rows now rather than at the next poll (e.g. right after a change)."""
        self._wake.set()

    async def run(self) -> None:
        """Deliver until :meth:`stop`; polls every ``poll_interval`` seconds."""
        while not self._stopping.is_set():
            try:
                sent = await self.deliver_due()
            except Exception:  # noqa: BLE001 - e.g. the database is briefly unavailable
                logger.exception("outbox delivery pass failed; retrying")
                sent = 0
            if sent and not self._stopping.is_set():
                continue  # there may be more due right away
            self._wake.clear()
            stop = asyncio.ensure_future(self._stopping.wait())
            wake = asyncio.ensure_future(self._wake.wait())
            await asyncio.wait({stop, wake}, timeout=self.poll_interval,
                               return_when=asyncio.FIRST_COMPLETED)
            for waiter in (stop, wake):
                waiter.cancel()

    def start(self) -> asyncio.Task[None]:
        """Run the loop as a task of the running event loop."""
        if self._task is None or self._task.done():
            self._stopping.clear()
            self._task = asyncio.create_task(self.run(), name=f"outbox-{self.worker}")
        return self._task

    async def stop(self, timeout: float = 10.0) -> None:
        """Finish the message being sent, hand the other claims back, end the loop."""
        self._stopping.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except asyncio.TimeoutError:
            self._task.cancel()  # claims left behind come back when their lease expires
        self._task = None


def _attachment_bytes(db_url: str, attachment_id: int) -> bytes | None:
    with session_scope(db_url) as session:
        found = attachments.fetch(session, attachment_id)
        return found[2] if found is not None else None
