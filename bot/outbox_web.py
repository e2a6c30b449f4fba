"""Delivery of the notification outbox (:mod:`hotline.outbox`) to connected web-chat pages.

Web-chat rows stay pending until the page of that conversation is connected; the
websocket handler (:mod:`bot.webchat`) then runs :func:`pump_web` beside its receive loop
(woken by :mod:`bot.web_wake`, and by a :class:`PagePoller` asking for all pages at once),
which claims the conversation's rows (a lease, as the Telegram loop in
:mod:`bot.outbox_delivery` does), sends them to the page in order and marks them
delivered; a page that goes away mid-send leaves the rest pending for its return.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from bot.logsafe import pseudonym
from bot.outbox_delivery import Clock, utcnow, worker_name
from hotline import attachments, outbox
from hotline.db import get_engine, session_scope
from hotline.outbox import Claimed
from hotline.textnorm import to_traditional

logger = logging.getLogger(__name__)

SendFrame = Callable[[dict[str, Any]], Awaitable[None]]


WEB_LEASE = timedelta(minutes=2)
POLL_CHUNK = 500  # conversations a poll asks about in one query


def _claim_web(db_url: str, conversation_id: str, worker: str, now: datetime) -> list[Claimed]:
    with get_engine(db_url).connect() as connection:  # the usual poll: nothing pending, done
        if not outbox.has_pending(connection, conversation_id):
            return []
    with session_scope(db_url) as session:
        return outbox.claim_for_conversation(session, conversation_id, worker=worker, now=now,
                                             lease=WEB_LEASE)


def _renew_web(db_url: str, row: Claimed, worker: str, now: datetime) -> bool:
    with session_scope(db_url) as session:
        return outbox.renew(session, row.id, worker=worker, now=now, lease=WEB_LEASE)


def _delivered_web(db_url: str, row: Claimed, worker: str, now: datetime) -> None:
    with session_scope(db_url) as session:
        outbox.mark_delivered(session, row.id, worker=worker, now=now)


def web_frame(row: Claimed, traditional: bool = False) -> dict[str, Any]:
    """The web chat's frame shape (``{"messages": [BotMessage…]}``), marked as a notification,
    in the script the enterprise writes in; a file is a link the page of that conversation
    may open (see :mod:`bot.webchat`)."""
    text, buttons = row.text, row.buttons
    if traditional:
        text = to_traditional(text)
        buttons = [{**b, "title": to_traditional(b["title"])} for b in buttons or []] or None
    custom: dict[str, Any] = {"notification": row.kind}
    if row.attachment_id is not None:
        custom["attachment"] = {
            "url": f"/chat/files/{row.attachment_id}?c={row.conversation_id.removeprefix('web:')}",
            "name": row.attachment_name, "image": row.attachment_mime in attachments.IMAGES}
    return {"messages": [{"text": text, "buttons": buttons, "image": None,
                          "custom": custom}]}


async def deliver_web(
    db_url: str,
    conversation_id: str,
    send: SendFrame,
    *,
    worker: str | None = None,
    clock: Clock = utcnow,
    traditional: Callable[[], Awaitable[bool]] | None = None,
) -> int:
    """Send a connected web-chat page its pending notices, in order; returns how many."""
    worker = worker or worker_name()
    rows = await asyncio.to_thread(_claim_web, db_url, conversation_id, worker, clock())
    in_traditional = bool(rows) and traditional is not None and await traditional()
    done = 0
    for i, row in enumerate(rows):
        if not await asyncio.to_thread(_renew_web, db_url, row, worker, clock()):
            # taken over after its lease ran out: hand back the rest, which would arrive
            # out of order if sent here
            await asyncio.to_thread(_release_web, db_url, rows[i + 1 :], worker)
            break
        try:
            await send(web_frame(row, in_traditional))
        except Exception:  # noqa: BLE001 - the page went away: they wait for its return
            await asyncio.to_thread(_release_web, db_url, rows[i:], worker)
            break
        await asyncio.to_thread(_delivered_web, db_url, row, worker, clock())
        done += 1
    return done


def _release_web(db_url: str, rows: list[Claimed], worker: str) -> None:
    with session_scope(db_url) as session:
        outbox.release(session, [r.id for r in rows], worker=worker)


async def pump_web(
    db_url: str,
    conversation_id: str,
    send: SendFrame,
    *,
    interval: float | None = 2.0,
    clock: Clock = utcnow,
    wake: asyncio.Event | None = None,
    traditional: Callable[[], Awaitable[bool]] | None = None,
) -> None:
    """While a page is connected: deliver its notices now and every ``interval`` seconds.

    Run it as a task next to the websocket's receive loop and cancel it on disconnect;
    setting ``wake`` delivers at once (an operator's reply need not wait for the poll).
    ``interval`` None: only when woken (a :class:`PagePoller` polls for every page at once).
    """
    if wake is None and interval is None:
        raise ValueError("a pump with no wake-up event needs an interval")
    worker = worker_name()
    while True:
        try:
            await deliver_web(db_url, conversation_id, send, worker=worker, clock=clock,
                              traditional=traditional)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - keep the page's chat alive; try again later
            logger.exception("web outbox pump for %s failed", pseudonym(conversation_id))
        if wake is None:
            await asyncio.sleep(interval)  # type: ignore[arg-type]
            continue
        try:
            await asyncio.wait_for(wake.wait(), interval)
        except asyncio.TimeoutError:
            pass
        wake.clear()


def _pending_among(db_url: str, conversations: list[str]) -> set[str]:
    with get_engine(db_url).connect() as connection:
        return outbox.pending_among(connection, conversations)


class PagePoller:
    """Every ``interval`` seconds, one query for all the pages connected here: those with
    pending rows are woken (their :func:`pump_web` then delivers). A wake-up lost on its
    way (:mod:`bot.web_wake`) costs at most ``interval``, as each page polling alone did,
    without a query per page every few seconds (16 a second for 32 open pages).

    Runs while at least one page is connected: :meth:`add` and :meth:`remove` it."""

    def __init__(self, db_url: str, interval: float) -> None:
        self._db_url = db_url
        self._interval = interval
        self._pages: dict[str, list[asyncio.Event]] = {}  # conversation → its pages' events
        self._task: asyncio.Task[None] | None = None

    def add(self, conversation_id: str, wake: asyncio.Event) -> None:
        self._pages.setdefault(conversation_id, []).append(wake)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="web-page-poller")

    def remove(self, conversation_id: str, wake: asyncio.Event) -> None:
        events = self._pages.get(conversation_id, [])
        if wake in events:
            events.remove(wake)
        if not events:
            self._pages.pop(conversation_id, None)
        if not self._pages and self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            pages = list(self._pages)
            try:
                for start in range(0, len(pages), POLL_CHUNK):
                    pending = await asyncio.to_thread(_pending_among, self._db_url,
                                                      pages[start:start + POLL_CHUNK])
                    for conversation in pending:
                        for event in self._pages.get(conversation, []):
                            event.set()
            except Exception:  # noqa: BLE001 - the database away: try again next time
                logger.exception("web outbox poll of %d pages failed", len(pages))
