"""Web chat: a page and a websocket that use the same relay as Telegram."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import asdict
from pathlib import Path

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse

from bot.outbox_delivery import pump_web
from bot.relay import Relay

logger = logging.getLogger(__name__)
PAGE = Path(__file__).with_name("static") / "webchat.html"
MAX_FRAME_CHARS = 20_000
_WAKERS: dict[str, asyncio.Event] = {}  # conversation → "deliver its outbox rows now"


def wake(conversation: str) -> None:
    """Deliver the conversation's pending rows now if its page is connected here."""
    event = _WAKERS.get(conversation)
    if event is not None:
        event.set()


def router(relay_of, db_url: str) -> APIRouter:  # type: ignore[no-untyped-def]
    """``relay_of()`` returns the running :class:`Relay` (built at start-up, not import);
    notifications for the conversation are pumped to the page while it is connected."""
    api = APIRouter()

    @api.get("/", response_class=HTMLResponse)
    async def page() -> str:
        return PAGE.read_text(encoding="utf-8")

    @api.websocket("/ws/chat/{session_id}")
    async def chat(websocket: WebSocket, session_id: str) -> None:
        try:
            uuid.UUID(session_id)
        except ValueError:
            await websocket.close(code=4400, reason="bad session id")
            return
        await websocket.accept()
        relay: Relay = relay_of()
        conversation = f"web:{session_id}"
        waker = _WAKERS.setdefault(conversation, asyncio.Event())
        pump = asyncio.create_task(pump_web(
            db_url, conversation,
            lambda frame: websocket.send_text(json.dumps(frame, ensure_ascii=False)),
            wake=waker,
        ))
        try:
            while True:
                raw = await websocket.receive_text()
                try:
                    frame = json.loads(raw[:MAX_FRAME_CHARS * 2])
                    text = str(frame.get("text", ""))[:MAX_FRAME_CHARS]
                    is_payload = bool(frame.get("payload"))
                except (ValueError, AttributeError):
                    text, is_payload = raw[:MAX_FRAME_CHARS], False
                if not is_payload:
                    text = text.lstrip("/")
                replies = await relay.handle(conversation, "web", text, is_payload=is_payload)
                await websocket.send_text(
                    json.dumps({"messages": [asdict(r) for r in replies]}, ensure_ascii=False)
                )
        except WebSocketDisconnect:
            return
        finally:
            pump.cancel()
            if _WAKERS.get(conversation) is waker:
                del _WAKERS[conversation]

    return api
