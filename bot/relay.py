"""Channel-neutral relay: enterprise message → transcript → (bot | queue | operator) → replies.

Telegram and the web chat both call :class:`Relay`; nothing is lost when Rasa is down:
the inbound message is in the transcript before anything else happens. The conversation's
handoff mode (:mod:`hotline.handoff`) decides who answers:

- ``bot``: Rasa answers (an action there may queue the chat for a person);
- ``queued``: the enterprise is told its place; "取消" or the 取消排队 button leaves the queue;
- ``human``: the bot is silent; the message is in the transcript and the console is told
  (:mod:`hotline.live`), the operator answers from there;
- ``closed``: the next message reopens the conversation with the bot.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import redis as sync_redis
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot import messages, metrics, offered, relay_script
from bot.logsafe import pseudonym
from bot.rasa_client import BotMessage, RasaClient, RasaUnavailable
from bot.relay_records import record_file, record_once, ticket_since
from bot.transcript_writer import TranscriptWriter
from hotline import (
    attachments,
    handoff,
    live,
    log_context,
    redis_keys,
    service_ratings,
)
from hotline.db import session_scope
from hotline.handoff import Mode

logger = logging.getLogger(__name__)
MAX_CHARS = 2000  # what is sent to Rasa; the transcript keeps everything
# Button payloads the bot still handles while a person has the chat: ticket ratings.
BOT_PAYLOADS = ("/inform{",)
# redis_keys.confirm_shown(conversation) → when the 确认提交 button was last shown
CONFIRM_PAYLOAD = "/affirm"
CONFIRM_TTL_S = 86400
#: After Rasa timed out on a confirmation, how long to look for the ticket its action may still
#: be writing before telling the enterprise it was not created.
CONFIRM_GRACE_S = 10.0


@dataclass(frozen=True)
class Handled:
    """A message's replies, and the conversation's mode read after Rasa answered it (None
    when it was not read: another mode answered, or Rasa or Redis could not); ``remembered``:
    the payloads of its buttons already remembered as offered (:mod:`bot.offered`)."""

    replies: list[BotMessage]
    mode: Mode | None = None
    remembered: frozenset[str] = frozenset()


class Relay:
    def __init__(self, rasa: RasaClient, redis: Redis, sync: sync_redis.Redis, db_url: str, *,
                 avg_handle_s: float = handoff.DEFAULT_AVG_HANDLE_S,
                 attachment_max_bytes: int = attachments.DEFAULT_MAX_BYTES) -> None:
        """``sync`` is a client of the same Redis: handoff's transitions are sync calls
        (run in a thread); the caller owns and closes both clients."""
        self._rasa = rasa
        self._redis = redis
        self._sync = sync
        self._db_url = db_url
        self._avg_handle_s = avg_handle_s
        self._max_bytes = attachment_max_bytes
        self._transcript = TranscriptWriter(db_url, sync)

    @property
    def redis(self) -> Redis:
        return self._redis

    @property
    def sync(self) -> sync_redis.Redis:
        return self._sync

    async def tell(self, conversation_id: str, channel: str, text: str) -> list[BotMessage]:
        """A gateway notice, recorded in the transcript like any reply."""
        replies = await self._out(conversation_id, channel, [BotMessage(text=text)], False)
        await self.settled(conversation_id)
        return replies

    async def settled(self, conversation_id: str) -> None:
        """Wait until the conversation's replies are in the transcript (raises what the
        database raised); :meth:`handle_noting_mode` returns before that."""
        await self._transcript.settled(conversation_id)

    async def aclose(self) -> None:
        """Commit the transcript lines still queued (at shut-down)."""
        await self._transcript.aclose()

    async def remember_offered(self, conversation_id: str, payloads: list[str]) -> None:
        """Buttons shown to a web page (see :mod:`bot.offered`); best effort."""
        try:
            await offered.remember(self._redis, conversation_id, payloads)
        except RedisError as exc:
            logger.warning("buttons offered to %s not remembered (Redis: %s)",
                           pseudonym(conversation_id), exc)

    async def mode(self, conversation_id: str) -> Mode:
        return handoff.mode_from(await self._redis.hget(handoff.state_key(conversation_id),
                                                        "mode"))

    def _queue_reply(self, conversation_id: str) -> BotMessage:
        text = handoff.queue_notice_zh(self._sync, conversation_id,
                                       avg_handle_s=self._avg_handle_s, first=False)
        return BotMessage(text=text, buttons=[handoff.CANCEL_BUTTON])

    def _rate_service(self, conversation_id: str, payload: str) -> str:
        with session_scope(self._db_url) as session:
            return service_ratings.record(session, self._sync, conversation_id, payload)

    def _cancel(self, conversation_id: str) -> BotMessage:
        try:
            handoff.cancel(self._sync, conversation_id)
        except handoff.InvalidHandoff as exc:
            return BotMessage(text=exc.message)
        return BotMessage(text=messages.QUEUE_CANCELLED)

    async def _out(self, conversation_id: str, channel: str, replies: list[BotMessage],
                   traditional: bool) -> list[BotMessage]:
        replies = [relay_script.localize(r, traditional) for r in replies]
        metrics.MESSAGES_OUT.labels(channel).inc(len(replies))
        shown = [text for r in replies if (text := r.text or (r.custom or {}).get("html", ""))]
        if shown:  # committed with the next message's line (or soon): in order, one hop
            self._transcript.write_soon(conversation_id, channel, "out", "bot", shown)
        return replies

    async def _before_bot(self, conversation_id: str, text: str, is_payload: bool,
                          mode: Mode) -> list[BotMessage] | None:
        """Answers of the handoff modes; None when the bot should answer."""
        if is_payload and service_ratings.is_payload(text):
            answer = await asyncio.to_thread(self._rate_service, conversation_id, text)
            return [BotMessage(text=answer)]
        if text == handoff.CANCEL_PAYLOAD or (mode is Mode.QUEUED and text in handoff.CANCEL_WORDS):
            return [await asyncio.to_thread(self._cancel, conversation_id)]
        if is_payload and text.startswith(BOT_PAYLOADS) and mode in (Mode.QUEUED, Mode.HUMAN):
            return None  # a rating pressed while waiting or talking to a person still counts
        if is_payload and mode is Mode.HUMAN:
            return [BotMessage(text=messages.BUTTON_WITH_PERSON)]
        if mode is Mode.QUEUED:
            return [await asyncio.to_thread(self._queue_reply, conversation_id)]
        if mode is Mode.HUMAN:
            return []  # the operator answers from the console
        if mode is Mode.CLOSED:
            await asyncio.to_thread(handoff.reopen, self._sync, conversation_id)
        return None

    async def _after_rasa(self, conversation_id: str, channel: str, text: str, is_payload: bool,
                          answer: list[BotMessage]) -> tuple[bool, Mode, frozenset[str]]:
        """One round trip once Rasa has answered: remember the buttons offered (a web page's,
        :mod:`bot.offered`) and when the ticket confirmation was shown (until the bot says
        anything else), note the script (:mod:`bot.relay_script`) and read the mode an action
        may have changed. Returns (traditional, mode, payloads remembered)."""
        key = redis_keys.confirm_shown(conversation_id)
        payloads = offered.of_buttons(b for reply in answer for b in reply.buttons) \
            if channel in offered.CHECKED else []
        async with self._redis.pipeline(transaction=False) as pipe:
            remembering = offered.queue_remember(pipe, conversation_id, payloads)
            if any(b["payload"] == CONFIRM_PAYLOAD for reply in answer for b in reply.buttons):
                pipe.set(key, datetime.now(timezone.utc).isoformat(), ex=CONFIRM_TTL_S)
            elif answer:
                pipe.delete(key)
            written = relay_script.queue_note(pipe, conversation_id, text, is_payload)
            pipe.hget(handoff.state_key(conversation_id), "mode")
            results = await pipe.execute()
        if remembering:
            await offered.bound(self._redis, conversation_id, results[2])
        return (relay_script.traditional(written, results[-2]), handoff.mode_from(results[-1]),
                frozenset(payloads))

    async def _empty_answer(self, conversation_id: str, mode: Mode, *, confirm_pressed: bool,
                            received: datetime) -> list[BotMessage]:
        """Rasa answered nothing: the action server is down or an action raised."""
        if mode is not Mode.BOT:
            return []  # an action handed the chat to a person: the queue notice is theirs
        metrics.RASA_FAILURES.labels("empty").inc()
        logger.error("Rasa gave an empty answer for %s (action server down or an action "
                     "failed)", pseudonym(conversation_id))
        return await self._unanswered(conversation_id, messages.EMPTY_ANSWER,
                                      confirm_pressed=confirm_pressed, received=received)

    async def _unanswered(self, conversation_id: str, generic: str, *, confirm_pressed: bool,
                          received: datetime, grace_s: float = 0.0) -> list[BotMessage]:
        """Nobody could answer a message (Rasa, Redis or the action server away). Say so; after
        the ticket confirmation (shown, or its button pressed), say whether the ticket exists —
        the enterprise must never be left to guess whether its confirmed request was filed."""
        try:
            shown = await self._redis.getdel(redis_keys.confirm_shown(conversation_id))
        except RedisError:
            shown = None
        if shown is None and not confirm_pressed:
            return [BotMessage(text=generic)]
        since = (datetime.fromisoformat(shown.decode()) if shown is not None
                 else received - timedelta(seconds=1))
        try:
            found = await self._ticket_within(conversation_id, since, grace_s)
        except Exception:  # noqa: BLE001 - database away too: nothing can be said for sure
            logger.exception("whether a ticket confirmed in %s exists is unknown",
                             pseudonym(conversation_id))
            return [BotMessage(text=generic)]
        if found is None:
            logger.error("a ticket confirmed in %s was not created: the enterprise is told",
                         pseudonym(conversation_id))
            return [BotMessage(text=messages.TICKET_NOT_CREATED)]
        number, department = found
        return [BotMessage(text=messages.TICKET_CREATED_UNTOLD.format(number=number,
                                                                      department=department))]

    async def _ticket_within(self, conversation_id: str, since: datetime,
                             grace_s: float) -> tuple[str, str] | None:
        """The ticket filed since ``since``, looking again for ``grace_s`` seconds (an action
        still running after Rasa timed out may yet write it)."""
        deadline = asyncio.get_running_loop().time() + grace_s
        while True:
            found = await asyncio.to_thread(ticket_since, self._db_url, conversation_id, since)
            if found is not None or asyncio.get_running_loop().time() >= deadline:
                return found
            await asyncio.sleep(0.5)

    async def handle_file(
        self, conversation_id: str, channel: str, filename: str | None, mime: str | None,
        data: bytes, caption: str | None = None,
    ) -> list[BotMessage]:
        """A photo or document: kept for the operator while queued or with a person."""
        replies = await self._handle_file(conversation_id, channel, filename, mime, data,
                                          caption)
        await self.settled(conversation_id)
        return replies

    async def _handle_file(self, conversation_id: str, channel: str, filename: str | None,
                           mime: str | None, data: bytes, caption: str | None
                           ) -> list[BotMessage]:
        try:
            mode = await self.mode(conversation_id)
            traditional = await self._redis.get(redis_keys.script(conversation_id)) == b"t"
        except RedisError as exc:
            # Who has the chat is unknown: keep the file (an operator may need it), say busy.
            logger.error("Redis unavailable for a file of %s: kept, busy reply (%s)",
                         pseudonym(conversation_id), exc)
            try:
                await asyncio.to_thread(record_file, self._db_url, conversation_id, channel,
                                        filename, mime, data, caption, self._max_bytes)
            except attachments.AttachmentError as refused:
                return await self._out(conversation_id, channel, [BotMessage(
                    text=messages.FILE_REFUSED.format(reason=refused))], False)
            return await self._out(conversation_id, channel,
                                   [BotMessage(text=messages.RASA_BUSY)], False)
        if mode not in (Mode.QUEUED, Mode.HUMAN):
            return await self._out(conversation_id, channel,
                                   [BotMessage(text=messages.NON_TEXT_FILE)], traditional)
        try:
            name = await asyncio.to_thread(record_file, self._db_url, conversation_id, channel,
                                           filename, mime, data, caption, self._max_bytes)
        except attachments.AttachmentError as exc:
            return await self._out(conversation_id, channel,
                                   [BotMessage(text=messages.FILE_REFUSED.format(reason=exc))],
                                   traditional)
        await live.apublish(self._redis, conversation_id)
        if mode is Mode.HUMAN:
            return []
        return await self._out(conversation_id, channel,
                               [BotMessage(text=messages.FILE_KEPT.format(name=name))],
                               traditional)

    async def traditional_of(self, conversation_id: str) -> bool:
        """Whether pushed messages to this conversation go out in Traditional script."""
        try:
            return await self._redis.get(redis_keys.script(conversation_id)) == b"t"
        except Exception:  # noqa: BLE001 - the script is a nicety; Redis down must not block
            logger.warning("script of %s unknown (Redis)", pseudonym(conversation_id))
            return False

    async def handle(
        self, conversation_id: str, channel: str, text: str, *, is_payload: bool = False,
        source_ref: str | None = None,
    ) -> list[BotMessage]:
        """The replies to one message, in the transcript when this returns. ``source_ref``:
        the channel's id of the message, so that a message handled again after a crash is
        recorded once."""
        handled = await self.handle_noting_mode(conversation_id, channel, text,
                                                is_payload=is_payload, source_ref=source_ref)
        await self.settled(conversation_id)
        return handled.replies

    async def handle_noting_mode(
        self, conversation_id: str, channel: str, text: str, *, is_payload: bool = False,
        source_ref: str | None = None, mode: Mode | None = None,
    ) -> Handled:
        """:meth:`handle`, with the mode read after Rasa answered (the web chat's queue cap
        needs it; read in the same round trip as the relay's own bookkeeping), returned before
        the replies are in the transcript (see :meth:`settled`). ``mode``: the
        conversation's mode read just before, with the web chat's rate counters (not read
        again); None: read here once the message is in the transcript."""
        text = (text or "").strip()
        if not text:
            return Handled([BotMessage(text=messages.EMPTY)])
        with log_context.request(pseudonym(conversation_id), reuse=True), metrics.Timer(channel):
            handled = await self._handle(conversation_id, channel, text, is_payload, source_ref,
                                         mode)
            logger.info("%s message answered with %d replies", channel, len(handled.replies))
            return handled

    async def _handle(self, conversation_id: str, channel: str, text: str, is_payload: bool,
                      source_ref: str | None, mode: Mode | None) -> Handled:
        # First of all: the message is in the transcript, whatever fails next; the console
        # hears of it once it is there.
        if source_ref is None:
            await self._transcript.write(conversation_id, channel, "in", "enterprise", [text],
                                         announce=True)
        else:
            await asyncio.to_thread(record_once, self._db_url, conversation_id, channel, text,
                                    source_ref)
        received = datetime.now(timezone.utc)
        try:
            return await self._answer(conversation_id, channel, text, is_payload, received,
                                      mode, announced=source_ref is None)
        except RedisError as exc:
            metrics.RASA_FAILURES.labels("redis").inc()
            # Handoff modes, de-duplication and Rasa's trackers live in Redis: nobody can answer.
            logger.error("Redis unavailable while answering %s: busy reply (%s)",
                         pseudonym(conversation_id), exc)
            replies = await self._unanswered(
                conversation_id, messages.RASA_BUSY, received=received,
                confirm_pressed=is_payload and text == CONFIRM_PAYLOAD)
            return Handled(await self._out(conversation_id, channel, replies, False))

    async def handle_edit(self, conversation_id: str, channel: str, text: str
                          ) -> list[BotMessage]:
        """An edited earlier message: kept in the transcript, marked as an edit, and not
        answered again (the bot has acted on the original)."""
        text = (text or "").strip()
        if not text:
            return []
        await self._transcript.write(conversation_id, channel, "in", "enterprise",
                                     [messages.EDITED_MARK + text], announce=True)
        replies = await self._out(conversation_id, channel,
                                  [BotMessage(text=messages.EDIT_NOT_PROCESSED)], False)
        await self.settled(conversation_id)
        return replies

    async def _answer(self, conversation_id: str, channel: str, text: str, is_payload: bool,
                      received: datetime, mode: Mode | None, *, announced: bool) -> Handled:
        """The replies to a message already in the transcript (``announced``: and on the
        console's live stream)."""
        if mode is None or not announced:
            async with self._redis.pipeline(transaction=False) as pipe:  # one round trip
                if not announced:
                    live.queue_publish(pipe, conversation_id)
                pipe.hget(handoff.state_key(conversation_id), "mode")
                *_, raw_mode = await pipe.execute()
            if mode is None:
                mode = handoff.mode_from(raw_mode)
        handled = await self._before_bot(conversation_id, text, is_payload, mode)
        if handled is not None:
            traditional = await relay_script.note(self._redis, conversation_id, text, is_payload)
            return Handled(await self._out(conversation_id, channel, handled, traditional))
        replies: list[BotMessage] = []
        confirm_pressed = is_payload and text == CONFIRM_PAYLOAD
        to_rasa = text
        if not is_payload and len(text) > MAX_CHARS:
            to_rasa = text[:MAX_CHARS]
            replies.append(BotMessage(text=messages.TOO_LONG.format(limit=MAX_CHARS)))
        try:
            # Only the log ids go along (the channel is the conversation id's prefix): every
            # key is kept in the tracker's events and sent with it to the action server.
            answer = await self._rasa.send(conversation_id, to_rasa, log_context.for_rasa())
        except RasaUnavailable as exc:
            metrics.RASA_FAILURES.labels("timeout" if exc.timed_out else "unavailable").inc()
            logger.error("Rasa unavailable for %s: %s", pseudonym(conversation_id), exc)
            replies = await self._unanswered(
                conversation_id, messages.RASA_BUSY, confirm_pressed=confirm_pressed,
                received=received, grace_s=CONFIRM_GRACE_S if exc.timed_out else 0.0)
            try:
                traditional = await relay_script.note(self._redis, conversation_id, text, is_payload)
            except RedisError:  # the busy reply goes out all the same, in the default script
                traditional = False
            return Handled(await self._out(conversation_id, channel, replies, traditional))
        # Redis gone since Rasa answered: raised, the enterprise is told (see _handle)
        traditional, mode, remembered = await self._after_rasa(conversation_id, channel, text,
                                                               is_payload, answer)
        replies += answer if answer else await self._empty_answer(
            conversation_id, mode, confirm_pressed=confirm_pressed, received=received)
        return Handled(await self._out(conversation_id, channel, replies, traditional), mode,
                       remembered)
