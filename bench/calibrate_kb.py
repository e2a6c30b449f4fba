"""Calibrate the answer-or-decline thresholds of :mod:`hotline.kb.decide`.

Computes the decision features once per question (answerable files vs files of
``"answerable": false`` questions), then replays :func:`hotline.kb.decide.rule` over a
grid of thresholds and prints, for each setting, the false-decline rate on the
answerable questions and the declined share of the unanswerable ones. Only the
*calibration half* of every file (odd lines) is used to choose; the other half is
reported as a check, so the chosen setting is not fitted to the figures it reports.

    .venv/bin/python bench/calibrate_kb.py            # grid, best settings, check half
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hotline.kb import decide  # noqa: E402
from hotline.kb.index import get_index  # noqa: E402
from hotline.kb.search import search  # noqa: E402

ANSWERABLE = ["kb_questions.jsonl", "kb_questions_statutes.jsonl", "kb_needs.jsonl"]
UNANSWERABLE = ["kb_unanswerable.jsonl", "kb_needs.jsonl"]
GRID = {
    "MIN_SCORE": [4.0, 6.0, 8.0],
    "MIN_COVERAGE": [0.2, 0.3, 0.4],
    "KEY_COVERAGE": [0.0, 0.5, 0.6, 0.7],
    "FOREIGN_REST_COVERAGE": [0.0, 0.4, 0.5, 0.6],
    "FOREIGN_SCORE": [0.0, 15.0, 25.0],
    "FOREIGN_COVERAGE": [0.0, 0.4, 0.5, 0.6, 0.7],
}


def _rows(name: str, answerable: bool) -> list[tuple[int, str]]:
    out = []
    lines = (ROOT / "tests" / "data" / name).read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if line.strip():
            row = json.loads(line)
            if (row.get("answerable", True) is not False) == answerable:
                out.append((i, row["question"]))
    return out


def _features(questions: list[tuple[int, str]]) -> list[tuple[int, decide.Features | None]]:
    idx = get_index()
    out = []
    for i, q in questions:
        result = search(q, k=1, index=idx)
        if not result.top:
            out.append((i, None))
            continue
        words = decide.question_words(result.normalized, idx.tokenizer, idx.synonyms, idx.idf,
                                      idx.corpus_text)
        out.append((i, decide.features(words, result.top.entry, result.top.score,
                                       idx.tokenizer, result.normalized)))
    return out


def _declined(feats: list[tuple[int, decide.Features | None]], half: int) -> float:
    chosen = [f for i, f in feats if i % 2 == half]
    return sum(1 for f in chosen if f is None or not decide.rule(f)[0]) / max(1, len(chosen))


def main() -> int:
    answerable = [f for name in ANSWERABLE for f in _features(_rows(name, True))]
    unanswerable = [f for name in UNANSWERABLE for f in _features(_rows(name, False))]
    print(f"answerable {len(answerable)}, unanswerable {len(unanswerable)}")
    results = []
    keys = list(GRID)
    for values in itertools.product(*(GRID[k] for k in keys)):
        for k, v in zip(keys, values):
            setattr(decide, k, v)
        false_decl = _declined(answerable, 0)
        caught = _declined(unanswerable, 0)
        results.append((false_decl, caught, dict(zip(keys, values))))
    # best: most unanswerable declined while at most 10 % (then 15 %) falsely declined
    for cap in (0.05, 0.10, 0.15, 0.20):
        ok = [r for r in results if r[0] <= cap]
        if not ok:
            print(f"false-decline ≤ {cap:.2f}: no setting")
            continue
        best = max(ok, key=lambda r: (r[1], -r[0]))
        for k, v in best[2].items():
            setattr(decide, k, v)
        check = (_declined(answerable, 1), _declined(unanswerable, 1))
        print(json.dumps({"cap": cap, "calibration": {"false_declined": round(best[0], 3),
                                                        "unanswerable_declined": round(best[1], 3)},
                          "check": {"false_declined": round(check[0], 3),
                                    "unanswerable_declined": round(check[1], 3)},
                          "setting": best[2]}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
