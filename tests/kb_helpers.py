"""Shared by the knowledge-base tests: an ablation measured on one index."""

from __future__ import annotations

from collections.abc import Sequence

from hotline.kb import index as kb_index
from hotline.kb.evaluate import Question, evaluate


def with_and_without(idx: kb_index.KbIndex, part: str, questions: Sequence[Question],
                     replacement: object = None) -> tuple[dict[str, float], dict[str, float]]:
    """``evaluate`` summaries of ``questions`` with the index's ``part`` (reranker, sentence
    vectors, answerability model …) as it is, and with ``replacement`` in its place; the
    index is left as it was."""
    with_part = evaluate(questions, index=idx).summary()
    saved = getattr(idx, part)
    setattr(idx, part, replacement)
    try:
        without = evaluate(questions, index=idx).summary()
    finally:
        setattr(idx, part, saved)
    return with_part, without
