"""NLU speed: training time and parse latency for chat lines and 500-character letters.

Targets: training ≤ 180 s on 2 cores; parse p95 ≤ 30 ms for a 500-character letter.
Runs in the Rasa environment, from the repository root::

    .venv-rasa/bin/python bench/bench_nlu.py [--train] [--model models/current.tar.gz]

``--train`` trains a fresh model into a temporary directory (the cached model is untouched)
and prints how long it took. Letters of 500 characters are built from the held-out letter
set (never trained on), padded with further sentences of the same set.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
TRAIN_TARGET_S = 180.0
LONG_P95_TARGET_MS = 30.0


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def letters_of(length: int) -> list[str]:
    rows = [json.loads(x) for x in (REPO / "tests/data/nlu_letters_heldout.jsonl").read_text(
        encoding="utf-8").splitlines() if x.strip()]
    texts = [r["text"] for r in rows]
    out = []
    for i, text in enumerate(texts):
        j = i
        while len(text) < length:
            j = (j + 1) % len(texts)
            text += texts[j]
        out.append(text[:length])
    return out


def train_seconds() -> float:
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        subprocess.run(
            [str(REPO / ".venv-rasa/bin/rasa"), "train", "--config", "config.yml", "--domain",
             "domain", "--data", "nlu", "--out", out, "--fixed-model-name", "bench"],
            cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), check=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        return time.perf_counter() - started


async def latencies(model: Path, texts: list[str]) -> list[float]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    for text in texts[:5]:  # warm-up
        await agent.parse_message(text)
    out = []
    for text in texts:
        start = time.perf_counter()
        await agent.parse_message(text)
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", action="store_true")
    parser.add_argument("--model", type=Path, default=REPO / "models" / "current.tar.gz")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # parse_message logs every message at debug level
    if args.train:
        seconds = train_seconds()
        print(f"training: {seconds:.0f} s (target ≤ {TRAIN_TARGET_S:.0f} s)")
    chat = [json.loads(x)["text"] for x in (REPO / "tests/data/nlu_heldout.jsonl").read_text(
        encoding="utf-8").splitlines() if x.strip()][:200]
    long = letters_of(500)
    short_ms = asyncio.run(latencies(args.model, chat))
    long_ms = asyncio.run(latencies(args.model, long))
    print(f"parse chat lines (n={len(short_ms)}): p50 {statistics.median(short_ms):.1f} ms, "
          f"p95 {p95(short_ms):.1f} ms")
    print(f"parse 500-char letters (n={len(long_ms)}): p50 {statistics.median(long_ms):.1f} ms, "
          f"p95 {p95(long_ms):.1f} ms (target ≤ {LONG_P95_TARGET_MS:.0f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
