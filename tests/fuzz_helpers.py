"""Shared settings and example counts of the fuzz tests (``tests/test_fuzz_*.py``).

Every property runs under :data:`FUZZ` (or a copy with another ``max_examples``): derandomized,
no deadline, no example database, so CI runs the same examples every time and in bounded time.
A property calls :func:`ran` once per example; at the end of each fuzz module the counts are
printed (``pytest -s``) and merged into ``test-artifacts/fuzz-counts.json``.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

COUNTS_FILE = Path(__file__).resolve().parent.parent / "test-artifacts" / "fuzz-counts.json"

FUZZ = settings(
    derandomize=True,
    deadline=None,
    database=None,
    max_examples=200,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                           HealthCheck.data_too_large, HealthCheck.large_base_example],
)

# Pieces that interact inside the normaliser: entities, full-width forms, controls, spaces,
# Traditional characters (薴 → 苧 → 苎 takes two conversions), markup, emoji.
FRAGMENTS = [
    "&", "amp;", "&amp;", "&#", "&#x", "ff06;", "38;", ";", "&lt", "&nbsp;", "&NotEqualTilde;",
    "＆", "＃", "６", "５", "；", "ｘ", "ＡＢＣ", "１２３", "＋", "－", "＿", "／", "．",
    "\x00", "\x07", "\x1f", "\x7f", "\x85", "\u3000", "\xa0", "\n", "\r\n", "\t", " ", "\u2028",
    "\u200b", "發票", "薴", "苧", "乾隆", "臺灣", "我們", "問題", "～", "…", "—", "·",
    "😀", "👍", "\u200d", "\ufe0f", "<script>", "</p>", "null", "谢谢", "您好", "，", "。",
]
messy = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=3), max_size=40).map("".join)
any_text = st.text() | messy
"""What a chat may type: any Unicode but lone surrogates (no channel delivers those as text),
or a mix of the pieces above."""

_counts: Counter[str] = Counter()


def fuzz(max_examples: int) -> settings:
    """:data:`FUZZ` with another number of examples."""
    return settings(FUZZ, max_examples=max_examples)


def ran(name: str) -> None:
    """Count one example of the property ``name``."""
    _counts[name] += 1


def noted(what: str) -> None:
    """Count something the examples met (a status code answered, say), not an example."""
    _counts["· " + what] += 1


@pytest.fixture(scope="module", autouse=True)
def fuzz_report(request: pytest.FixtureRequest) -> Iterator[None]:
    """Print the module's example counts when it ends and record them for the closing note."""
    before = Counter(_counts)
    started = time.monotonic()
    yield
    module = request.module.__name__.rsplit(".", 1)[-1]
    mine = {name: n - before.get(name, 0) for name, n in _counts.items()
            if n != before.get(name, 0)}
    seconds = time.monotonic() - started
    width = max((len(name) for name in mine), default=10)
    examples = sum(n for name, n in mine.items() if not name.startswith("· "))
    lines = [f"\n[fuzz] {module}: {examples} examples in {seconds:.1f} s"]
    lines += [f"[fuzz]   {name:<{width}}  {n:>5}" for name, n in sorted(mine.items())]
    print("\n".join(lines))
    recorded: dict[str, dict[str, object]] = {}
    try:
        recorded = json.loads(COUNTS_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    recorded[module] = {"seconds": round(seconds, 2), "examples": dict(sorted(mine.items()))}
    COUNTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    COUNTS_FILE.write_text(json.dumps(recorded, ensure_ascii=False, indent=1), encoding="utf-8")
