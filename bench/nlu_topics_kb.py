"""Cache the NLU's predicted topic for every knowledge-base evaluation and training question.

In production a policy question reaches the knowledge base through ``action_handle_topic``
with the intent the Rasa model predicted (``search(text, topic=intent)``). To evaluate
with that topic offline, this parses every question of ``tests/data/kb_*.jsonl`` and
``kb/training/*.jsonl`` once with the trained model and writes ``question → intent``
(and its confidence) to :data:`CACHE`. The evaluation reads only this file — never a
gold ``topic`` label — so what it measures is what production would see.

Runs in the Rasa environment, from the repository root::

    .venv-rasa/bin/python bench/nlu_topics_kb.py [--model models/current.tar.gz]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
CACHE = REPO / "tests" / "data" / "nlu_topics_of_kb_questions.json"


def questions() -> list[str]:
    files = sorted((REPO / "tests" / "data").glob("kb_*.jsonl"))
    files += sorted((REPO / "kb" / "training").glob("*.jsonl"))
    out: dict[str, None] = {}
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.lstrip().startswith("//"):
                out[json.loads(line)["question"]] = None
    return list(out)


async def parse_all(model: Path, texts: list[str]) -> dict[str, dict[str, object]]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    out: dict[str, dict[str, object]] = {}
    for text in texts:
        parsed = await agent.parse_message(text)
        intent = parsed.get("intent") or {}
        out[text] = {
            "intent": intent.get("name"),
            "confidence": round(float(intent.get("confidence") or 0.0), 4),
            "act": next((e.get("value") for e in parsed.get("entities") or []
                         if e.get("entity") == "act"), None),
        }
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=REPO / "models" / "current.tar.gz")
    ap.add_argument("--out", type=Path, default=CACHE)
    ap.add_argument("--fresh", action="store_true", help="parse every question again")
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    texts = questions()
    cached: dict[str, dict[str, object]] = {}
    if args.out.exists() and not args.fresh:
        cached = json.loads(args.out.read_text(encoding="utf-8"))
    todo = [t for t in texts if t not in cached]
    cached.update(asyncio.run(parse_all(args.model, todo)) if todo else {})
    keep = {t: cached[t] for t in texts}
    args.out.write_text(
        json.dumps(keep, ensure_ascii=False, indent=0, sort_keys=True) + "\n",
        encoding="utf-8",
    )
    print(f"{len(todo)} parsed, {len(keep)} cached in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
