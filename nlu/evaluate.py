"""Evaluate the trained NLU model on a JSONL file of {"text", "intent"} lines.

Runs in the Rasa environment (Python 3.10):
    .venv-rasa/bin/python nlu/evaluate.py DATA.jsonl [--model models/current.tar.gz]
Prints per-intent precision/recall/F1, the errors, entity exactness (uscc, phone, ticket_id
on lines that list them), parse latency, saves a confusion matrix PNG, and prints as its
LAST line one JSON object with n, accuracy, macro_f1, per_intent_f1, traditional_accuracy,
topic_accuracy (rows whose gold intent is one of the 15 topics), citizen_to_topic (share of
out_of_scope rows sent to a topic), entity_violations (ticket_id not from a regex, district not
in the divisions list), parse latency p95 overall and for texts of 300+ characters, seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
EXACT_ENTITIES = ("uscc", "phone", "ticket_id")


def load_lines(path: Path) -> list[dict]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SystemExit(f"error: {path}:{number} is not JSON: {exc}") from exc
        if not isinstance(row, dict) or "text" not in row or "intent" not in row:
            raise SystemExit(f'error: {path}:{number} needs "text" and "intent"')
        rows.append(row)
    if not rows:
        raise SystemExit(f"error: {path} has no lines")
    return rows


async def parse_all(model: Path, texts: list[str]) -> tuple[list[dict], list[float]]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    results, latencies = [], []
    for text in texts:
        start = time.perf_counter()
        results.append(await agent.parse_message(text))
        latencies.append((time.perf_counter() - start) * 1000)
    return results, latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "current.tar.gz")
    parser.add_argument("--png", type=Path, default=ROOT / "var" / "nlu_confusion.png")
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    from sklearn.metrics import classification_report, confusion_matrix, f1_score

    from hotline.textnorm import is_traditional

    rows = load_lines(args.data)
    started = time.perf_counter()
    results, latencies = asyncio.run(parse_all(args.model, [r["text"] for r in rows]))
    seconds = time.perf_counter() - started

    gold = [r["intent"] for r in rows]
    pred = [(res.get("intent") or {}).get("name") or "none" for res in results]
    labels = sorted(set(gold) | set(pred))
    print(classification_report(gold, pred, labels=labels, zero_division=0, digits=3))

    errors = [(r, p, res) for r, p, res in zip(rows, pred, results) if p != r["intent"]]
    print(f"errors ({len(errors)}):")
    for row, predicted, res in errors:
        confidence = (res.get("intent") or {}).get("confidence", 0.0)
        print(f"  [{row['intent']} → {predicted} {confidence:.2f}] {row['text']}")

    pairs: dict[tuple[str, str], int] = {}
    for row, predicted, _ in errors:
        key = (row["intent"], predicted)
        pairs[key] = pairs.get(key, 0) + 1
    print("most confused (gold → predicted):")
    for (g, p), count in sorted(pairs.items(), key=lambda kv: -kv[1])[:5]:
        print(f"  {g} → {p}: {count}")

    entity_total = entity_exact = 0
    for row, res in zip(rows, results):
        wanted = [e for e in row.get("entities") or [] if e.get("entity") in EXACT_ENTITIES]
        if not wanted:
            continue
        found = {(e["entity"], str(e["value"])) for e in res.get("entities") or []}
        entity_total += 1
        if all((e["entity"], str(e["value"])) in found for e in wanted):
            entity_exact += 1
        else:
            print(f"  entity miss: {row['text']} wanted {wanted} got {sorted(found)}")
    if entity_total:
        print(f"entities exact: {entity_exact}/{entity_total} = {entity_exact / entity_total:.3f}")

    act_rows = [(r, res) for r, res in zip(rows, results) if r.get("act")]
    if act_rows:
        act_ok = sum(1 for r, res in act_rows if (res.get("act") or {}).get("name") == r["act"])
        print(f"act accuracy: {act_ok}/{len(act_rows)} = {act_ok / len(act_rows):.3f}")

    from nlu.components.entities import division_names

    divisions = division_names()
    violations = []
    for res in results:
        for e in res.get("entities") or []:
            if e.get("entity") in EXACT_ENTITIES and e.get("extractor") != "RegexEntityExtractor":
                violations.append((e["entity"], e.get("value"), e.get("extractor")))
            if e.get("entity") == "district" and e.get("value") not in divisions:
                violations.append(("district", e.get("value"), e.get("extractor")))
    for v in violations[:20]:
        print(f"  entity violation: {v}")

    topics = set(yaml.safe_load((ROOT / "hotline" / "data" / "intents.yml").read_text(
        encoding="utf-8"))["topics"])
    topic_rows = [(g, p) for g, p in zip(gold, pred) if g in topics]
    citizen_rows = [p for g, p in zip(gold, pred) if g == "out_of_scope"]

    def p95_of(values: list[float]) -> float:
        values = sorted(values)
        return values[min(len(values) - 1, int(0.95 * len(values)))] if values else 0.0

    long_latencies = [ms for r, ms in zip(rows, latencies) if len(r["text"]) >= 300]
    p95 = p95_of(latencies)
    print(f"parse latency ms: p50 {statistics.median(latencies):.1f} p95 {p95:.1f}"
          + (f"; 300+ chars (n={len(long_latencies)}) p95 {p95_of(long_latencies):.1f}"
             if long_latencies else ""))

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        matrix = confusion_matrix(gold, pred, labels=labels)
        fig, ax = plt.subplots(figsize=(12, 10))
        ax.imshow(matrix, cmap="Blues")
        ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        for i in range(len(labels)):
            for j in range(len(labels)):
                if matrix[i, j]:
                    ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=6)
        ax.set_xlabel("predicted")
        ax.set_ylabel("gold")
        fig.tight_layout()
        args.png.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.png, dpi=110)
        print(f"confusion matrix: {args.png}")
    except Exception as exc:  # noqa: BLE001 - the figures matter more than the picture
        print(f"confusion matrix not saved: {exc}")

    trad = [(g, p) for r, g, p in zip(rows, gold, pred) if is_traditional(r["text"])]
    gold_labels = sorted(set(gold))
    per_intent = f1_score(gold, pred, labels=gold_labels, average=None, zero_division=0)
    summary = {
        "n": len(rows),
        "accuracy": round(sum(g == p for g, p in zip(gold, pred)) / len(rows), 4),
        "macro_f1": round(float(f1_score(gold, pred, labels=gold_labels, average="macro",
                                         zero_division=0)), 4),
        "per_intent_f1": {k: round(float(v), 4) for k, v in zip(gold_labels, per_intent)},
        "traditional_accuracy": round(sum(g == p for g, p in trad) / len(trad), 4) if trad else None,
        "topic_accuracy": round(sum(g == p for g, p in topic_rows) / len(topic_rows), 4)
        if topic_rows else None,
        "citizen_to_topic": round(sum(p in topics for p in citizen_rows) / len(citizen_rows), 4)
        if citizen_rows else None,
        "entity_violations": len(violations),
        "p95_ms": round(p95, 1),
        "p95_long_ms": round(p95_of(long_latencies), 1) if long_latencies else None,
        "seconds": round(seconds, 2),
    }
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
