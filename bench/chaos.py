"""Fault test: concurrent Telegram chats on the real stack while its parts are killed.

Redis, the action server, the gateway and Rasa are each killed with SIGKILL (the whole process
group, as `kill -9` of a container) one at a time while 50 chats talk to the bot through the
fake Bot API in webhook mode (which, like Telegram, offers an update again until the webhook
accepts it). The supervisor of `hotline run` restarts what died. Afterwards it checks:

- every message an enterprise sent is in the transcript, once (lost / duplicated);
- every message got a reply or a clear busy notice (unanswered);
- every ticket an enterprise confirmed exists exactly once, or the enterprise was told plainly
  that it was not created;
- every notification queued during the run was delivered exactly once;

and prints, per component, the seconds from the kill until the bot answered again. Run after
`make setup` (takes a few minutes: Rasa reloads its model after being killed):

    .venv/bin/python bench/chaos.py                 # 50 chats, every component
    .venv/bin/python bench/chaos.py --chats 8 --kill actions,gateway

The last line is JSON. tests/test_chaos.py runs a smaller version in the suite.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402
from stdnum.cn import uscc  # noqa: E402

from bot import messages  # noqa: E402
from hotline import outbox, telegram_inbox  # noqa: E402
from hotline.db import session_scope  # noqa: E402
from hotline.local.replicas import ReplicaStack  # noqa: E402
from hotline.local.stack import Ports, Service, Stack  # noqa: E402
from hotline.local.supervise import supervise  # noqa: E402
from hotline.models import (  # noqa: E402
    NotificationOutbox,
    OutboxStatus,
    Ticket,
    TranscriptMessage,
)
from tests.fake_telegram import FakeTelegram  # noqa: E402

COMPONENTS = ("actions", "redis", "gateway", "rasa")
SECRET = "chaos-webhook-secret"
REPLY_TIMEOUT_S = 150.0  # Rasa reloads its model after a kill (about a minute on 2 cores)
QUIET_S = 1.5  # a reply is complete when the bot has been silent this long
BUSY_TEXTS = (messages.RASA_BUSY, messages.EMPTY_ANSWER, messages.TICKET_NOT_CREATED)
CONSULT = ["你好", "想开个小饭馆，要办什么证", "高新技术企业认定需要满足什么条件",
           "贷款贴息怎么申请", "谢谢"]
NOTICE = "【办理进展】测试通知"
PROBE_TICKET = "T20990101-0999"
COMPLAINT = "我们厂的施工许可证报上去三个月了还没批下来，一直说材料不全又不说缺什么"


@dataclass
class ChatLog:
    chat: int
    sent: list[str] = field(default_factory=list)  # texts typed (button presses not included)
    unanswered: list[str] = field(default_factory=list)
    busy: int = 0
    confirmed: bool = False  # pressed 确认提交 on the ticket summary


@dataclass
class Report:
    chats: int
    messages_sent: int = 0
    lost: int = 0
    duplicated: int = 0
    unanswered: int = 0
    busy_notices: int = 0
    tickets_confirmed: int = 0
    tickets_created: int = 0
    tickets_duplicated: int = 0
    tickets_missing_untold: int = 0  # confirmed, not created, and the enterprise not told so
    tickets_created_untold: int = 0  # created but the enterprise never saw its number
    notifications: int = 0
    notifications_lost: int = 0
    notifications_duplicated: int = 0
    recovery_s: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # each failure, for reading
    inbox_left: int = 0
    outbox_left: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.unanswered or self.tickets_duplicated
                    or self.tickets_missing_untold or self.notifications_lost
                    or self.notifications_duplicated)


def valid_uscc(i: int) -> str:
    body = f"91440300MA5F{i:05d}"[:17]
    return body + uscc.calc_check_digit(body)


class Conversation:
    """One enterprise's chat: type, wait until the bot has answered, go on."""

    def __init__(self, fake: FakeTelegram, chat: int) -> None:
        self.fake, self.log = fake, ChatLog(chat)

    def _wait(self, before: int, what: str) -> list[Any]:
        deadline = time.monotonic() + REPLY_TIMEOUT_S
        while time.monotonic() < deadline:
            sent = self.fake.sent(self.log.chat)
            if len(sent) > before:
                quiet_until = time.monotonic() + QUIET_S
                while time.monotonic() < quiet_until:
                    time.sleep(0.2)
                    if len(self.fake.sent(self.log.chat)) != len(sent):
                        sent = self.fake.sent(self.log.chat)
                        quiet_until = time.monotonic() + QUIET_S
                new = [m for m in sent[before:] if not (m.text or "").startswith(NOTICE)]
                if not new:  # only a notification arrived: the reply is still to come
                    before = len(sent)
                    continue
                self.log.busy += sum(1 for m in new if (m.text or "") in BUSY_TEXTS)
                return new
            time.sleep(0.2)
        self.log.unanswered.append(what)
        return []

    def say(self, text: str) -> list[Any]:
        before = len(self.fake.sent(self.log.chat))
        self.log.sent.append(text)
        self.fake.user_says(self.log.chat, text)
        return self._wait(before, text)

    def press(self, replies: list[Any], payload: str) -> list[Any] | None:
        """Press the button with ``payload`` if the bot's last replies offered it."""
        if not any(payload in m.callback_data for m in replies):
            return None
        before = len(self.fake.sent(self.log.chat))
        message_id = next(m.message_id for m in reversed(replies) if payload in m.callback_data)
        self.fake.user_presses(self.log.chat, payload, message_id=message_id)
        return self._wait(before, payload)

    def consult(self) -> None:
        for text in CONSULT:
            self.say(text)

    def file_ticket(self, i: int) -> None:
        """Answer whatever the ticket form asks, as a person would, until it is confirmed."""
        fields = {"全称": f"深圳市华兴{i:03d}精密制造有限公司", "统一社会信用代码": valid_uscc(i),
                  "联系电话": f"1380013{i:04d}", "联系人": "张经理"}
        replies = self.say(COMPLAINT)
        answer = self.press(replies, "/open_ticket") or self.say("我要提交诉求")
        last = "我要提交诉求"
        for _ in range(14):
            confirmed = self.press(answer, "/affirm")
            if confirmed is not None:
                self.log.confirmed = True
                break
            asked = "".join(m.text or "" for m in answer[-2:])
            if any(text in asked for text in BUSY_TEXTS):
                answer = self.say(last)  # a busy notice: the same answer again
                continue
            last = next((value for key, value in fields.items() if key in asked),
                        "我要提交诉求")  # the form was lost (or never started): start it again
            answer = self.say(last)
        self.say("谢谢")


def start_stack(var_dir: Path, fake: FakeTelegram, replicas: int = 1, **env: str) -> Stack:
    """The whole product with Telegram by webhook against ``fake`` (also bench/bench_load.py);
    ``env`` adds or overrides settings. With ``replicas`` > 1, that many gateways, Rasa and
    action servers behind HAProxy on a local PostgreSQL (``hotline run --replicas``)."""
    ports = Ports.free()
    extra = {
        "TELEGRAM_TOKEN": fake.token,
        "HOTLINE_TELEGRAM_BASE_URL": fake.base_url,
        "HOTLINE_TELEGRAM_MODE": "webhook",
        "HOTLINE_TELEGRAM_SECRET_TOKEN": SECRET,
        "HOTLINE_PUBLIC_URL": f"http://127.0.0.1:{ports.gateway}",
        "HOTLINE_OFFICE_HOURS": "always",
        **env,
    }
    stack: Stack
    if replicas > 1:
        os.chmod(var_dir, 0o755)  # PostgreSQL runs as its own user under root
        stack = ReplicaStack(var_dir=var_dir, ports=ports, count=replicas, local_postgres=True,
                             extra_env=extra)
    else:
        extra.setdefault("HOTLINE_DATABASE_URL", f"sqlite:///{var_dir / 'hotline.db'}")
        stack = Stack(var_dir=var_dir, ports=ports, extra_env=extra)
    stack.start(log=lambda line: print(line, flush=True))
    return stack


def _kill(service: Service) -> None:
    assert service.process is not None
    try:
        os.killpg(service.process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _probe_recovery(fake: FakeTelegram, chat: int, since: float, timeout: float) -> float:
    """Seconds from ``since`` until a question only an action can answer (a ticket lookup:
    gateway, Redis, Rasa and the action server all needed) is answered again."""
    deadline = since + timeout
    while time.monotonic() < deadline:
        before = len(fake.sent(chat))
        fake.user_says(chat, f"查一下{PROBE_TICKET}的进度")
        wait_until = min(time.monotonic() + 1.0, deadline)
        while time.monotonic() < wait_until:
            new = fake.sent(chat)[before:]
            if any(f"没有查到您可以查看的工单 {PROBE_TICKET}" in (m.text or "") for m in new):
                return time.monotonic() - since
            time.sleep(0.1)
    return float("nan")


def _notify(db_url: str, chats: list[int], round_: int) -> list[tuple[int, str]]:
    queued = []
    with session_scope(db_url) as session:
        for chat in chats:
            text = f"{NOTICE} 第{round_}轮（会话{chat}）"
            outbox.enqueue(session, f"tg:{chat}", "chaos", text)
            queued.append((chat, text))
    return queued


def _settle(db_url: str, conversations: list[Conversation], timeout: float) -> tuple[int, int]:
    """Wait until no update is waiting in the inbox and no notification in the outbox."""
    deadline = time.monotonic() + timeout
    inbox_left = outbox_left = -1
    while time.monotonic() < deadline:
        with session_scope(db_url) as session:
            inbox_left = telegram_inbox.pending_count(session)
            outbox_left = session.scalar(select(func.count()).select_from(NotificationOutbox)
                                         .where(NotificationOutbox.status
                                                == OutboxStatus.PENDING.value)) or 0
        if not inbox_left and not outbox_left:
            break
        time.sleep(1)
    time.sleep(QUIET_S * 2)
    return inbox_left, outbox_left


def _check(db_url: str, fake: FakeTelegram, conversations: list[Conversation],
           notices: list[tuple[int, str]], report: Report) -> None:
    with session_scope(db_url) as session:
        for conv in conversations:
            log, cid = conv.log, f"tg:{conv.log.chat}"
            inbound = session.scalars(select(TranscriptMessage.text).where(
                TranscriptMessage.conversation_id == cid,
                TranscriptMessage.direction == "in")).all()
            for text in set(log.sent):
                expected, found = log.sent.count(text), inbound.count(text)
                report.lost += max(0, expected - found)
                report.duplicated += max(0, found - expected)
                if found != expected:
                    report.problems.append(f"{cid}: {text!r} sent {expected}, recorded {found}")
            report.messages_sent += len(log.sent)
            report.unanswered += len(log.unanswered)
            report.problems += [f"{cid}: no reply to {text!r}" for text in log.unanswered]
            report.busy_notices += log.busy
            numbers = session.scalars(select(Ticket.number).where(
                Ticket.conversation_id == cid)).all()
            bot_texts = [m.text or "" for m in fake.sent(log.chat)]
            report.tickets_created += len(numbers)
            report.tickets_duplicated += max(0, len(numbers) - 1)
            if log.confirmed:
                report.tickets_confirmed += 1
                if not numbers and not any(messages.TICKET_NOT_CREATED in t for t in bot_texts):
                    report.tickets_missing_untold += 1
                    report.problems.append(f"{cid}: confirmed, no ticket, not told")
            for number in numbers:
                if not any(number in t for t in bot_texts):
                    report.tickets_created_untold += 1
                    report.problems.append(f"{cid}: ticket {number} created, number never shown")
    for chat, text in notices:
        got = sum(1 for m in fake.sent(chat) if (m.text or "") == text)
        report.notifications += 1
        report.notifications_lost += int(got == 0)
        report.notifications_duplicated += max(0, got - 1)


def _save_transcripts(fake: FakeTelegram, conversations: list[Conversation], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for conv in conversations:
        chat = conv.log.chat
        events = [(a.seq, f"企业：{a.summary}") for a in fake.actions if a.chat_id == chat]
        events += [(m.seq, "热线：" + (m.plain_text or m.text or f"<{m.kind}>")
                    + "".join(f" [{b}]" for row in m.buttons for b in row))
                   for m in fake.sent(chat)]
        (out / f"chat_{chat}.txt").write_text(
            "\n".join(line for _, line in sorted(events)) + "\n", encoding="utf-8")


def run(chats: int = 50, kill: tuple[str, ...] = COMPONENTS, *, warmup_s: float = 8.0,
        gap_s: float = 5.0, lease_s: float = 6.0, transcripts: Path | None = None,
        log=print) -> Report:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    report = Report(chats=chats)
    fake = FakeTelegram(webhook_retry_s=1.0).start()
    tmp = tempfile.TemporaryDirectory(prefix="hotline-chaos-")
    var_dir = Path(tmp.name)
    stack = start_stack(var_dir, fake, HOTLINE_TELEGRAM_INBOX_LEASE_S=str(lease_s))
    db_url = f"sqlite:///{var_dir / 'hotline.db'}"
    stop = threading.Event()
    watcher = threading.Thread(target=supervise, args=(list(stack.services), stack.respawn, stop),
                               kwargs={"log": lambda line: log(f"[supervise] {line}")},
                               daemon=True)
    watcher.start()
    conversations = [Conversation(fake, 60_000 + i) for i in range(chats)]
    notices: list[tuple[int, str]] = []
    try:
        with ThreadPoolExecutor(max_workers=chats) as pool:
            futures = [pool.submit(conv.file_ticket, i) if i % 2 == 0 else pool.submit(conv.consult)
                       for i, conv in enumerate(conversations)]
            time.sleep(warmup_s)
            by_name = {service.name: service for service in stack.services}
            for round_, name in enumerate(kill, start=1):
                notices += _notify(db_url, [c.log.chat for c in conversations], round_)
                log(f"kill -9 {name} (pid {by_name[name].process.pid})")  # type: ignore[union-attr]
                killed_at = time.monotonic()
                _kill(by_name[name])
                seconds = _probe_recovery(fake, 99_000 + round_, killed_at, REPLY_TIMEOUT_S + 60)
                report.recovery_s[name] = round(seconds, 1)
                log(f"  {name}: the bot answered again {seconds:.1f} s after the kill")
                time.sleep(gap_s)
            notices += _notify(db_url, [c.log.chat for c in conversations], len(kill) + 1)
            for future in futures:
                future.result()
        report.inbox_left, report.outbox_left = _settle(db_url, conversations, 120)
        _check(db_url, fake, conversations, notices, report)
        if transcripts is not None:
            _save_transcripts(fake, conversations, transcripts)
    finally:
        stop.set()
        watcher.join(timeout=5)
        stack.stop()
        fake.stop()
        tmp.cleanup()
    report.seconds = round(time.monotonic() - started, 1)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument("--transcripts", type=Path, help="write each chat's transcript here")
    parser.add_argument("--kill", default=",".join(COMPONENTS),
                        help=f"components to kill, in order (of {', '.join(COMPONENTS)})")
    args = parser.parse_args()
    kill = tuple(name for name in args.kill.split(",") if name)
    unknown = set(kill) - set(COMPONENTS)
    if unknown:
        parser.error(f"unknown component(s): {', '.join(sorted(unknown))}")
    report = run(args.chats, kill, transcripts=args.transcripts)
    print(f"chats {report.chats} · messages {report.messages_sent} · lost {report.lost} · "
          f"duplicated {report.duplicated} · unanswered {report.unanswered} · "
          f"busy notices {report.busy_notices}")
    print(f"tickets confirmed {report.tickets_confirmed} · created {report.tickets_created} · "
          f"duplicated {report.tickets_duplicated} · missing untold "
          f"{report.tickets_missing_untold} · created untold {report.tickets_created_untold}")
    print(f"notifications {report.notifications} · lost {report.notifications_lost} · "
          f"duplicated {report.notifications_duplicated}")
    for problem in report.problems:
        print("  problem:", problem)
    print("recovery (s from kill -9 to the bot answering again): "
          + ", ".join(f"{k} {v}" for k, v in report.recovery_s.items()))
    print(json.dumps({**asdict(report), "ok": report.ok}, ensure_ascii=False))
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
