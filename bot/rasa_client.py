"""Client of Rasa's REST channel (``/webhooks/rest/webhook``) and of the parts of its HTTP API
the gateway uses. Those (``/status``, ``/conversations/…``) need Rasa's ``--auth-token``, sent
as ``?token=``; the REST channel's webhook is not protected by it and is sent without."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bot.metrics import RASA_WAIT


class RasaUnavailable(RuntimeError):
    """Rasa did not answer (down, loading, or timed out)."""

    @property
    def timed_out(self) -> bool:
        """Rasa took the message but did not answer in time: it may still be acting on it."""
        return isinstance(self.__cause__, asyncio.TimeoutError)


@dataclass
class BotMessage:
    """One reply of the bot, channel-neutral."""

    text: str = ""
    buttons: list[dict[str, str]] = field(default_factory=list)  # {"title", "payload"}
    image: str | None = None
    custom: dict[str, Any] | None = None

    @classmethod
    def from_rasa(cls, data: dict[str, Any]) -> BotMessage:
        buttons = [
            {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
            for b in data.get("buttons") or []
        ]
        return cls(
            text=str(data.get("text") or ""),
            buttons=buttons,
            image=data.get("image"),
            custom=data.get("custom"),
        )

    def as_json(self) -> dict[str, Any]:
        """What ``dataclasses.asdict`` gives, without its deep copy (the web chat's frames)."""
        return {"text": self.text, "buttons": self.buttons, "image": self.image,
                "custom": self.custom}


class RasaClient:
    """One aiohttp session, opened on first use (inside the running event loop).

    aiohttp, not httpx: on the gateway's per-message path httpx's client cost about 2 ms of CPU
    a request at 32 concurrent chats, a third of the gateway's Python time (py-spy); aiohttp
    about 0.1 ms (bench in issue 15's note). Every concurrent chat keeps its connection.

    At most ``max_inflight`` messages are inside Rasa at once; the others wait here, first
    come first served. Rasa works on every message it holds by turns, so with 32 at once each
    one's time is the sum of all of theirs, and a policy question (an action call, a search)
    waits longest: at 32 chats the web chat's p95 was 1.2-1.5 x raw Rasa's. Queued here in
    arrival order, every message waits about as long as the others, and Rasa stays as busy
    (bench/bench_load.py, issue 15's note). The wait is in ``hotline_rasa_wait_seconds``.
    """

    def __init__(self, base_url: str, timeout_s: float = 30.0, token: str | None = None,
                 max_inflight: int = 0) -> None:
        self._base = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._auth = {"token": token} if token else {}
        self._session: aiohttp.ClientSession | None = None
        self._turns = asyncio.Semaphore(max_inflight) if max_inflight > 0 else None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=256), timeout=self._timeout)
        return self._session

    async def send(
        self, sender: str, text: str, metadata: dict[str, Any] | None = None
    ) -> list[BotMessage]:
        payload = {"sender": sender, "message": text, "metadata": metadata or {}}
        if self._turns is None:
            return await self._post_message(payload)
        queued = time.perf_counter()
        try:
            await asyncio.wait_for(self._turns.acquire(), self._timeout.total)
        except asyncio.TimeoutError:
            # Rasa never saw it (no cause: not "timed out", nothing may be acting on it)
            raise RasaUnavailable("no turn into Rasa within the timeout") from None
        try:
            RASA_WAIT.observe(time.perf_counter() - queued)
            return await self._post_message(payload)
        finally:
            self._turns.release()

    async def _post_message(self, payload: dict[str, Any]) -> list[BotMessage]:
        try:
            async with self._http().post(f"{self._base}/webhooks/rest/webhook",
                                         json=payload) as response:
                response.raise_for_status()
                data = await response.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise RasaUnavailable(str(exc) or type(exc).__name__) from exc
        return [BotMessage.from_rasa(item) for item in data]

    async def append_events(self, sender: str, events: list[dict[str, Any]]) -> None:
        """Add events to a conversation's tracker (the REST API, ``--enable-api``)."""
        try:
            async with self._http().post(
                    f"{self._base}/conversations/{sender}/tracker/events",
                    json=events, params={"include_events": "NONE", **self._auth}) as response:
                response.raise_for_status()
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            # The error names the URL it failed on, token included: it is not kept as cause.
            raise RasaUnavailable(self._redact(str(exc) or type(exc).__name__)) from None

    def _redact(self, text: str) -> str:
        """An error names the URL it failed on: keep the token out of messages and logs."""
        token = self._auth.get("token")
        return text.replace(token, "***") if token else text

    async def status(self) -> dict[str, Any]:
        async with self._http().get(f"{self._base}/status", params=self._auth) as response:
            response.raise_for_status()
            return dict(await response.json(content_type=None))

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
