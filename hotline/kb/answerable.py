"""Answer or decline, learned: is this a question the knowledge base answers at all?

The hand-written rules of :mod:`hotline.kb.decide` look at one signal at a time (the BM25
score, the share of the question's words the top entry covers, a word no entry uses). A
question about a subject the corpus lacks often passes each of them separately (稳岗返还
shares 返还 and 企业 with many entries) while the combination gives it away: the best
entry covers only the common words, no everyday phrasing is close, the candidates below
it come from everywhere. A logistic regression over :data:`FEATURES` combines them.

It is trained (:mod:`hotline.kb.answerable_train`) on the written training questions of
``kb/training/`` — answerable ones (``questions*.jsonl``) against questions about real
policies the corpus lacks (``unanswerable*.jsonl``) — never on ``tests/data``, and stored
in ``kb/decider.json`` with the threshold chosen on the training data. The rules that
state a fact rather than weigh evidence stay: a question asking for a figure the entry
does not state is declined whatever the model says.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hotline.kb import paths
from hotline.kb.decide import UNKNOWN_IDF, Features, Word
from hotline.kb.rerank import FEATURES as CANDIDATE_FEATURES

DECIDER_FILE = "decider.json"
#: How many candidates the "best coverage among the first few" feature looks at.
TOP_FEW = 5

FEATURES: tuple[str, ...] = (
    "coverage",  # weighted share of the question's words the top entry covers
    "rest_coverage",  # the same without words the knowledge base never uses
    "foreign_share",  # weight of words the knowledge base never uses
    "missing_rarest",  # the rarest missing word's weight (0 when nothing is missing)
    "key_missing",  # a rare known noun of the question is missing from the top entry
    "score_log",  # log(1 + first-stage score of the top entry)
    "rerank_margin",  # reranker score of the top entry minus the second's
    "best_few_coverage",  # best coverage among the first few candidates
    "phrase_containment",  # the top entry's closest everyday phrasing
    "title_containment",  # the question names the top entry
    "same_statute",  # the candidates around the top agree on a statute
    "words_log",  # log(1 + number of weighted question words)
    "is_law",
    "is_item",
    "is_curated",
)
_CAND = {name: i for i, name in enumerate(CANDIDATE_FEATURES)}


def question_features(
    words: Sequence[Word],
    top: Features,
    candidates: np.ndarray,
    rerank_scores: np.ndarray,
) -> np.ndarray:
    """The feature vector of a question whose top entry has decision features ``top``;
    ``candidates`` are the reranker's feature rows in final order (row 0 is the top)."""
    total = sum(w.idf for w in words) or 1.0
    foreign = sum(w.idf for w in words if w.foreign) / total
    missing = [w.idf for w in words if w.text in top.missing]
    row = candidates[0] if len(candidates) else np.zeros(len(CANDIDATE_FEATURES))
    margin = float(rerank_scores[0] - rerank_scores[1]) if len(rerank_scores) > 1 else 0.0
    few = candidates[:TOP_FEW, _CAND["coverage"]] if len(candidates) else np.zeros(1)
    return np.array([
        top.coverage,
        top.rest_coverage,
        foreign,
        (max(missing) / UNKNOWN_IDF) if missing else 0.0,
        float(bool(top.key_missing)),
        math.log1p(max(top.score, 0.0)),
        margin,
        float(few.max()),
        row[_CAND["phrase_containment"]],
        row[_CAND["title_containment"]],
        row[_CAND["same_statute"]],
        math.log1p(len(words)),
        row[_CAND["is_law"]],
        row[_CAND["is_item"]],
        row[_CAND["is_curated"]],
    ], dtype=np.float64)


@dataclass(frozen=True, slots=True)
class Decider:
    """P(answerable) = σ(w · f + b); answer when it reaches ``threshold``."""

    weights: np.ndarray
    bias: float
    threshold: float
    trained_on: str = ""

    def probability(self, features: np.ndarray) -> float:
        z = float(features @ self.weights + self.bias)
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))

    def to_json(self) -> dict[str, object]:
        return {
            "features": list(FEATURES),
            "weights": [round(float(w), 6) for w in self.weights],
            "bias": round(self.bias, 6),
            "threshold": round(self.threshold, 6),
            "trained_on": self.trained_on,
        }


def decider_path(kb: Path | None = None) -> Path:
    return (kb or paths.kb_dir()) / DECIDER_FILE


def load_decider(path: Path) -> Decider | None:
    """The stored model, or None when absent or trained on a different feature list."""
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    if list(data.get("features", [])) != list(FEATURES):
        return None
    return Decider(np.asarray(data["weights"], dtype=np.float64), float(data["bias"]),
                   float(data["threshold"]), str(data.get("trained_on", "")))
