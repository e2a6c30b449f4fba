"""Shared builders for the gateway tests: the gateway app served against the fake Bot API and
the Rasa stand-in, its stored transcript, and waiting for a condition.

:func:`run_gateway` is what tests/test_gateway.py, tests/test_gateway_hardening.py and
tests/test_webhook_inbox.py each built for themselves: the stand-in Rasa and the real gateway
(``bot.app.create_app``) on free ports in the test's event loop, Redis and the database real.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from sqlalchemy import select

from bot.app import WEBHOOK_PATH, create_app
from hotline.db import session_scope
from hotline.models import TranscriptMessage
from hotline.settings import Settings
from tests.fake_telegram import FakeTelegram
from tests.rasa_standin import RasaStandIn
from tests.telegram_helpers import serve_asgi

T = TypeVar("T")

GATEWAY_SECRET = "s3cret-token-for-tests"
"""The webhook secret :func:`run_gateway` configures unless told otherwise."""


@dataclass
class Gateway:
    """A gateway being served by :func:`run_gateway`, and what it talks to."""

    url: str
    fake: FakeTelegram
    rasa: RasaStandIn
    db_url: str

    def ws_url(self, session: str) -> str:
        """The web chat's websocket URL for a session id (spelt as given)."""
        return self.url.replace("http", "ws", 1) + f"/ws/chat/{session}"


@asynccontextmanager
async def run_gateway(fake: FakeTelegram, redis_url: str, db_url: str,
                      rasa: RasaStandIn | None = None, **settings: Any,
                      ) -> AsyncIterator[Gateway]:
    """Serve ``rasa`` (a default :class:`RasaStandIn` if none) and the gateway app.

    The gateway polls the fake Bot API, waits 5 s for Rasa and has :data:`GATEWAY_SECRET` as
    its webhook secret; keyword arguments override any :class:`Settings` field
    (``telegram_mode="webhook"``, ``rasa_timeout_s=1``, ``operator_chat_id=...``). In webhook
    mode the fake's webhook is then pointed at the served app, with the app's secret: the
    app's own ``setWebhook`` at startup could only name the placeholder public URL.
    """
    rasa = rasa if rasa is not None else RasaStandIn()
    async with serve_asgi(rasa.app()) as rasa_url:
        config = Settings(**{
            "redis_url": redis_url, "rasa_url": rasa_url, "database_url": db_url,
            "rasa_timeout_s": 5, "telegram_token": fake.token,
            "telegram_base_url": fake.base_url, "telegram_mode": "polling",
            "telegram_secret_token": GATEWAY_SECRET, "public_url": "http://127.0.0.1:1",
            **settings,
        })
        async with serve_asgi(create_app(config)) as url:
            if config.telegram_mode == "webhook":
                async with httpx.AsyncClient() as client:
                    await client.post(fake.api_url("setWebhook"), json={
                        "url": url + WEBHOOK_PATH, "secret_token": config.telegram_secret_token})
            yield Gateway(url, fake, rasa, db_url)


def transcript(db_url: str, conversation: str) -> list[tuple[str, str]]:
    """A conversation's stored transcript as ``(direction, text)``, oldest first."""
    with session_scope(db_url) as session:
        rows = session.execute(select(TranscriptMessage.direction, TranscriptMessage.text).where(
            TranscriptMessage.conversation_id == conversation).order_by(TranscriptMessage.id))
        return [(d, t) for d, t in rows]


def inbound_texts(db_url: str, conversation: str) -> list[str]:
    """What the enterprise said in a conversation (the transcript's ``in`` lines)."""
    return [text for direction, text in transcript(db_url, conversation) if direction == "in"]


async def until(check: Callable[[], T], timeout: float = 10.0) -> T:
    """Poll ``check`` every 50 ms until it returns something truthy, and return that."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout:g}s: {check}")
        await asyncio.sleep(0.05)
