"""Client of Rasa's REST channel (``/webhooks/rest/webhook``) and of the parts of its HTTP API
the gateway uses. Those (``/status``, ``/conversations/…``) need Rasa's ``--auth-token``, sent
as ``?token=``; the REST channel's webhook is not protected by it and is sent without."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx


class RasaUnavailable(RuntimeError):
    """Rasa did not answer (down, loading, or timed out)."""

    @property
    def timed_out(self) -> bool:
        """Rasa took the message but did not answer in time: it may still be acting on it."""
        return isinstance(self.__cause__, httpx.TimeoutException)


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


class RasaClient:
    def __init__(self, base_url: str, timeout_s: float = 30.0, token: str | None = None) -> None:
        # Every concurrent chat keeps its connection: httpx's default keeps only 20 alive, so
        # under load most requests paid for a new TCP connection (seen in the gateway's profile).
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=timeout_s,
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=256))
        self._auth = {"token": token} if token else {}

    async def send(
        self, sender: str, text: str, metadata: dict[str, Any] | None = None
    ) -> list[BotMessage]:
        payload = {"sender": sender, "message": text, "metadata": metadata or {}}
        try:
            response = await self._http.post("/webhooks/rest/webhook", json=payload)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise RasaUnavailable(str(exc)) from exc
        return [BotMessage.from_rasa(item) for item in response.json()]

    async def append_events(self, sender: str, events: list[dict[str, Any]]) -> None:
        """Add events to a conversation's tracker (the REST API, ``--enable-api``)."""
        try:
            response = await self._http.post(
                f"/conversations/{sender}/tracker/events", json=events,
                params={"include_events": "NONE", **self._auth})
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise RasaUnavailable(self._redact(str(exc))) from None  # the cause names the token

    def _redact(self, text: str) -> str:
        """An error names the URL it failed on: keep the token out of messages and logs."""
        token = self._auth.get("token")
        return text.replace(token, "***") if token else text

    async def status(self) -> dict[str, Any]:
        response = await self._http.get("/status", params=self._auth)
        response.raise_for_status()
        return response.json()

    async def aclose(self) -> None:
        await self._http.aclose()
