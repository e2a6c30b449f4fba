"""Webhook mode: ``setWebhook`` / ``deleteWebhook`` / ``getWebhookInfo``, the worker that POSTs
queued updates to the bot (in order; again after ``webhook_retry_s`` when refused), and the
tests' side: waiting for a delivery, forged POSTs."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from starlette.requests import Request

from .constants import SECRET_HEADER, WEBHOOK_SECRET, _UseWebhookSecret
from .core import FakeTelegramCore
from .records import UploadedFile, WebhookDelivery, _Described, _Webhook
from .util import _allowed, _as_bool, _as_int, _bad, _now


class WebhookMixin(FakeTelegramCore):
    """The webhook's Bot API methods, delivery worker, and delivery helpers for tests."""

    def _m_set_webhook(
        self, p: dict[str, Any], files: dict[str, UploadedFile], request: Request
    ) -> _Described:
        url = str(p.get("url") or "")
        if not url:
            return self._m_delete_webhook(p, files, request)
        if not re.match(r"^https?://[^/\s]+", url):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = p.get("secret_token")
        if secret is not None and secret != "":
            secret = str(secret)
            if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
                raise _bad("bad webhook: secret token contains unallowed characters")
        else:
            secret = None
        allowed = p.get("allowed_updates")
        with self._cond:
            old = self._webhook
            new = _Webhook(
                url=url,
                secret_token=secret,
                max_connections=_as_int(p.get("max_connections"), "max_connections", 40),
                allowed_updates=[str(a) for a in allowed] if isinstance(allowed, list) else None,
                ip_address=p.get("ip_address") or None,
                has_custom_certificate="certificate" in files or bool(p.get("certificate")),
            )
            if new.allowed_updates is None and old is not None:
                new.allowed_updates = old.allowed_updates
            same = old is not None and (old.url, old.secret_token) == (new.url, new.secret_token)
            self._webhook = new
            if _as_bool(p.get("drop_pending_updates")):
                self._pending.clear()
            self._notify_locked()
        self._wake_server()
        return _Described(True, "Webhook is already set" if same else "Webhook was set")

    def _m_delete_webhook(
        self, p: dict[str, Any], files: dict[str, UploadedFile], request: Request
    ) -> _Described:
        with self._cond:
            existed = self._webhook is not None
            self._webhook = None
            if _as_bool(p.get("drop_pending_updates")):
                self._pending.clear()
            self._notify_locked()
        self._wake_server()
        return _Described(True, "Webhook was deleted" if existed else "Webhook is already deleted")

    # ------------------------------------------------------------ delivery

    async def _delivery_worker(self) -> None:
        """Posts pending updates to the webhook, one at a time, in order."""
        while True:
            with self._cond:
                if self._closing:
                    return
                job: tuple[dict[str, Any], str, str | None] | None = None
                webhook = self._webhook
                while webhook is not None and self._pending and job is None:
                    update = self._pending.pop(0)
                    if _allowed(update, webhook.allowed_updates):
                        job = (update, webhook.url, webhook.secret_token)
                if job is None:
                    assert self._delivery_event is not None
                    self._delivery_event.clear()
                    event = self._delivery_event
            if job is None:
                await event.wait()
                continue
            update, url, secret = job
            delivery = await self._post_update(url, update, secret, via="queue")
            if not delivery.ok and self.webhook_retry_s is not None:
                with self._cond:  # first in line again, as Telegram keeps the order
                    self._pending.insert(0, update)
                await asyncio.sleep(self.webhook_retry_s)

    async def _post_update(
        self, url: str, update: Mapping[str, Any], secret: str | None, *, via: str
    ) -> WebhookDelivery:
        assert self._http is not None
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SECRET_HEADER] = secret
        body = json.dumps(update, ensure_ascii=False).encode()
        status: int | None = None
        error: str | None = None
        text = ""
        try:
            response = await self._http.post(url, content=body, headers=headers)
            status, text = response.status_code, response.text[:2000]
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        update_id = update.get("update_id")
        with self._cond:
            delivery = WebhookDelivery(
                seq=self._next_seq_locked(),
                update_id=update_id if isinstance(update_id, int) else None,
                url=url,
                secret=secret,
                status_code=status,
                error=error,
                response_text=text,
                via=via,
            )
            self._deliveries.append(delivery)
            if delivery.update_id is not None and via == "queue":
                counts = self._delivery_counts
                counts[delivery.update_id] = counts.get(delivery.update_id, 0) + 1
            if not delivery.ok and via == "queue" and self._webhook is not None:
                self._webhook.last_error_date = _now()
                self._webhook.last_error_message = (
                    f"Wrong response from the webhook: {status}" if status else str(error)
                )
            self._notify_locked()
        return delivery

    # ------------------------------------------------------------- reading

    def webhook_info(self) -> dict[str, Any]:
        """The ``getWebhookInfo`` result (``url`` is ``""`` in polling mode)."""
        with self._lock:
            webhook = self._webhook
            info: dict[str, Any] = {
                "url": webhook.url if webhook else "",
                "has_custom_certificate": bool(webhook and webhook.has_custom_certificate),
                "pending_update_count": len(self._pending),
            }
            if webhook is not None:
                info["max_connections"] = webhook.max_connections
                if webhook.ip_address:
                    info["ip_address"] = webhook.ip_address
                if webhook.allowed_updates:
                    info["allowed_updates"] = list(webhook.allowed_updates)
                if webhook.last_error_date:
                    info["last_error_date"] = webhook.last_error_date
                    info["last_error_message"] = webhook.last_error_message
            return info

    @property
    def webhook_url(self) -> str | None:
        """The webhook URL set by the bot (``None`` in polling mode)."""
        with self._lock:
            return self._webhook.url if self._webhook else None

    @property
    def webhook_secret(self) -> str | None:
        """The ``secret_token`` given with ``setWebhook`` (``None`` if none / polling)."""
        with self._lock:
            return self._webhook.secret_token if self._webhook else None

    @property
    def deliveries(self) -> list[WebhookDelivery]:
        """Webhook POSTs made so far, oldest first."""
        with self._lock:
            return list(self._deliveries)

    # ---------------------------------------------- waiting for deliveries

    def _delivery_check(self, update_id: int | None) -> Callable[[], WebhookDelivery | None]:
        def check() -> WebhookDelivery | None:
            target = update_id
            if target is None:
                target = self._actions[-1].update_id if self._actions else None
            return next(
                (d for d in self._deliveries if d.update_id == target and d.via == "queue"), None
            )

        return check

    def _finish_delivery(
        self, update_id: int | None, found: WebhookDelivery | None, timeout: float
    ) -> WebhookDelivery:
        if found is not None:
            return found
        with self._lock:
            webhook = self._webhook
            state = f"webhook {webhook.url!r}" if webhook else "NO webhook set (polling mode)"
            listing = "\n".join(
                f"  update {d.update_id} -> {d.status_code or d.error}" for d in self._deliveries[-10:]
            ) or "  (none)"
            raise AssertionError(
                f"Update {update_id if update_id is not None else '(last)'} was not posted to "
                f"the webhook within {timeout:g}s; {state}; pending "
                f"{[u['update_id'] for u in self._pending]}.\nRecent deliveries:\n{listing}"
            )

    def wait_for_delivery(self, update_id: int | None = None, *, timeout: float = 5.0) -> WebhookDelivery:
        """Block until the update (default: the last user action's) was POSTed to the
        webhook; return the delivery (``status_code``, ``response_text``...)."""
        self._forbid_running_loop("wait_for_delivery", "await_delivery")
        found = self._wait_sync(self._delivery_check(update_id), timeout)
        return self._finish_delivery(update_id, found, timeout)

    async def await_delivery(
        self, update_id: int | None = None, *, timeout: float = 5.0
    ) -> WebhookDelivery:
        """Async twin of :meth:`wait_for_delivery`."""
        found = await self._wait_async(self._delivery_check(update_id), timeout)
        return self._finish_delivery(update_id, found, timeout)

    # -------------------------------------------------------- forged POSTs

    def _manual_post_future(
        self,
        update: Mapping[str, Any] | None,
        secret: str | None | _UseWebhookSecret,
        url: str | None,
    ) -> Any:
        loop = self._loop
        if loop is None or self._thread is None:
            raise RuntimeError("FakeTelegram is not running")
        with self._lock:
            webhook = self._webhook
            target = url or (webhook.url if webhook else None)
            if target is None:
                raise ValueError("no webhook is set; pass url=")
            if isinstance(secret, _UseWebhookSecret):
                secret = webhook.secret_token if webhook else None
        body = dict(update) if update is not None else self.build_text_update(424242, "forged update")
        return asyncio.run_coroutine_threadsafe(
            self._post_update(target, body, secret, via="manual"), loop
        )

    def post_to_webhook(
        self,
        update: Mapping[str, Any] | None = None,
        *,
        secret: str | None | _UseWebhookSecret = WEBHOOK_SECRET,
        url: str | None = None,
    ) -> WebhookDelivery:
        """POST an update straight to the webhook (not queued, no user action) and return
        the result. ``secret=None`` sends no secret header, a string sends that value,
        the default sends the configured one. ``update`` defaults to a forged text
        message from chat 424242. Blocking: in async tests use :meth:`apost_to_webhook`."""
        self._forbid_running_loop("post_to_webhook", "apost_to_webhook")
        future = self._manual_post_future(update, secret, url)
        return future.result(timeout=self.webhook_timeout + 5)

    async def apost_to_webhook(
        self,
        update: Mapping[str, Any] | None = None,
        *,
        secret: str | None | _UseWebhookSecret = WEBHOOK_SECRET,
        url: str | None = None,
    ) -> WebhookDelivery:
        """Async twin of :meth:`post_to_webhook`."""
        future = self._manual_post_future(update, secret, url)
        return await asyncio.wrap_future(future)
