"""Two replicas of everything behind HAProxy (``hotline run --replicas 2``), on PostgreSQL.

The topology of :mod:`hotline.local.replicas`: one Redis, one PostgreSQL, two action servers,
two Rasa servers (Redis tracker and lock stores) and two gateways, each kind behind HAProxy
round robin. Telegram comes by webhook from the fake Bot API through the balancer. Shown:

- a conversation stays coherent when consecutive messages land on different gateways (and,
  through the balancer, different Rasa and action servers): the ticket form completes;
- a handoff claim is exclusive when two operators take the chat on two gateways at once;
- an operator's reply sent on one gateway reaches the web page connected to the other at
  once (the pages' own poll is set to 60 s here, so only the wake-up can explain it);
- console live updates follow a change made on the other gateway;
- the operators' Telegram group hears of an escalation once, and gets each message of the
  chat a group operator took once;
- each outbox row is delivered exactly once, with two gateways delivering.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import websockets
from sqlalchemy import func, select

from bench.chaos import SECRET, Conversation, valid_uscc
from bot.operator_group import take_data
from hotline import handoff, outbox
from hotline.db import session_scope
from hotline.handoff import Mode
from hotline.local.postgres import PostgresUnavailable, pg_bindir
from hotline.local.replicas import ReplicaStack, haproxy_binary
from hotline.local.stack import Ports, StackError
from hotline.models import NotificationOutbox, OutboxStatus, Ticket, TranscriptMessage
from hotline.staff import create_staff
from tests.fake_telegram import FakeTelegram
from tests.stack_helpers import ARTIFACTS

pytestmark = pytest.mark.stack

GROUP = -1009876543210
ZHANG = {"id": 501, "first_name": "张", "last_name": "三", "is_bot": False}
PASSWORD = "Replica-pass-2026"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
WEB_POLL_S = 60  # far longer than any wait below: only a wake-up delivers in time


@dataclass
class Topology:
    stack: ReplicaStack
    fake: FakeTelegram
    db_url: str
    redis: redis.Redis

    @property
    def public(self) -> str:
        return f"http://127.0.0.1:{self.stack.ports.gateway}"

    def gateway(self, i: int) -> str:
        return f"http://127.0.0.1:{self.stack.replicas[i].gateway}"

    def served(self) -> dict[str, int]:
        """Requests each replica has had, from HAProxy's statistics (``stot``)."""
        text = httpx.get(f"http://127.0.0.1:{self.stack.stats_port}/;csv", timeout=5).text
        rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
        return {row["svname"]: int(row["stot"] or 0) for row in rows
                if row["svname"] not in ("FRONTEND", "BACKEND")}


@pytest.fixture(scope="module")
def topology() -> Iterator[Topology]:
    try:
        haproxy_binary()
        pg_bindir()
    except (StackError, PostgresUnavailable) as exc:
        pytest.fail(f"the replica topology needs HAProxy and PostgreSQL: {exc}")
    fake = FakeTelegram().start()
    fake.register_chat(GROUP, chat_type="supergroup", title="企业服务热线·值班群")
    # Not under pytest's temp root: that is private to this user (0700), and PostgreSQL runs
    # as its own user under root.
    var_dir = Path(tempfile.mkdtemp(prefix="hotline-replicas-"))
    os.chmod(var_dir, 0o755)
    ports = Ports.free()
    stack = ReplicaStack(var_dir=var_dir, ports=ports, count=2, local_postgres=True, extra_env={
        "TELEGRAM_TOKEN": fake.token,
        "HOTLINE_TELEGRAM_BASE_URL": fake.base_url,
        "HOTLINE_TELEGRAM_MODE": "webhook",
        "HOTLINE_TELEGRAM_SECRET_TOKEN": SECRET,
        "HOTLINE_PUBLIC_URL": f"http://127.0.0.1:{ports.gateway}",
        "HOTLINE_OPERATOR_CHAT_ID": str(GROUP),
        "HOTLINE_OFFICE_HOURS": "always",
        "HOTLINE_WEB_POLL_S": str(WEB_POLL_S),
    })
    stack.start(log=lambda line: print(line, flush=True))
    db_url = stack.extra_env["HOTLINE_DATABASE_URL"]
    with session_scope(db_url) as session:
        for name in ("op1", "op2"):
            create_staff(session, name, f"客服{name[-1]}", PASSWORD, "operator")
    client = redis.Redis(port=ports.redis)
    try:
        yield Topology(stack, fake, db_url, client)
    finally:
        client.close()
        stack.stop()
        fake.stop()
        shutil.rmtree(var_dir, ignore_errors=True)


def test_both_replicas_of_each_kind_are_up(topology: Topology) -> None:
    assert topology.stack.extra_env["HOTLINE_DATABASE_URL"].startswith("postgresql+psycopg://")
    for i in range(2):
        assert httpx.get(topology.gateway(i) + "/readyz", timeout=10).status_code == 200


# --- a conversation across replicas -----------------------------------------------------------

def test_a_telegram_chat_files_a_ticket_with_messages_spread_over_the_replicas(
        topology: Topology) -> None:
    before = topology.served()
    chat = Conversation(topology.fake, 81_001)
    chat.file_ticket(1)
    assert chat.log.confirmed, topology.fake.texts(81_001)
    assert not chat.log.unanswered
    with session_scope(topology.db_url) as session:
        tickets = session.scalar(select(func.count()).select_from(Ticket)
                                 .where(Ticket.conversation_id == "tg:81001"))
        inbound = session.scalars(select(TranscriptMessage.text).where(
            TranscriptMessage.conversation_id == "tg:81001",
            TranscriptMessage.direction == "in")).all()
    assert tickets == 1
    for text in set(chat.log.sent):  # each typed message recorded as often as it was typed
        assert inbound.count(text) == chat.log.sent.count(text), text
    after = topology.served()
    # Every replica of each kind took part in this one conversation.
    for server in ("gateways1", "gateways2", "rasas1", "rasas2",
                   "actionservers1", "actionservers2"):
        assert after[server] > before.get(server, 0), (server, before, after)


async def _frames_until_quiet(ws: Any, quiet_s: float = 1.5, first_s: float = 60) -> list[dict]:
    frames = [json.loads(await asyncio.wait_for(ws.recv(), first_s))]
    while True:
        try:
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), quiet_s)))
        except asyncio.TimeoutError:
            return frames


def _texts(frames: list[dict]) -> str:
    return "\n".join(m.get("text") or "" for f in frames for m in f.get("messages", []))


def _payloads(frames: list[dict]) -> list[str]:
    return [b["payload"] for f in frames for m in f.get("messages", [])
            for b in m.get("buttons") or []]


async def test_a_web_chat_alternating_gateways_completes_the_ticket_form(
        topology: Topology) -> None:
    session = str(uuid.uuid4())
    urls = [topology.gateway(i).replace("http", "ws") + f"/ws/chat/{session}" for i in (0, 1)]
    fields = {"全称": "深圳市双活精密制造有限公司", "统一社会信用代码": valid_uscc(707),
              "联系电话": "13800138007", "联系人": "王经理"}
    async with websockets.connect(urls[0]) as one, websockets.connect(urls[1]) as two:
        pages = [one, two]
        turn = 0
        log: list[str] = []

        async def say(text: str, payload: bool = False) -> list[dict]:
            nonlocal turn
            gateway = turn % 2  # each message on the other gateway than the last
            page = pages[gateway]
            turn += 1
            await page.send(json.dumps({"text": text, "payload": payload}, ensure_ascii=False))
            frames = await _frames_until_quiet(page)
            log.extend([f"企业（网关{gateway + 1}）：{text}",
                        f"热线：{_texts(frames)} {_payloads(frames)}"])
            return frames

        frames = await say("我们厂的施工许可证报上去三个月了还没批下来，一直说材料不全又不说缺什么")
        if "/open_ticket" in _payloads(frames):
            frames = await say("/open_ticket", payload=True)
        else:
            frames = await say("我要提交诉求")
        for _ in range(12):
            if "/affirm" in _payloads(frames):
                frames = await say("/affirm", payload=True)
                break
            asked = _texts(frames)
            answer = next((v for k, v in fields.items() if k in asked), None)
            assert answer is not None, "\n".join(log)
            frames = await say(answer)
        else:
            pytest.fail("the ticket form never asked to confirm:\n" + "\n".join(log))
        assert re.search(r"T\d{8}-\d{4}", _texts(frames)), _texts(frames)
        out = ARTIFACTS / "transcripts" / "replicas_web_alternating.txt"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join(log) + "\n", encoding="utf-8")
    with session_scope(topology.db_url) as db:
        assert db.scalar(select(func.count()).select_from(Ticket).where(
            Ticket.conversation_id == f"web:{session}")) == 1


# --- handoff, wake-ups and live updates across gateways --------------------------------------

def _login(base: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=base, follow_redirects=False, timeout=30)
    page = client.get("/console/login")
    token = CSRF_RE.search(page.text)
    assert token, page.text
    done = client.post("/console/login", data={"username": username, "password": PASSWORD,
                                               "csrf_token": token.group(1),
                                               "next": "/console/"})
    assert done.status_code == 303, done.text
    account = client.get("/console/account")
    found = re.search(r'data-csrf="([^"]+)"', account.text)
    assert found, account.text
    client.csrf = found.group(1)  # type: ignore[attr-defined]
    return client


def _on(client: httpx.Client, base: str) -> httpx.Client:
    """The same console session, sent to another gateway."""
    other = httpx.Client(base_url=base, follow_redirects=False, timeout=30,
                         cookies=client.cookies)
    other.csrf = client.csrf  # type: ignore[attr-defined]
    return other


async def test_handoff_claim_wake_up_and_live_updates_work_across_gateways(
        topology: Topology) -> None:
    session = str(uuid.uuid4())
    conversation = f"web:{session}"
    page_url = topology.gateway(0).replace("http", "ws") + f"/ws/chat/{session}"
    op1 = _login(topology.gateway(0), "op1")
    op2 = _login(topology.gateway(1), "op2")
    events: list[str] = []
    listening = threading.Event()

    def follow() -> None:  # op1's console page, served by gateway 2
        with _on(op1, topology.gateway(1)) as sse, sse.stream(
                "GET", "/console/events", timeout=httpx.Timeout(30, read=60)) as stream:
            listening.set()
            for line in stream.iter_lines():
                events.append(line)
                if conversation in line and sum(conversation in e for e in events) >= 2:
                    return

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    assert listening.wait(15)
    async with websockets.connect(page_url) as page:  # the enterprise's page, on gateway 1
        await page.send(json.dumps({"text": "转人工"}, ensure_ascii=False))
        await _frames_until_quiet(page)
        assert handoff.mode_of(topology.redis, conversation) is Mode.QUEUED

        # Both operators take the chat at the same moment, each on another gateway.
        def take(client: httpx.Client) -> httpx.Response:
            return client.post(f"/console/chats/{conversation}/take",
                               data={"csrf_token": client.csrf})  # type: ignore[attr-defined]

        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(take, [op1, op2]))
        owner = handoff.owner_of(topology.redis, conversation)
        assert owner in ("op1", "op2")
        won = [r for r in results if r.status_code == 303]
        assert len(won) == 1, [(r.status_code, r.text[:200]) for r in results]
        assert handoff.mode_of(topology.redis, conversation) is Mode.HUMAN
        await _frames_until_quiet(page)  # "人工客服已接入"

        # The owner answers on the gateway that does NOT hold the page.
        writer = _on(op1 if owner == "op1" else op2, topology.gateway(1))
        sent_at = time.monotonic()
        reply = writer.post(f"/console/chats/{conversation}/reply", data={
            "csrf_token": writer.csrf, "text": "您好，我是跨网关的人工客服。"})  # type: ignore[attr-defined]
        assert reply.status_code == 303, reply.text[:300]
        frames = await _frames_until_quiet(page, first_s=20)
        assert "跨网关的人工客服" in _texts(frames)
        assert time.monotonic() - sent_at < WEB_POLL_S / 3  # woken, not polled
    follower.join(30)
    assert sum(conversation in e for e in events) >= 2, events[-10:]
    # The operators' group was told of the escalation once, though both gateways follow.
    announced = [m for m in topology.fake.sent(GROUP) if "网页聊天" in (m.text or "")
                 and session[:8] in json.dumps(m.callback_data)]
    assert len(announced) <= 1
    for client in (op1, op2):
        client.close()


def test_the_operators_group_hears_each_escalation_and_message_once(topology: Topology) -> None:
    """Both gateways follow the handoff and live streams; the group is told each thing once."""
    fake, chat = topology.fake, 81_002
    fake.user_says(chat, "你好")
    fake.wait_for_reply(chat, timeout=60)
    mark = fake.mark()
    fake.user_says(chat, "转人工")
    announcement = fake.wait_for_reply(GROUP, contains="新的人工服务请求", since=mark, timeout=60)
    time.sleep(3)  # a second announcement would come within the followers' block time
    announced = [m for m in fake.sent(GROUP) if "新的人工服务请求" in (m.plain_text or "")
                 and f"tg:{chat}" in (m.plain_text or "")]
    assert len(announced) == 1, [m.plain_text for m in fake.sent(GROUP)]
    # A group operator takes the chat; the enterprise writes fast, each message reaching
    # the gateways' followers at about the same moment.
    mark = fake.mark()
    fake.user_presses(GROUP, take_data(f"tg:{chat}"), message_id=announcement.message_id,
                      user=ZHANG)
    fake.wait_for_reply(GROUP, contains="您已接入", since=mark, timeout=30)
    lines = [f"第{i}条补充说明：厂房消防验收的材料清单{i}" for i in range(1, 7)]
    for line in lines:
        fake.user_says(chat, line)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        forwarded = [m.plain_text or "" for m in fake.sent(GROUP) if "补充说明" in (m.plain_text or "")]
        if len(forwarded) >= len(lines):
            break
        time.sleep(0.2)
    time.sleep(2)  # a doubled forward would arrive by now
    forwarded = [m.plain_text or "" for m in fake.sent(GROUP) if "补充说明" in (m.plain_text or "")]
    assert sorted(forwarded) == sorted(f"💬 企业：{line}" for line in lines), forwarded


# --- the outbox, delivered by both gateways ------------------------------------------------

def test_each_outbox_row_is_delivered_exactly_once_across_gateways(topology: Topology) -> None:
    chats = list(range(82_000, 82_020))
    for chat in chats:  # enterprises who have started the bot
        topology.fake.register_chat(chat)
    queued: list[tuple[int, str]] = []
    with session_scope(topology.db_url) as session:
        for round_ in range(3):
            for chat in chats:
                text = f"【办理进展】双网关通知 第{round_}轮（会话{chat}）"
                outbox.enqueue(session, f"tg:{chat}", "replicas", text)
                queued.append((chat, text))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with session_scope(topology.db_url) as session:
            left = session.scalar(select(func.count()).select_from(NotificationOutbox).where(
                NotificationOutbox.kind == "replicas",
                NotificationOutbox.status != OutboxStatus.DELIVERED.value))
        if not left:
            break
        time.sleep(0.5)
    with session_scope(topology.db_url) as session:
        states = session.execute(select(NotificationOutbox.status, NotificationOutbox.attempts,
                                        NotificationOutbox.last_error).where(
            NotificationOutbox.kind == "replicas")).all()
    assert left == 0, states[:5]
    for chat, text in queued:
        assert topology.fake.texts(chat).count(text) == 1, (chat, text)
