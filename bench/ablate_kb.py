"""What each retrieval change buys: the evaluation sets with one change switched off.

Rows: everything on; then without the reranker, without the glosses (index rebuilt from a copy of ``kb/``
without ``glosses/``), the everyday-phrasings channel, the character-pair channel, the
synonym table, the catalogue filter (items that are not services kept), the
citizen-only prior, the sibling and statute priors, the money-support rule; and plain BM25 (word body channel only, nothing else). Columns: cited
hit@1 / hit@3 on our answerable sets, and the declined share of the unanswerable set.

    .venv/bin/python bench/ablate_kb.py
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hotline.kb import decide, priors, service_items  # noqa: E402
from hotline.kb import index as kb_index  # noqa: E402
from hotline.kb import search as kb_search  # noqa: E402
from hotline.kb.evaluate import evaluate, load_questions  # noqa: E402

SETS = ["kb_questions.jsonl", "kb_questions_statutes.jsonl", "kb_needs.jsonl"]
UNANSWERABLE = "kb_unanswerable.jsonl"


@contextmanager
def patched(obj: object, **values: object) -> Iterator[None]:
    old = {k: getattr(obj, k) for k in values}
    for k, v in values.items():
        setattr(obj, k, v)
    try:
        yield
    finally:
        for k, v in old.items():
            setattr(obj, k, v)


def _nothing(*_args: object) -> None:
    """A close-call prior switched off: never moves an entry."""
    return None


def measure(idx: kb_index.KbIndex) -> dict[str, object]:
    row: dict[str, object] = {}
    for name in SETS:
        s = evaluate(load_questions(ROOT / "tests" / "data" / name), index=idx).summary()
        row[name.removesuffix(".jsonl")] = f"{s['cited_hit_at_1']:.3f}/{s['cited_hit_at_3']:.3f}"
    u = evaluate(load_questions(ROOT / "tests" / "data" / UNANSWERABLE), index=idx).summary()
    row["unanswerable_declined"] = u["declined"]
    return row


def build(tmp: Path, drop_glosses: bool = False) -> kb_index.KbIndex:
    kb = tmp / ("kb_no_glosses" if drop_glosses else "kb")
    shutil.copytree(ROOT / "kb", kb, ignore=shutil.ignore_patterns("glosses") if drop_glosses
                    else None)
    return kb_index.build(kb=kb, out_root=tmp / f"index_{kb.name}")


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="kb_ablate_"))
    try:
        full = build(tmp)
        bare = build(tmp, drop_glosses=True)
        rows: list[tuple[str, Callable[[], dict[str, object]]]] = [
            ("all on", lambda: measure(full)),
            ("without reranker", lambda: _without_reranker(full)),
            ("without glosses", lambda: measure(bare)),
            ("without phrasings channel",
             lambda: _with(kb_search, {"PHRASES_WEIGHT": 0.0}, full)),
            ("without character pairs", lambda: _with(kb_search, {"CHARS_WEIGHT": 0.0}, full)),
            ("without synonyms", lambda: _without_synonyms(full)),
            ("without citizen-only prior",
             lambda: _with(priors, {"CITIZEN_ONLY_FACTOR": 1.0}, full)),
            ("without sibling and statute priors",
             lambda: _with(kb_search, {"preferred_sibling": _nothing,
                                       "specific_statute": _nothing}, full)),
            ("without the money-support rule",
             lambda: _with(decide, {"SUPPORT_RULE": 0.0}, full)),
            ("without catalogue filter", lambda: _unfiltered(tmp)),
            ("plain BM25 (body words, no glosses)", lambda: _plain(bare)),
        ]
        for label, run in rows:
            print(json.dumps({"setting": label, **run()}, ensure_ascii=False), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def _with(module: object, values: dict[str, object], idx: kb_index.KbIndex) -> dict[str, object]:
    with patched(module, **values):
        return measure(idx)


def _without_synonyms(idx: kb_index.KbIndex) -> dict[str, object]:
    saved = idx.synonyms
    idx.synonyms = ()
    try:
        return measure(idx)
    finally:
        idx.synonyms = saved


def _without_reranker(idx: kb_index.KbIndex) -> dict[str, object]:
    saved, idx.reranker = idx.reranker, None
    try:
        return measure(idx)
    finally:
        idx.reranker = saved


def _unfiltered(tmp: Path) -> dict[str, object]:
    kb = tmp / "kb_unfiltered"
    shutil.copytree(ROOT / "kb", kb)
    with patched(service_items, dropped_reason=lambda name, item_type: None):
        idx = kb_index.build(kb=kb, out_root=tmp / "index_unfiltered")
    return measure(idx)


def _plain(idx: kb_index.KbIndex) -> dict[str, object]:
    saved, saved_reranker = idx.synonyms, idx.reranker
    idx.synonyms, idx.reranker = (), None
    try:
        with patched(kb_search, PHRASES_WEIGHT=0.0, CHARS_WEIGHT=0.0, TITLE_WEIGHT=0.0,
                     TOPIC_BOOST=0.0), \
             patched(priors, CITIZEN_ONLY_FACTOR=1.0, INFO_ITEM_FACTOR=1.0,
                     VARIANT_FACTOR=1.0):
            return measure(idx)
    finally:
        idx.synonyms, idx.reranker = saved, saved_reranker


if __name__ == "__main__":
    raise SystemExit(main())
