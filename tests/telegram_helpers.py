"""Helpers to run a real python-telegram-bot 22 ``Application`` against :class:`FakeTelegram`.

* :func:`ptb_builder` — an ``ApplicationBuilder`` pointed at the fake.
* :func:`polling` — async context manager: initialize, start, start_polling, and the
  reverse on exit.
* :func:`serve_asgi` — async context manager: serve an ASGI app with uvicorn on a free
  port in the *current* event loop; yields its base URL.
* :func:`ptb_webhook_asgi` — a minimal Starlette webhook endpoint for an Application
  built with ``.updater(None)`` (checks the secret header, 403 otherwise).
* :func:`polling_in_thread` — run a polling Application in its own thread and event
  loop (as if it were another process), so plain sync tests can drive it.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import Update
from telegram.ext import Application, ApplicationBuilder

from tests.fake_telegram import SECRET_HEADER, FakeTelegram

__all__ = ["polling", "polling_in_thread", "ptb_builder", "ptb_webhook_asgi", "serve_asgi"]


def ptb_builder(fake: FakeTelegram, token: str | None = None) -> ApplicationBuilder:  # type: ignore[type-arg]
    """``Application.builder()`` with token, ``base_url`` and ``base_file_url`` of the fake."""
    return (
        Application.builder()
        .token(token if token is not None else fake.token)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
    )


@asynccontextmanager
async def polling(
    app: Application,  # type: ignore[type-arg]
    *,
    timeout: float = 10,
    drop_pending_updates: bool | None = None,
    allowed_updates: list[str] | None = None,
) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    """Run ``app`` in polling mode for the duration of the block (``poll_interval=0``)."""
    assert app.updater is not None, "build the Application with an Updater for polling"
    await app.initialize()
    try:
        await app.start()
        await app.updater.start_polling(
            poll_interval=0,
            timeout=int(timeout),
            drop_pending_updates=drop_pending_updates,
            allowed_updates=allowed_updates,
        )
        yield app
    finally:
        if app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()


def _free_socket(host: str) -> socket.socket:
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose
    # proto is IPPROTO_TCP; with proto 0, Nagle + delayed ACK add ~40 ms per response.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    return sock


@asynccontextmanager
async def serve_asgi(
    asgi_app: Any, *, host: str = "127.0.0.1", lifespan: str = "on", start_timeout: float = 10
) -> AsyncIterator[str]:
    """Serve ``asgi_app`` with uvicorn in the running loop; yields ``http://host:port``."""
    sock = _free_socket(host)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        asgi_app, log_config=None, log_level="warning", access_log=False, lifespan=lifespan,
        proxy_headers=False,  # as bot/__main__.py: the app decides which proxies to trust
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + start_timeout
    try:
        while not server.started:
            if task.done():
                task.result()  # re-raise the startup error
                raise RuntimeError("uvicorn exited during startup")
            if loop.time() > deadline:
                raise RuntimeError(f"uvicorn did not start within {start_timeout} s")
            await asyncio.sleep(0.005)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


def ptb_webhook_asgi(
    application: Application,  # type: ignore[type-arg]
    *,
    secret: str | None,
    path: str = "/telegram",
) -> Starlette:
    """A Starlette app whose lifespan runs ``application`` (built with ``.updater(None)``)
    and whose ``POST path`` enqueues updates after checking the secret header."""

    async def webhook(request: Request) -> Response:
        if secret is not None and request.headers.get(SECRET_HEADER) != secret:
            return JSONResponse({"ok": False, "error": "forbidden"}, status_code=403)
        data = await request.json()
        await application.update_queue.put(Update.de_json(data, application.bot))
        return Response(status_code=200)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with application:  # initialize() ... shutdown()
            await application.start()
            try:
                yield
            finally:
                await application.stop()

    return Starlette(routes=[Route(path, webhook, methods=["POST"])], lifespan=lifespan)


@contextmanager
def polling_in_thread(app: Application, *, timeout: float = 10) -> Iterator[Application]:  # type: ignore[type-arg]
    """Run ``app`` (polling) in a separate thread with its own event loop.

    Lets synchronous tests use the blocking FakeTelegram API, like a bot running in
    another process would.
    """
    ready = threading.Event()
    errors: list[BaseException] = []
    holder: dict[str, Any] = {}

    async def main() -> None:
        holder["loop"] = asyncio.get_running_loop()
        stop = asyncio.Event()
        holder["stop"] = stop
        async with polling(app, timeout=timeout):
            ready.set()
            await stop.wait()

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            errors.append(exc)
        finally:
            ready.set()

    thread = threading.Thread(target=run, name="ptb-polling", daemon=True)
    thread.start()
    ready.wait(15)
    if errors:
        raise RuntimeError("the polling Application failed to start") from errors[0]
    try:
        yield app
    finally:
        loop: asyncio.AbstractEventLoop | None = holder.get("loop")
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(holder["stop"].set)
        thread.join(15)
        if errors:
            raise RuntimeError("the polling Application failed") from errors[0]
