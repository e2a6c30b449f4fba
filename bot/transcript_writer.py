"""One writer for the relay's transcript lines, committing what is queued together in one
transaction (a group commit) in one worker-thread hop.

Why: the relay records every enterprise message before anything else happens, and the bot's
replies once Rasa has answered. A thread hop, a ``BEGIN … COMMIT`` and an ``INSERT`` for each
cost the gateway about 1.2 ms of its 3 ms of CPU a web message at 32 concurrent chats (Rasa
answers one message at a time, so messages arrive one by one and every hop wakes the event
loop and the worker again).

- :meth:`TranscriptWriter.write` (an enterprise's message): committed at once, with whatever
  is queued; the caller waits for the commit. The console is told of the conversation on the
  live stream (:mod:`hotline.live`) after the commit, from the same worker thread.
- :meth:`TranscriptWriter.write_soon` (the bot's replies, already on their way to the page):
  committed with the next message's lines, or after :data:`LINGER_S` at the latest. The
  conversation's lines keep their order (one queue). :meth:`TranscriptWriter.settled` waits
  for them; the relay's :meth:`bot.relay.Relay.handle` does, so Telegram and every other
  caller see the replies in the transcript when it returns, as before.

A batch the database refuses is written again entry by entry, so one bad entry fails alone.
Commits run on a thread of the writer's own (one commit at a time, as before). In the event
loop's shared pool an enterprise's message waited behind whatever else was queued there
(outbox deliveries and leases, the Telegram inbox, housekeeping, each web page's outbox look
as it connects): in rounds of 32 web chats opening at once (the load harness's, driven
alone), the replies to their first messages took p95 1.08-1.15 s against raw Rasa's 0.2 s;
0.49 s on this thread, and the gateway's part of such a message (until it is sent to Rasa)
was at most 25 ms in a traced harness run.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import redis as sync_redis
from redis.exceptions import RedisError

from bot.logsafe import pseudonym
from hotline import live, transcripts
from hotline.db import get_engine
from hotline.models import utcnow

logger = logging.getLogger(__name__)
#: How long replies may wait for an enterprise's message to share its commit.
LINGER_S = 0.05


@dataclass
class _Entry:
    lines: list[transcripts.Line]
    announce: bool  # tell the console of the conversation after the commit
    done: asyncio.Future[None] = field(repr=False)

    @property
    def conversation_id(self) -> str:
        return self.lines[0].conversation_id


def _commit(db_url: str, lines: list[transcripts.Line]) -> None:
    with get_engine(db_url).begin() as connection:
        transcripts.append_lines(connection, lines)


def _commit_batch(db_url: str, redis: sync_redis.Redis,
                  batch: list[_Entry]) -> list[Exception | None]:
    """Commit ``batch`` in one transaction (when that fails, each entry in its own), then
    announce the committed entries that ask for it in one round trip. Returns each entry's
    error (None: committed). Runs in a worker thread."""
    errors: list[Exception | None]
    try:
        _commit(db_url, [line for entry in batch for line in entry.lines])
        errors = [None] * len(batch)
    except Exception as exc:  # noqa: BLE001 - retried entry by entry; each caller gets its own
        if len(batch) == 1:
            errors = [exc]
        else:
            errors = []
            for entry in batch:
                try:
                    _commit(db_url, entry.lines)
                    errors.append(None)
                except Exception as one:  # noqa: BLE001 - handed to the entry's caller
                    errors.append(one)
    announced = [e.conversation_id for e, error in zip(batch, errors)
                 if error is None and e.announce]
    if announced:
        try:
            with redis.pipeline(transaction=False) as pipe:
                for conversation in announced:
                    live.publish(pipe, conversation)
                pipe.execute()
        except RedisError as exc:  # the message is kept; the console reads it on its next look
            logger.warning("console not told of %d messages (%s…; Redis: %s)",
                           len(announced), pseudonym(announced[0]), exc)
    return errors


class TranscriptWriter:
    """Group commit of transcript lines for one event loop (see the module's docstring)."""

    def __init__(self, db_url: str, redis: sync_redis.Redis) -> None:
        """``redis``: a sync client (the announcement is sent from the worker thread)."""
        self._db_url = db_url
        self._redis = redis
        self._queue: list[_Entry] = []
        self._flushing: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._last: dict[str, asyncio.Future[None]] = {}  # conversation → its last entry
        # its own thread, created on the first commit (see the module's docstring)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="transcript")

    async def write(self, conversation_id: str, channel: str, direction: str, author: str,
                    texts: list[str], *, announce: bool = False) -> None:
        """Commit ``texts`` as lines of one author, in order, now; ``announce``: then tell
        the console the conversation changed. Raises what the database raised."""
        done = self._enqueue(conversation_id, channel, direction, author, texts, announce)
        self._flush_now()
        await done

    def write_soon(self, conversation_id: str, channel: str, direction: str, author: str,
                   texts: list[str]) -> None:
        """Queue ``texts`` for the next commit (at most :data:`LINGER_S` away); a failure is
        logged, and raised by :meth:`settled`."""
        done = self._enqueue(conversation_id, channel, direction, author, texts, False)
        done.add_done_callback(_log_failure)
        if self._flushing is None and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(LINGER_S, self._flush_now)

    async def settled(self, conversation_id: str) -> None:
        """Wait until the conversation's queued lines are committed (raises their error)."""
        done = self._last.get(conversation_id)
        if done is not None:
            await asyncio.shield(done)

    async def aclose(self) -> None:
        """Commit what is queued (at shut-down)."""
        if self._queue:
            self._flush_now()
        if self._flushing is not None:
            await asyncio.shield(self._flushing)
        self._thread.shutdown(wait=False)

    def _enqueue(self, conversation_id: str, channel: str, direction: str, author: str,
                 texts: list[str], announce: bool) -> asyncio.Future[None]:
        at = utcnow()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append(_Entry([transcripts.Line(conversation_id, channel, direction, author,
                                                     text, at) for text in texts],
                                  announce, done))
        self._last[conversation_id] = done
        done.add_done_callback(lambda _: self._forget(conversation_id, done))
        return done

    def _forget(self, conversation_id: str, done: asyncio.Future[None]) -> None:
        if self._last.get(conversation_id) is done:
            del self._last[conversation_id]

    def _flush_now(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._flushing is None and self._queue:
            # A context of its own: its log lines are not about the first caller's message.
            self._flushing = asyncio.create_task(self._flush(), context=contextvars.Context())

    async def _flush(self) -> None:
        batch: list[_Entry] = []
        try:
            while self._queue:  # what was queued during a commit goes in the next one
                batch, self._queue = self._queue, []
                try:
                    errors: list[Exception | None] = \
                        await asyncio.get_running_loop().run_in_executor(
                            self._thread, _commit_batch, self._db_url, self._redis, batch)
                except Exception as exc:  # noqa: BLE001 - every caller of the batch hears it
                    errors = [exc] * len(batch)
                for entry, error in zip(batch, errors):
                    if entry.done.done():
                        continue  # its caller was cancelled
                    if error is None:
                        entry.done.set_result(None)
                    else:
                        entry.done.set_exception(error)
                batch = []
        except BaseException:  # cancelled (shut down): no caller may wait for ever
            for entry in batch + self._queue:
                entry.done.cancel()
            self._queue = []
            raise
        finally:
            self._flushing = None


def _log_failure(done: asyncio.Future[None]) -> None:
    if not done.cancelled() and done.exception() is not None:
        logger.error("bot replies not kept in the transcript: %s", done.exception())
