"""Issue 10: the action server listens on loopback only, and Rasa's HTTP API needs a token
that ``hotline run`` generates (or takes from ``HOTLINE_RASA_TOKEN``) and hands to the
gateway, whose Rasa client sends it; the REST channel's webhook goes without it."""

from __future__ import annotations

import asyncio
import secrets
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.rasa_client import RasaClient, RasaUnavailable
from hotline.local.stack import Ports, Stack
from hotline.settings import Settings
from tests.telegram_helpers import serve_asgi

TOKEN = "t0ken-for-tests_only"


def _non_loopback_ipv4() -> str | None:
    for addrs in psutil.net_if_addrs().values():
        for addr in addrs:
            if addr.family == socket.AF_INET and not addr.address.startswith("127."):
                return addr.address
    return None


def _until(check: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - not up yet
            pass
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.3)


# -- how hotline run starts them ----------------------------------------------------------------

def test_stack_starts_rasa_on_loopback_with_a_token_and_gives_it_to_the_gateway(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOTLINE_RASA_TOKEN", raising=False)
    stack, other = Stack(var_dir=tmp_path), Stack(var_dir=tmp_path)
    assert len(stack.rasa_token) >= 32 and stack.rasa_token != other.rasa_token  # random per run
    argv = stack.rasa_service().argv
    assert f"--auth-token={stack.rasa_token}" in argv
    assert argv[argv.index("-i") + 1] == "127.0.0.1"
    assert stack.env()["HOTLINE_RASA_TOKEN"] == stack.rasa_token
    assert stack.actions_service().env == {"SANIC_HOST": "127.0.0.1"}

    monkeypatch.setenv("HOTLINE_RASA_TOKEN", TOKEN)
    configured = Stack(var_dir=tmp_path, extra_env={"HOTLINE_RASA_TOKEN": "not this one"})
    # one BLAS thread per service process unless the operator chose otherwise
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    env = Stack(var_dir=tmp_path).env()
    assert env["OPENBLAS_NUM_THREADS"] == "1" and env["MKL_NUM_THREADS"] == "1"
    assert env["OMP_NUM_THREADS"] == "4"
    assert configured.rasa_token == TOKEN and configured.env()["HOTLINE_RASA_TOKEN"] == TOKEN
    assert Settings().rasa_token == TOKEN


@pytest.fixture
def actions_stack(tmp_path: Path) -> Iterator[Stack]:
    stack = Stack(var_dir=tmp_path / "var", ports=Ports.free(),
                  extra_env={"HOTLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'h.db'}"})
    service = stack.actions_service()
    stack._spawn(service)
    try:
        stack._await(service)
        yield stack
    finally:
        stack.stop(timeout_s=10)


def test_action_server_answers_on_loopback_and_refuses_other_addresses(
        actions_stack: Stack) -> None:
    port = actions_stack.ports.actions
    assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
    process = psutil.Process(actions_stack.services[0].process.pid)  # type: ignore[union-attr]
    family = [process, *process.children(recursive=True)]
    listening = {c.laddr.ip for p in family for c in p.net_connections("tcp")
                 if c.status == psutil.CONN_LISTEN and c.laddr.port == port}
    assert listening == {"127.0.0.1"}
    address = _non_loopback_ipv4()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    with pytest.raises(OSError), socket.create_connection((address, port), timeout=3):
        pass


# -- the gateway's client -----------------------------------------------------------------------

class _TokenRasa:
    """Answers like Rasa started with ``--auth-token``: 401 on the API without the token,
    the webhook open. Records the query of every request."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, str]]] = []

    def app(self) -> Starlette:
        async def api(request: Request) -> Response:
            self.seen.append((request.url.path, dict(request.query_params)))
            if request.query_params.get("token") != TOKEN:
                return JSONResponse({"message": "User is not authenticated."}, status_code=401)
            return JSONResponse({"model_file": "x.tar.gz"})

        async def webhook(request: Request) -> Response:
            self.seen.append((request.url.path, dict(request.query_params)))
            return JSONResponse([{"text": "你好"}])

        return Starlette(routes=[
            Route("/webhooks/rest/webhook", webhook, methods=["POST"]),
            Route("/status", api), Route("/conversations/{c}/tracker/events", api,
                                         methods=["POST"])])


def test_gateway_client_sends_the_token_on_the_api_and_not_on_the_webhook() -> None:
    fake = _TokenRasa()

    async def scenario() -> None:
        async with serve_asgi(fake.app()) as url:
            client = RasaClient(url, 5, token=TOKEN)
            assert (await client.send("c1", "hi"))[0].text == "你好"
            await client.append_events("c1", [{"event": "resume"}])
            assert (await client.status())["model_file"] == "x.tar.gz"
            await client.aclose()
            anonymous = RasaClient(url, 5)
            with pytest.raises(RasaUnavailable, match="401"):
                await anonymous.append_events("c1", [])
            await anonymous.aclose()

    asyncio.run(scenario())
    webhook, events, status, refused = fake.seen
    assert webhook == ("/webhooks/rest/webhook", {})
    assert events == ("/conversations/c1/tracker/events",
                      {"include_events": "NONE", "token": TOKEN})
    assert status == ("/status", {"token": TOKEN})
    assert "token" not in refused[1]


def test_a_refused_call_does_not_put_the_token_in_the_error() -> None:
    async def scenario() -> str:
        async with serve_asgi(_TokenRasa().app()) as url:
            client = RasaClient(url, 5, token="wrong-" + TOKEN)
            try:
                await client.append_events("c1", [])
            except RasaUnavailable as exc:
                assert exc.__cause__ is None
                return str(exc)
            finally:
                await client.aclose()
        raise AssertionError("not refused")

    message = asyncio.run(scenario())
    assert "401" in message and TOKEN not in message


# -- the real Rasa ------------------------------------------------------------------------------

@pytest.fixture
def real_rasa(tmp_path: Path) -> Iterator[Stack]:
    """Rasa as hotline run starts it, without a model (it is up in seconds): every API call
    is checked for the token before Rasa looks for a model (401 vs 409). The token starts
    with "-", as one random token in 64 does: passed as a separate argument, argparse took it
    for an option and Rasa exited with code 2 (a CI failure)."""
    empty = tmp_path / "no-model"
    empty.mkdir()
    stack = Stack(var_dir=tmp_path / "var", ports=Ports.free(), model=empty,
                  rasa_token="-" + secrets.token_urlsafe(32))
    if not stack.rasa_python.exists():
        pytest.skip("no .venv-rasa")
    service = stack.rasa_service()
    stack._spawn(service)
    try:
        url = f"http://127.0.0.1:{stack.ports.rasa}"
        _until(lambda: service.process.poll() is None  # type: ignore[union-attr]
               and httpx.get(f"{url}/version", timeout=2).status_code == 200, 180)
        yield stack
    finally:
        stack.stop(timeout_s=20)


@pytest.mark.stack
def test_real_rasa_refuses_its_api_without_the_token_and_accepts_the_gateways_client(
        real_rasa: Stack) -> None:
    url = f"http://127.0.0.1:{real_rasa.ports.rasa}"
    token = real_rasa.rasa_token
    assert httpx.get(f"{url}/status", timeout=10).status_code == 401
    assert httpx.get(f"{url}/status", params={"token": "nope"}, timeout=10).status_code == 401
    assert httpx.get(f"{url}/conversations/x/tracker", timeout=10).status_code == 401
    assert httpx.post(f"{url}/model/parse", json={"text": "你好"}, timeout=10).status_code == 401
    # Past the token check, Rasa only lacks a model (409).
    assert httpx.get(f"{url}/status", params={"token": token}, timeout=10).status_code == 409

    async def scenario() -> tuple[str, str]:
        results = []
        for key in (token, None):
            client = RasaClient(url, 10, token=key)
            with pytest.raises(RasaUnavailable) as refused:
                await client.append_events("c1", [{"event": "resume"}])
            await client.aclose()
            results.append(str(refused.value))
        return results[0], results[1]

    with_token, without = asyncio.run(scenario())
    assert "409" in with_token and token not in with_token
    assert "401" in without
    # The REST channel's webhook is not behind the token.
    webhook = httpx.post(f"{url}/webhooks/rest/webhook",
                         json={"sender": "c1", "message": "你好"}, timeout=10)
    assert webhook.status_code == 200
