"""The gateway's ASGI app: web chat, Telegram webhook/polling, health."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from sqlalchemy import text
from telegram import Update
from telegram.ext import Application

from bot import flood, logsafe, metrics, web_wake, webchat
from bot.hot_announce import hot_issue_loop
from bot.housekeeping import idle_release_loop, purge_loop
from bot.operator_group import OperatorGroup
from bot.outbox_delivery import OutboxDelivery
from bot.rasa_client import RasaClient
from bot.relay import Relay
from bot.telegram import TelegramChannel
from bot.tg_inbox import WebhookInbox
from bot.tg_poller import PollerLease, holder_name
from bot.tg_rate import SharedRateLimiter, bot_id_of
from bot.tg_updates import PerChatProcessor
from console import web as console_web
from console.context import ConsoleContext
from hotline import channels, heap
from hotline.db import session_scope
from hotline.hot.settings import get_hot_settings
from hotline.operator_chat import Effects, OperatorChat
from hotline.send_rate import SendLimits, SendRate
from hotline.settings import Settings, get_settings

logger = logging.getLogger(__name__)
WEBHOOK_PATH = "/telegram/webhook"


@dataclass
class Runtime:
    redis: Redis
    rasa: RasaClient
    relay: Relay
    telegram: Application | None = None
    outbox: OutboxDelivery | None = None
    operator_group: OperatorGroup | None = None
    inbox: WebhookInbox | None = None
    poller: asyncio.Task[None] | None = None  # polling mode: holds the poller lease


def _operator_group_post(settings: Settings, runtime: Runtime):  # type: ignore[no-untyped-def]
    """Posting HTML to the operators' Telegram group, when there is one."""
    if runtime.telegram is None or settings.operator_chat_id is None:
        return None
    bot, chat_id = runtime.telegram.bot, settings.operator_chat_id

    async def post(text: str) -> object:
        from telegram import LinkPreviewOptions

        return await bot.send_message(chat_id, text, parse_mode="HTML",
                                      link_preview_options=LinkPreviewOptions(is_disabled=True))

    return post


def create_app(settings: Settings | None = None, *, settle_heap: bool = False) -> FastAPI:
    """``settle_heap``: the gateway process's own app (``python -m bot``), whose start's heap is
    kept out of the collector's full passes once started (:mod:`hotline.heap`); not in tests,
    which build many apps in one process."""
    settings = settings or get_settings()
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if not settings.redis_url:
            raise RuntimeError("REDIS_URL is not set: the gateway needs Redis")
        redis = Redis.from_url(settings.redis_url)
        sync = SyncRedis.from_url(settings.redis_url)  # for the sync handoff and console code
        rasa = RasaClient(settings.rasa_url, settings.rasa_timeout_s, token=settings.rasa_token,
                          max_inflight=settings.rasa_max_inflight)
        runtime = Runtime(redis=redis, rasa=rasa, relay=Relay(
            rasa, redis, sync, settings.db_url(), avg_handle_s=settings.avg_handle_s,
            attachment_max_bytes=settings.attachment_max_mb * 1024 * 1024))
        state["rt"] = runtime
        state["metrics"] = CollectorRegistry()  # read from Redis and the database per scrape
        state["metrics"].register(metrics.SharedState(sync, settings.db_url()))
        tasks: list[asyncio.Task[None]] = []
        # Web pages connected here are woken by a change committed on any gateway.
        tasks.append(asyncio.create_task(web_wake.listen(redis), name="web-wake"))
        # The effects of every operator action (console, operators' group, idle release).
        effects = Effects(sync, deliver=lambda conversation: _deliver_now(runtime, conversation),
                          resume_bot=lambda conversation: _resume_bot(runtime, conversation))
        operators = OperatorChat(settings.db_url(), sync, effects,
                                 attachment_max_bytes=settings.attachment_max_mb * 1024 * 1024)
        state["console"] = ConsoleContext(
            settings=settings, db_url=settings.db_url(),
            redis=sync, aredis=redis,
            deliver=effects.deliver, hand_back_to_bot=effects.resume_bot, operators=operators,
        )
        if settings.telegram_token:
            if settings.operator_chat_id is not None:
                # Escalations announced in the operators' Telegram group (a second console).
                runtime.operator_group = OperatorGroup(
                    settings.operator_chat_id, settings.redis_url, settings.db_url(),
                    attachment_max_bytes=settings.attachment_max_mb * 1024 * 1024,
                    allowed_users=settings.operator_group_users(), operator_chat=operators)
            runtime.telegram = await _start_telegram(settings, runtime)
            if runtime.inbox is not None:  # what a stopped gateway left unhandled, then leases
                tasks.append(asyncio.create_task(runtime.inbox.run(runtime.telegram),
                                                 name="webhook-inbox"))
            # Ticket progress and results written by actions and the console reach the chat.
            limiter = runtime.telegram.bot.rate_limiter
            runtime.outbox = OutboxDelivery(
                runtime.telegram.bot, settings.db_url(), redis=redis,
                rate=limiter.rate if isinstance(limiter, SharedRateLimiter) else None)
            runtime.outbox.start()
            if runtime.operator_group is not None:
                await runtime.operator_group.start(runtime.telegram.bot)
        tasks.append(asyncio.create_task(purge_loop(
            settings.db_url(), settings.transcript_retention_days), name="transcript-retention"))
        # New hot issues (热点问题): dashboards refresh, the operators' group is told.
        tasks.append(asyncio.create_task(hot_issue_loop(
            settings.db_url(), redis, _operator_group_post(settings, runtime),
            public_url=settings.public_url, every_s=get_hot_settings().announce_every_s),
            name="hot-issues"))

        async def after_idle_release(conversation: str) -> None:
            await effects.after(conversation, bot_resumes=True)

        tasks.append(asyncio.create_task(idle_release_loop(
            sync, settings.db_url(),
            queued_after_s=settings.handoff_queued_idle_min * 60,
            human_after_s=settings.handoff_human_idle_min * 60,
            after_release=after_idle_release, every_s=settings.handoff_idle_check_s,
        ), name="idle-release"))
        if settle_heap:
            heap.settle("gateway")
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            if runtime.operator_group is not None:
                await runtime.operator_group.stop()
            if runtime.outbox is not None:
                await runtime.outbox.stop()
            if runtime.poller is not None:
                runtime.poller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await runtime.poller
            if runtime.telegram is not None:
                await _stop_telegram(runtime.telegram)
            if runtime.operator_group is not None:
                await runtime.operator_group.aclose()
            await runtime.relay.aclose()  # the replies' transcript lines still queued
            await rasa.aclose()
            sync.close()
            await redis.aclose()

    logsafe.install()  # web session ids out of uvicorn's request logs
    # No public schema or docs of the gateway: they would list every console route and the
    # webhook. The department API's own schema is served behind the console login.
    app = FastAPI(title="企业服务热线 gateway", lifespan=lifespan,
                  openapi_url=None, docs_url=None, redoc_url=None)
    limits = flood.Limits(
        session_per_min=settings.web_session_msgs_per_min,
        ip_per_min=settings.web_ip_msgs_per_min,
        queued_per_ip=settings.web_queued_per_ip,
        upload_max_bytes=settings.attachment_max_mb * 1024 * 1024 + flood.MULTIPART_OVERHEAD,
    )
    app.add_middleware(flood.UploadLimit, max_bytes=limits.upload_max_bytes)
    app.include_router(webchat.router(lambda: state["rt"].relay, settings.db_url(), limits,
                                      trusted_proxies=settings.console_trusted_proxies,
                                      poll_s=settings.web_poll_s))
    console_web.install(app, lambda: state["console"])

    @app.get("/healthz")
    async def healthz() -> dict[str, object]:
        """Liveness: the process serves and reaches Redis."""
        runtime = state["rt"]
        await runtime.redis.ping()
        return {"status": "ok", "telegram": runtime.telegram is not None}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        """Readiness, naming what is down: Redis, the database, Rasa (with its model)."""
        checks = await readiness(state["rt"], settings.db_url(), settings.actions_url)
        ready = all(value == "ok" for value in checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    @app.get("/metrics")
    async def prometheus() -> Response:
        """Prometheus text format: this process's counters, then the shared figures."""
        shared = state["metrics"]
        body = await asyncio.to_thread(lambda: generate_latest(metrics.REGISTRY)
                                       + generate_latest(shared))
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.post(WEBHOOK_PATH)
    async def telegram_webhook(request: Request) -> Response:
        runtime = state["rt"]
        secret = settings.telegram_secret_token or ""
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if runtime.telegram is None or runtime.inbox is None or not secret_matches(given, secret):
            return Response(status_code=403)  # no webhook is set in polling mode
        try:
            data = await request.json()
        except ValueError:
            return Response(status_code=400)
        if not isinstance(data, dict) or type(data.get("update_id")) is not int:
            return Response(status_code=400)
        try:  # stored before Telegram hears 200: a crash after this loses nothing
            new = await runtime.inbox.accept(data)
        except Exception:  # noqa: BLE001 - database away: Telegram sends the update again
            logger.exception("webhook update %s not stored; Telegram will retry",
                             data["update_id"])
            metrics.WEBHOOK_UPDATES.labels("refused").inc()
            return Response(status_code=503)
        metrics.WEBHOOK_UPDATES.labels("stored" if new else "duplicate").inc()
        if new:
            await runtime.telegram.update_queue.put(Update.de_json(data, runtime.telegram.bot))
        return Response(status_code=200)

    return app


async def readiness(runtime: Runtime, db_url: str, actions_url: str = "") -> dict[str, str]:
    """Each dependency: "ok" or why not (the action server when its URL is set)."""
    checks: dict[str, str] = {}
    try:
        await runtime.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        checks["redis"] = f"down: {type(exc).__name__}"
    try:
        await asyncio.to_thread(_database_ok, db_url)
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["database"] = f"down: {type(exc).__name__}"
    try:
        status = await runtime.rasa.status()
        checks["rasa"] = "ok" if status.get("model_file") else "down: no model loaded"
    except Exception as exc:  # noqa: BLE001
        checks["rasa"] = f"down: {type(exc).__name__}"
    if actions_url:
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                answer = await client.get(actions_url.rstrip("/") + "/health")
            checks["actions"] = "ok" if answer.status_code == 200 else f"down: HTTP {answer.status_code}"
        except Exception as exc:  # noqa: BLE001
            checks["actions"] = f"down: {type(exc).__name__}"
    return checks


def _database_ok(db_url: str) -> None:
    with session_scope(db_url) as session:
        session.execute(text("SELECT 1"))


def secret_matches(given: str, secret: str) -> bool:
    """Constant-time check of the webhook's secret header. Compared as bytes: a header with
    non-ASCII characters (decoded as Latin-1 by the server) is a mismatch, not a crash."""
    if not secret:
        return False
    return hmac.compare_digest(given.encode("latin-1", "replace"), secret.encode())


def _deliver_now(runtime: Runtime, conversation: str) -> None:
    """Send a conversation's pending outbox rows now instead of at the next poll."""
    channel = channels.channel_of(conversation)
    if channel is channels.TELEGRAM and runtime.outbox is not None:
        runtime.outbox.wake()
    elif channel is channels.WEB:
        web_wake.publish(runtime.relay.sync, conversation)  # the page may be on another gateway


# Told to Rasa when an operator hands a chat back: no form half-filled by the enterprise's
# messages to the operator, and the dialogue waits for the next message.
RESUME_EVENTS: list[dict[str, Any]] = [
    {"event": "active_loop", "name": None},
    {"event": "slot", "name": "requested_slot", "value": None},
    {"event": "action", "name": "action_listen"},
]


async def _resume_bot(runtime: Runtime, conversation: str) -> None:
    await runtime.rasa.append_events(conversation, RESUME_EVENTS)


async def _start_telegram(settings: Settings, runtime: Runtime) -> Application:
    polling = settings.telegram_mode != "webhook"
    channel = TelegramChannel(runtime.relay, runtime.redis,
                              operator_group=runtime.operator_group)
    base = settings.telegram_base_url
    file_base = base.replace("/bot", "/file/bot") if base.endswith("/bot") else None
    processor = PerChatProcessor()
    if not polling:
        runtime.inbox = WebhookInbox(settings.db_url(), runtime.redis,
                                     lease_s=settings.telegram_inbox_lease_s)
        processor.after = runtime.inbox.finished
    token = settings.telegram_token or ""
    limiter = None
    if settings.telegram_rate_limit:
        limiter = SharedRateLimiter(SendRate(runtime.redis, bot_id_of(token),
                                             SendLimits.from_settings(settings)))
    app = channel.build(token, base, polling=polling, base_file_url=file_base,
                        processor=processor, rate_limiter=limiter)
    await app.initialize()
    if runtime.inbox is not None:
        runtime.inbox.bind(app.bot.id)
    await app.start()
    if polling:
        updater = app.updater
        assert updater is not None

        async def start_polling() -> None:
            await updater.start_polling(poll_interval=0.0, timeout=10,
                                        drop_pending_updates=False)

        async def stop_polling() -> None:
            if updater.running:
                await updater.stop()

        # One gateway polls at a time (several replicas share the bot): the lease's holder.
        lease = PollerLease(runtime.redis, holder_name(settings.gateway_port))
        await lease.step(start_polling, stop_polling)  # at once when the lease is free
        runtime.poller = asyncio.create_task(lease.run(start_polling, stop_polling),
                                             name="telegram-poller")
    else:
        if not settings.public_url or not settings.telegram_secret_token:
            raise RuntimeError(
                "webhook mode needs HOTLINE_PUBLIC_URL and HOTLINE_TELEGRAM_SECRET_TOKEN"
            )
        await app.bot.set_webhook(
            settings.public_url.rstrip("/") + WEBHOOK_PATH,
            secret_token=settings.telegram_secret_token,
            allowed_updates=Update.ALL_TYPES,
        )
        logger.info("Telegram: webhook at %s", settings.public_url)
    return app


async def _stop_telegram(app: Application) -> None:
    if app.updater is not None and app.updater.running:
        await app.updater.stop()
    await app.stop()
    await app.shutdown()
