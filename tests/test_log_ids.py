"""Issue 15, item 6: JSON log lines follow one message through the gateway and the action
server with the same conversation pseudonym and request id, and no chat id.

The gateway runs in-process against the fake Bot API and a Rasa stand-in; the action server is
the real one (``python -m actions``) in its own process, writing JSON lines. The stand-in
records what the gateway sent Rasa; the test then calls the action server exactly as Rasa
does for that message (Rasa puts a message's metadata in its ``UserUttered`` parse data,
which the tracker hands the action server as ``latest_message``).
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.logsafe import pseudonym
from hotline import log_context
from hotline.local.stack import free_port
from tests.factories import run_gateway
from tests.fake_telegram import FakeTelegram

ROOT = Path(__file__).resolve().parent.parent
CHAT = 4242


@pytest.fixture
def action_server(tmp_path: Path, db_url: str) -> Iterator[tuple[str, Path]]:
    """The action server as the stack starts it, logging JSON to a file."""
    port = free_port()
    log = tmp_path / "actions.log"
    env = {**os.environ, "HOTLINE_LOG_FORMAT": "json", "HOTLINE_DATABASE_URL": db_url,
           "SANIC_HOST": "127.0.0.1"}
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "actions", "-p", str(port)], cwd=ROOT,
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "action server not up in 60 s"
            time.sleep(0.2)
        yield url, log
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def gateway_log() -> Iterator[io.StringIO]:
    """The gateway's records as ``HOTLINE_LOG_FORMAT=json`` writes them."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(log_context.ContextFilter("gateway"))
    handler.setFormatter(log_context.JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield out
    root.removeHandler(handler)
    root.setLevel(level)


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def rasa_action_call(payload: dict[str, Any], action: str) -> dict[str, Any]:
    """What Rasa 3.6 posts to the action server after the message ``payload``."""
    latest = {"text": payload["message"], "intent": {"name": "thank", "confidence": 1.0},
              "entities": [], "message_id": "m1", "metadata": payload["metadata"]}
    tracker = {"sender_id": payload["sender"], "slots": {}, "latest_message": latest,
               "events": [{"event": "user", "text": payload["message"], "parse_data": latest,
                           "metadata": payload["metadata"]}],
               "paused": False, "followup_action": None, "active_loop": {},
               "latest_action_name": "action_listen", "latest_input_channel": "rest"}
    return {"next_action": action, "sender_id": payload["sender"], "tracker": tracker,
            "domain": {}, "version": "3.6.21"}


@pytest.mark.sqlite_only  # the database plays no part
async def test_gateway_and_action_server_lines_share_conversation_and_request_ids(
    fake_telegram: FakeTelegram, redis_url: str, db_url: str,
    action_server: tuple[str, Path], gateway_log: io.StringIO,
) -> None:
    actions_url, actions_log = action_server
    async with run_gateway(fake_telegram, redis_url, db_url) as gateway:
        fake_telegram.user_says(CHAT, "谢谢")
        assert await fake_telegram.await_reply(CHAT, timeout=15) is not None
        fake_telegram.user_says(CHAT, "再次感谢")
        assert await fake_telegram.await_reply(CHAT, contains="再次感谢", timeout=15)
    payloads = gateway.rasa.received
    assert len(payloads) == 2
    async with httpx.AsyncClient() as client:
        for payload in payloads:
            answer = await client.post(f"{actions_url}/webhook",
                                       json=rasa_action_call(payload, "action_thank"))
            assert answer.status_code == 200, answer.text

    conversation = pseudonym(f"tg:{CHAT}")
    sent = [p["metadata"]["log"] for p in payloads]
    assert [s["conversation"] for s in sent] == [conversation] * 2
    request_ids = [s["request_id"] for s in sent]
    assert len(set(request_ids)) == 2  # one per message

    answered = [line for line in json_lines(gateway_log.getvalue())
                if "message answered" in line["message"]]
    assert [(line["conversation"], line["request_id"]) for line in answered] \
        == [(conversation, rid) for rid in request_ids]
    assert all(line["service"] == "gateway" for line in answered)

    time.sleep(0.3)  # the action server's last line reaches its file
    ran = [line for line in json_lines(actions_log.read_text())
           if line.get("message", "").startswith("action action_thank")]
    assert [(line["conversation"], line["request_id"]) for line in ran] \
        == [(conversation, rid) for rid in request_ids]
    assert all(line["service"] == "actions" for line in ran)
    # Personal data stays out: the chat id appears in neither process's log.
    assert str(CHAT) not in gateway_log.getvalue() and str(CHAT) not in actions_log.read_text()


@pytest.mark.sqlite_only
async def test_readiness_names_the_action_server_when_it_is_down(
    fake_telegram: FakeTelegram, redis_url: str, db_url: str,
    action_server: tuple[str, Path],
) -> None:
    actions_url, _ = action_server
    dead = f"http://127.0.0.1:{free_port()}"
    for url, expected in ((actions_url, "ok"), (dead, "down: ConnectError")):
        async with run_gateway(fake_telegram, redis_url, db_url, actions_url=url) as gateway:
            async with httpx.AsyncClient(base_url=gateway.url) as client:
                checks = (await client.get("/readyz")).json()["checks"]
        assert checks["actions"] == expected
        assert checks["redis"] == "ok" and checks["database"] == "ok"
