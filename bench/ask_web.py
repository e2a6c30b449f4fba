"""Ask the whole product questions over its web chat, as an enterprise would: starts the
stack (real Rasa NLU, action server, gateway), sends each question from a fresh session and
prints the replies as the page shows them (HTML tags dropped, buttons in brackets).

    .venv/bin/python bench/ask_web.py                      # the four questions of issue 12
    .venv/bin/python bench/ask_web.py 社保补贴怎么申请 "开饭馆要办什么证"
"""
from __future__ import annotations

import asyncio
import json
import re
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import websockets  # noqa: E402

from bench.chaos import start_stack  # noqa: E402
from tests.fake_telegram import FakeTelegram  # noqa: E402

ISSUE_12 = ["留抵退税怎么办理", "申请创业担保贷款需要什么条件？利息有补贴吗？",
            "高新技術企業認定需要什麼條件", "工业用地出让要走哪些步骤，要多长时间"]


def plain(m: dict[str, Any]) -> str:
    text = m.get("text") or ""
    html = (m.get("custom") or {}).get("html")
    if html:
        text = re.sub(r"<[^>]+>", "", re.sub(r"<br\s*/?>", "\n", html))
    buttons = " ".join(f"[{b['title']}]" for b in m.get("buttons") or [])
    return (text + ("\n" + buttons if buttons else "")).strip()


async def ask(port: int, questions: list[str]) -> str:
    out = []
    for q in questions:
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws/chat/{uuid.uuid4()}") as ws:
            await ws.send(json.dumps({"text": q}, ensure_ascii=False))
            frames = [json.loads(await asyncio.wait_for(ws.recv(), 60))]
            try:
                while True:
                    frames.append(json.loads(await asyncio.wait_for(ws.recv(), 1.5)))
            except asyncio.TimeoutError:
                pass
        out.append(f"### 企业：{q}\n")
        for f in frames:
            for m in f.get("messages", []):
                out.append("热线：" + plain(m).replace("\n", "\n  ") + "\n")
    return "\n".join(out)


def main() -> int:
    questions = sys.argv[1:] or ISSUE_12
    fake = FakeTelegram().start()
    with tempfile.TemporaryDirectory() as tmp:
        stack = start_stack(Path(tmp), fake)
        try:
            print(asyncio.run(ask(stack.ports.gateway, questions)))
        finally:
            stack.stop()
            fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
