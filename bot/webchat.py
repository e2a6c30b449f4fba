"""Web chat: a page and a websocket that use the same relay as Telegram."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response, UploadFile, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse, JSONResponse
from redis.exceptions import RedisError

from bot import flood, messages, offered, web_presence, webframes
from bot.logsafe import pseudonym
from bot.outbox_web import PagePoller, pump_web
from bot.rasa_client import BotMessage
from bot.relay import Handled, Relay
from hotline import attachments, channels, client_address
from hotline.db import session_scope
from hotline.handoff import Mode

logger = logging.getLogger(__name__)
PAGE = Path(__file__).with_name("static") / "webchat.html"
MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # read at most this much; the relay's cap says the rest


def _attachment(db_url: str, attachment_id: int, conversation: str
                ) -> tuple[str, str, bytes] | None:
    with session_scope(db_url) as session:
        return attachments.fetch(session, attachment_id, conversation)


_WAKERS: dict[str, asyncio.Event] = {}  # conversation → "deliver its outbox rows now"


def wake(conversation: str) -> None:
    """Deliver the conversation's pending rows now if its page is connected here."""
    event = _WAKERS.get(conversation)
    if event is not None:
        event.set()


async def _answer(relay: Relay, conversation: str, frame: webframes.Frame,
                  limits: flood.Limits, ip: str | None) -> Handled:
    """The relay's replies to a frame, within the flood limits. The rate counters and the
    mode before are one Redis round trip (the relay goes on that mode rather than read it
    again); the mode after comes with the relay's own."""
    admitted = await flood.admit(relay.redis, limits, conversation, ip)
    if admitted.refusal is not None:
        return Handled([BotMessage(text=admitted.refusal)])
    handled = await _relay(relay, conversation, frame, admitted.mode)
    if admitted.mode in (Mode.BOT, Mode.CLOSED) \
            and await _just_queued(relay, conversation, handled.mode) \
            and await flood.check_queue_cap(relay.sync, limits, conversation, ip):
        return Handled(await relay.tell(conversation, "web",
                                        messages.QUEUE_CAP.format(cap=limits.queued_per_ip)))
    return handled


async def _just_queued(relay: Relay, conversation: str, seen: Mode | None) -> bool:
    """Whether the chat is queued now: ``seen`` when the relay read it after Rasa answered."""
    if seen is not None:
        return seen is Mode.QUEUED
    try:
        return await relay.mode(conversation) is Mode.QUEUED
    except RedisError:
        return False


async def _relay(relay: Relay, conversation: str, frame: webframes.Frame,
                 mode: Mode | None) -> Handled:
    """The relay's replies to a frame; a button the bot never offered here is refused.
    ``mode``: the conversation's mode as admitted (None: unknown, the relay reads it)."""
    if not frame.is_payload:
        # A leading "/" would be read by Rasa as an intent payload: only buttons may do that.
        return await relay.handle_noting_mode(conversation, "web", frame.text.lstrip("/"),
                                              mode=mode)
    try:
        offered_here = await offered.was_offered(relay.redis, conversation, frame.text)
    except RedisError as exc:
        logger.error("button of %s not checked (Redis: %s): busy reply",
                     pseudonym(conversation), exc)
        return Handled([BotMessage(text=messages.RASA_BUSY)])
    if not offered_here:
        logger.warning("a button payload never offered to %s was refused",
                       pseudonym(conversation))
        return Handled([BotMessage(text=messages.BUTTON_EXPIRED)])
    return await relay.handle_noting_mode(conversation, "web", frame.text, is_payload=True,
                                          mode=mode)


def router(relay_of, db_url: str,  # type: ignore[no-untyped-def]
           limits: flood.Limits | None = None, trusted_proxies: str = "",
           poll_s: float = 2.0) -> APIRouter:
    """``relay_of()`` returns the running :class:`Relay` (built at start-up, not import);
    notifications for the conversation are pumped to the page while it is connected, at
    once when woken (:mod:`bot.web_wake`) and every ``poll_s`` seconds in any case (one
    query for all the pages open here, :class:`bot.outbox_web.PagePoller`).
    The upload size is enforced by :class:`bot.flood.UploadLimit` (installed by the app)."""
    limits = limits or flood.Limits()
    api = APIRouter()
    poller = PagePoller(db_url, poll_s)  # every open page's outbox, one query each poll_s

    @api.get("/", response_class=HTMLResponse)
    async def page() -> str:
        return PAGE.read_text(encoding="utf-8").replace(
            "__UPLOAD_MAX_MB__", str(flood.file_mb(limits.upload_max_bytes)))

    @api.get("/chat/files/{attachment_id}")
    async def file(attachment_id: int, c: str = "") -> Response:
        """A file of this conversation (the session id is the page's secret)."""
        session = webframes.session_id(c)
        if session is None:
            return Response(status_code=404)
        found = await asyncio.to_thread(_attachment, db_url, attachment_id, channels.WEB.conversation(session))
        if found is None:
            return Response(status_code=404)
        name, mime, data = found
        return Response(data, media_type=mime, headers={
            "Content-Disposition": attachments.content_disposition(name, mime),
            "X-Content-Type-Options": "nosniff"})

    @api.post("/chat/upload/{session_id}")
    async def upload(session_id: str, file: UploadFile, request: Request) -> JSONResponse:
        session = webframes.session_id(session_id)
        if session is None:
            return JSONResponse({"detail": messages.BAD_SESSION}, status_code=400)
        relay: Relay = relay_of()
        ip = client_address.resolve(request.client.host if request.client else None,
                                    request.headers.getlist("x-forwarded-for"), trusted_proxies)
        refusal = await flood.too_fast(relay.redis, limits, channels.WEB.conversation(session), ip)
        if refusal is not None:
            return JSONResponse({"detail": refusal}, status_code=429)
        data = await file.read(MAX_UPLOAD_BYTES + 1)
        replies = await relay.handle_file(channels.WEB.conversation(session), "web", file.filename,
                                          file.content_type, data)
        return JSONResponse({"messages": [asdict(r) for r in replies]})

    @api.websocket("/ws/chat/{session_id}")
    async def chat(websocket: WebSocket, session_id: str) -> None:
        session = webframes.session_id(session_id)
        if session is None:
            await websocket.close(code=4400, reason="bad session id")
            return
        await websocket.accept()
        relay: Relay = relay_of()
        ip = client_address.resolve(websocket.client.host if websocket.client else None,
                                    websocket.headers.getlist("x-forwarded-for"), trusted_proxies)
        conversation = channels.WEB.conversation(session)
        await web_presence.set_present(relay.redis, conversation, True)

        async def send_frame(frame: dict[str, Any],
                             remembered: frozenset[str] = frozenset()) -> None:
            # Buttons are remembered before the page can press them (``remembered``: already,
            # with the relay's round trip after Rasa answered).
            await relay.remember_offered(conversation, [
                p for p in offered.payloads_of(frame) if p not in remembered])
            await websocket.send_text(json.dumps(frame, ensure_ascii=False))

        waker = _WAKERS.setdefault(conversation, asyncio.Event())
        pump = asyncio.create_task(pump_web(
            db_url, conversation, send_frame, interval=None,
            wake=waker, traditional=lambda: relay.traditional_of(conversation),
        ))
        poller.add(conversation, waker)
        try:
            while True:
                received = await websocket.receive()
                if received["type"] == "websocket.disconnect":
                    raise WebSocketDisconnect(received.get("code", 1000))
                try:
                    frame = webframes.parse(received)
                except webframes.BadFrame as bad:
                    await websocket.send_text(json.dumps(bad.reply(), ensure_ascii=False))
                    continue
                handled = await _answer(relay, conversation, frame, limits, ip)
                await send_frame({"messages": [r.as_json() for r in handled.replies]},
                                 handled.remembered)
        except WebSocketDisconnect:
            return
        finally:
            pump.cancel()
            poller.remove(conversation, waker)
            await web_presence.set_present(relay.redis, conversation, False)
            if _WAKERS.get(conversation) is waker:
                del _WAKERS[conversation]

    return api
