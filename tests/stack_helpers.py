"""The whole product as one session-wide fixture: real Redis, Rasa with the trained model,
the action server and the gateway (web chat, console, Telegram polling against the fake
Bot API). Stack tests and browser tests share it, so Rasa loads once per run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hotline.local.stack import Ports, Stack
from tests.fake_telegram import FakeTelegram

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


class Running:
    def __init__(self, stack: Stack, fake: FakeTelegram) -> None:
        self.stack, self.fake = stack, fake
        self.db_url = f"sqlite:///{stack.var_dir / 'hotline.db'}"
        self.rasa_url = f"http://127.0.0.1:{stack.ports.rasa}"
        self.gateway_url = f"http://127.0.0.1:{stack.ports.gateway}"

    def say(self, chat: int, text: str, timeout: float = 30):
        self.fake.user_says(chat, text)
        return self.fake.wait_for_reply(chat, timeout=timeout)

    def transcript(self, chat: int, name: str) -> str:
        """The chat as the enterprise saw it, saved under test-artifacts/transcripts/."""
        events = [(a.seq, f"企业：{a.summary}") for a in self.fake.actions if a.chat_id == chat]
        events += [(m.seq, "热线：" + (m.plain_text or m.text or f"<{m.kind}>") +
                    ("".join(f" [{b}]" for row in m.buttons for b in row)))
                   for m in self.fake.sent(chat)]
        text = "\n".join(line for _, line in sorted(events))
        out = ARTIFACTS / "transcripts" / f"{name}.txt"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
        return text

    def parse(self, text: str) -> dict:
        return httpx.post(f"{self.rasa_url}/model/parse", json={"text": text},
                          params={"token": self.stack.rasa_token}, timeout=30).json()


@pytest.fixture(scope="session")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    fake = FakeTelegram().start()
    var_dir: Path = tmp_path_factory.mktemp("stack-var")
    stack = Stack(
        var_dir=var_dir,
        ports=Ports.free(),
        extra_env={
            "TELEGRAM_TOKEN": fake.token,
            "HOTLINE_TELEGRAM_BASE_URL": fake.base_url,
            "HOTLINE_TELEGRAM_MODE": "polling",
            "HOTLINE_DATABASE_URL": f"sqlite:///{var_dir / 'hotline.db'}",
            "HOTLINE_OFFICE_HOURS": "always",
        },
    )
    stack.start(log=lambda line: print(line, flush=True))
    try:
        yield Running(stack, fake)
    finally:
        stack.stop()
        fake.stop()
