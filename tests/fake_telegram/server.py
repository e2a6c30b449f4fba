"""The HTTP side: a uvicorn + Starlette server in its own thread and event loop.

Routes ``/bot<token>/<method>`` (parameters from query string, JSON, form or multipart) to the
method table, records every call as an :class:`ApiCall`, answers in the Bot API's envelope,
and injects the failures :meth:`~ServerMixin.fail_next` asked for. File downloads
(``/file/bot<token>/<path>``) are served by :mod:`.files`.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import inspect
import json
import socket
import threading
import time
import traceback
from typing import Any, TypeVar

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .constants import _STRING_PARAMS, MethodHandler
from .flood import FloodMixin
from .records import ApiCall, UploadedFile, _Described, _Failure
from .util import BotApiError, _bad, _error_response

Self = TypeVar("Self", bound="ServerMixin")


def _coerce_form_value(name: str, value: str) -> Any:
    if name in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _bind_free_socket(host: str) -> socket.socket:
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose
    # proto is IPPROTO_TCP; with proto 0, Nagle + delayed ACK add ~40 ms per response.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


class ServerMixin(FloodMixin):
    """Start and stop the server, its URLs, the HTTP request handling and fault injection."""

    # ----------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder.base_url`` / ``Bot(base_url=)``: ``{url}/bot``."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``ApplicationBuilder.base_file_url``: ``{url}/file/bot``."""
        return f"{self.url}/file/bot"

    def api_url(self, method: str, token: str | None = None) -> str:
        """Full URL of a Bot API method, e.g. for raw httpx calls."""
        return f"{self.base_url}{token if token is not None else self.token}/{method}"

    def start(self: Self) -> Self:
        """Bind a free port and serve in a background thread. Returns ``self``."""
        if self._thread is not None:
            raise RuntimeError("FakeTelegram already started")
        sock = _bind_free_socket(self.host)
        self.port = sock.getsockname()[1]
        app = Starlette(
            routes=[
                Route("/bot{token}/{method}", self._handle_api, methods=["GET", "POST"]),
                Route("/file/bot{token}/{file_path:path}", self._handle_file, methods=["GET"]),
                Route("/{rest:path}", self._handle_not_found, methods=["GET", "POST", "PUT"]),
            ]
        )
        config = uvicorn.Config(
            app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._thread_main, args=(sock,), name=f"fake-telegram-{self.port}", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("FakeTelegram did not start within 10 s")
        if self._startup_error is not None:
            raise RuntimeError("FakeTelegram failed to start") from self._startup_error
        return self

    def stop(self) -> None:
        """Stop the server (wakes long polls, closes connections) and join its thread."""
        if self._thread is None:
            return
        with self._cond:
            self._closing = True
            self._notify_locked()
        self._wake_server()
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(timeout=10)
        self._thread = None

    def __enter__(self: Self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _thread_main(self, sock: socket.socket) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve(sock))
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._startup_error = exc
        finally:
            self._ready.set()
            loop.close()
            sock.close()

    async def _serve(self, sock: socket.socket) -> None:
        assert self._server is not None
        self._loop = asyncio.get_running_loop()
        self._poll_event = asyncio.Event()
        self._delivery_event = asyncio.Event()
        self._http = httpx.AsyncClient(timeout=self.webhook_timeout)
        worker = asyncio.create_task(self._delivery_worker())
        serving = asyncio.create_task(self._server.serve(sockets=[sock]))
        try:
            while not self._server.started and not serving.done():
                await asyncio.sleep(0.002)
            self._ready.set()
            await serving
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
            await self._http.aclose()

    def reset(self) -> None:
        """Forget all state (chats, updates, calls, webhook, commands...), keep the server."""
        with self._cond:
            self._reset_state_locked()
            self._notify_locked()
        self._wake_server()

    # ---------------------------------------------------------- HTTP layer

    async def _handle_not_found(self, request: Request) -> Response:
        return _error_response(404, "Not Found")

    async def _read_params(
        self, request: Request
    ) -> tuple[dict[str, Any], dict[str, UploadedFile], str]:
        params: dict[str, Any] = {
            k: _coerce_form_value(k, v) for k, v in request.query_params.multi_items()
        }
        files: dict[str, UploadedFile] = {}
        encoding = "query" if params else "empty"
        if request.method != "POST":
            return params, files, encoding
        content_type = request.headers.get("content-type", "").lower()
        if content_type.startswith("application/json"):
            body = await request.body()
            if body.strip():
                try:
                    data = json.loads(body)
                except ValueError:
                    raise _bad("can't parse JSON object") from None
                if not isinstance(data, dict):
                    raise _bad("JSON object expected")
                params.update(data)
                encoding = "json"
        elif content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form(max_part_size=50 * 1024 * 1024)
            try:
                for key, value in form.multi_items():
                    if isinstance(value, UploadFile):
                        content = await value.read()
                        files[key] = UploadedFile(key, value.filename, value.content_type, content)
                    else:
                        params[key] = _coerce_form_value(key, value)
            finally:
                await form.close()
            encoding = "multipart" if content_type.startswith("multipart/") else "form"
        return params, files, encoding

    async def _handle_api(self, request: Request) -> Response:
        requested = request.path_params["method"]
        method = self._canonical.get(requested.lower(), requested)
        try:
            params, files, encoding = await self._read_params(request)
        except BotApiError as exc:
            return _error_response(exc.error_code, exc.description)
        with self._cond:
            call = ApiCall(
                seq=self._next_seq_locked(),
                method=method,
                params=params,
                files=files,
                encoding=encoding,
                started=time.time(),
            )
            self._calls.append(call)
            self._notify_locked()
        description: str | None = None
        try:
            if request.path_params["token"] != self.token:
                raise BotApiError(401, "Unauthorized")
            self._check_injected_failure(method)
            self._check_flood(method, params)
            handler = self._handlers.get(method)
            if handler is None:
                raise _bad("method not found")
            result = handler(params, files, request)
            if inspect.isawaitable(result):
                result = await result
            if isinstance(result, _Described):
                result, description = result.value, result.description
        except BotApiError as exc:
            self._finish_call(call, exc.error_code, None, exc.description, exc.abandoned)
            return _error_response(exc.error_code, exc.description, exc.parameters)
        except Exception as exc:  # a bug in the fake (or a custom method): make it loud
            with self._cond:
                self._server_errors.append(f"{method}: {traceback.format_exc()}")
            self._finish_call(call, 500, None, f"Internal Server Error: {exc!r}")
            return _error_response(500, f"Internal Server Error: fake_telegram: {exc!r}")
        self._finish_call(call, 200, result, None)
        body: dict[str, Any] = {"ok": True, "result": result}
        if description:
            body["description"] = description
        return JSONResponse(body)

    def _finish_call(
        self,
        call: ApiCall,
        status: int,
        result: Any,
        error: str | None,
        abandoned: bool = False,
    ) -> None:
        with self._cond:
            call.status_code = status
            call.result = copy.deepcopy(result)
            call.error = error
            call.abandoned = abandoned
            call.finished = time.time()
            self._notify_locked()

    def _check_injected_failure(self, method: str) -> None:
        with self._lock:
            queue = self._failures.get(method)
            if not queue:
                return
            failure = queue[0]
            failure.remaining -= 1
            if failure.remaining <= 0:
                queue.pop(0)
        raise BotApiError(failure.error_code, failure.description, failure.parameters)

    # ------------------------------------------------------- test controls

    def fail_next(
        self,
        method: str,
        *,
        error_code: int = 400,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail (e.g. 429 with retry_after, 502)."""
        parameters: dict[str, Any] | None = None
        if retry_after is not None:
            parameters = {"retry_after": retry_after}
            error_code = 429 if error_code == 400 else error_code
        if description is None:
            description = {
                400: "Bad Request: injected failure",
                403: "Forbidden: bot was blocked by the user",
                429: f"Too Many Requests: retry after {retry_after or 1}",
                502: "Bad Gateway",
            }.get(error_code, f"Error {error_code}: injected failure")
        canonical = self._canonical.get(method.lower(), method)
        with self._cond:
            self._failures.setdefault(canonical, []).append(
                _Failure(error_code, description, parameters, times)
            )

    def add_method(self, name: str, handler: MethodHandler) -> None:
        """Serve an extra Bot API method: ``handler(params) -> result`` (raise BotApiError)."""

        def adapter(p: dict[str, Any], files: dict[str, UploadedFile], request: Request) -> Any:
            return handler(p)

        with self._cond:
            self._handlers[name] = adapter
            self._canonical[name.lower()] = name

    # ------------------------------------------------------- reading calls

    @property
    def calls(self) -> list[ApiCall]:
        """Every Bot API request so far, in arrival order (a snapshot list)."""
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[ApiCall]:
        """The calls of one method (canonical name, e.g. ``"sendMessage"``)."""
        with self._lock:
            return [c for c in self._calls if c.method == method]

    @property
    def server_errors(self) -> list[str]:
        """Tracebacks of exceptions inside the fake (500 answers). Should stay empty."""
        with self._lock:
            return list(self._server_errors)
