"""The NLU's predicted topic of each evaluation question, read from a cache file.

Production passes the intent the Rasa model predicted to the knowledge base
(``action_handle_topic`` → ``search(text, topic=intent)``). ``bench/nlu_topics_kb.py``
parses every question of ``tests/data/kb_*.jsonl`` and ``kb/training/*.jsonl`` once with
the trained model and writes ``{question: {"intent", "confidence", "act"}}`` to
:data:`CACHE`; ``hotline kb eval --nlu-topics`` reads it, so the evaluation sees the
topic production would see (the NLU's guess), never a gold label. An intent that is not
one of the 15 topics (out_of_scope, nlu_fallback, inform …) gives no topic.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from hotline.kb import paths

CACHE = Path("tests") / "data" / "nlu_topics_of_kb_questions.json"


class StaleCache(ValueError):
    """Questions the cache does not hold: rerun ``bench/nlu_topics_kb.py``."""


def cache_path() -> Path:
    return paths.REPO_ROOT / CACHE


def load(questions: Iterable[str], path: Path | None = None,
         topics: Iterable[str] | None = None) -> dict[str, str | None]:
    """Question → predicted topic (None when the NLU predicted no topic intent)."""
    from hotline.kb.topics import topic_names

    known = set(topics if topics is not None else topic_names())
    cached = json.loads((path or cache_path()).read_text(encoding="utf-8"))
    wanted = list(questions)
    missing = [q for q in wanted if q not in cached]
    if missing:
        raise StaleCache(f"{len(missing)} questions not in the NLU topic cache, e.g. {missing[0]}")
    out: dict[str, str | None] = {}
    for q in wanted:
        intent = cached[q].get("intent")
        out[q] = intent if intent in known else None
    return out
