"""Knowledge-base speed: index build time and search latency over the question set.

Targets (issue 12): build ≤ 60 s, search p95 ≤ 20 ms (a chat turn also pays NLU and network).
Run from the repository root::

    python bench/bench_kb.py [--rounds 5] [--questions tests/data/kb_questions.jsonl]

The build goes to a temporary directory, so the developer's cached index is untouched.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # allow running as a plain script from anywhere
    sys.path.insert(0, str(REPO))

BUILD_TARGET_S = 60.0
P95_TARGET_MS = 20.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo, hi = int(pos), min(int(pos) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def main(argv: list[str] | None = None) -> int:
    from hotline.kb import index as kb_index
    from hotline.kb.evaluate import load_questions
    from hotline.kb.search import search

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="passes over the question set")
    parser.add_argument("--questions", type=Path, default=REPO / "tests/data/kb_questions.jsonl")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="kb_bench_") as tmp:
        started = time.perf_counter()
        built = kb_index.build(out_root=Path(tmp))
        build_s = time.perf_counter() - started
        kb_index.reset_cache()
        started = time.perf_counter()
        loaded = kb_index.load(out_root=Path(tmp))
        load_s = time.perf_counter() - started
        assert loaded.built_seconds is None, "expected the cached index to be read, not rebuilt"

        questions = [q.question for q in load_questions(args.questions)]
        search(questions[0], index=loaded)  # warm-up
        latencies: list[float] = []
        for _ in range(args.rounds):
            for q in questions:
                t0 = time.perf_counter()
                search(q, k=5, index=loaded)
                latencies.append((time.perf_counter() - t0) * 1000)

    p50, p95 = percentile(latencies, 0.50), percentile(latencies, 0.95)
    print(f"entries:          {len(built)}")
    print(f"index build:      {build_s:.2f} s (target ≤ {BUILD_TARGET_S:.0f} s)")
    print(f"index load:       {load_s:.2f} s (cached, incl. jieba start-up)")
    print(
        f"search latency:   p50 {p50:.2f} ms, p95 {p95:.2f} ms, max {max(latencies):.2f} ms, "
        f"mean {statistics.fmean(latencies):.2f} ms over {len(latencies)} queries "
        f"(target p95 ≤ {P95_TARGET_MS:.0f} ms)"
    )
    summary = {
        "entries": len(built),
        "build_s": round(build_s, 3),
        "load_s": round(load_s, 3),
        "search_p50_ms": round(p50, 3),
        "search_p95_ms": round(p95, 3),
        "queries": len(latencies),
    }
    print(json.dumps(summary))
    return 0 if build_s <= BUILD_TARGET_S and p95 <= P95_TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
