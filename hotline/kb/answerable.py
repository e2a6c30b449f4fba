"""A learned second opinion on answer-or-decline: is this question like the ones the
knowledge base answers?

The rules of :mod:`hotline.kb.decide` look at one thing at a time (the question's key words
covered, a subject named, a figure asked for). What they miss are questions about a real
policy the corpus lacks whose every ordinary word the top entry happens to cover: 商业保理
备案 meets 单用途商业预付卡备案, 企业年金 meets 民办非企业单位, 车船税 meets 机动车登记.
Taken together, the measurements the rules use separate those from answerable questions
better than any one threshold: a gradient-boosted tree ensemble over :data:`FEATURES`
(coverage, the missing words' rarity, the dense cosine, the longest run of the question the
entry repeats, its source …) gives the probability that a question is *unanswerable*.

It is trained (:mod:`hotline.kb.answerable_train`) on ``kb/training`` only — answerable
questions against questions on real policies the corpus lacks — and its threshold is chosen
there, on out-of-fold predictions, so that it adds few false declines. The model is stored as
plain trees in ``kb/answerability.json`` (no pickle), with the hash of the data it came from.
It only ever *adds* a decline to what the rules answer; without the file the rules stand.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hotline.kb.decide import Features, Word
from hotline.kb.models import Entry
from hotline.kb.question_prior import NO_PRIOR, QuestionPrior
from hotline.kb.rerank import FEATURES as RERANK_FEATURES

MODEL_FILE = "answerability.json"

#: The reranker's columns (of the top entry's row) that join the vector: how it fits the
#: question, not how it ranks against the other candidates.
RERANK_COLUMNS = (
    "coverage", "nouns_covered", "rarest_covered", "phrase_containment", "phrase_dice",
    "title_containment", "aspect_stated", "aspect_missing", "length_log", "asked_coverage",
    "dense_cosine", "dense_relative", "aspect_field",
    "sentence_text", "sentence_phrase", "sentence_best", "sentence_relative",
)
_RERANK_INDEX = tuple(RERANK_FEATURES.index(name) for name in RERANK_COLUMNS)

FEATURES: tuple[str, ...] = (
    "coverage", "rest_coverage", "subject_coverage", "no_subject", "missing", "key_missing",
    "key_missing_idf", "missing_idf", "subject_missing_idf", "missing_share", "foreign",
    "cosine", "absent", "score_log", "asks_figure", "has_figure", "question_chars", "words",
    "longest_run", "longest_run_share", "pair_coverage", "is_law", "is_curated",
) + tuple(f"rank_{name}" for name in RERANK_COLUMNS) + ("question_prior",)

_PUNCT = re.compile(r"[\s，。？！,.?!、；;：:（）()“”\"'《》…～~]")


def longest_run(question: str, hay: str) -> int:
    """Length of the longest stretch of ``question`` that ``hay`` contains verbatim."""
    best = 0
    for i in range(len(question)):
        j = i + best + 1
        while j <= len(question) and question[i:j] in hay:
            best = j - i
            j += 1
    return best


def pair_coverage(question: str, hay: str) -> float:
    """Share of the question's character pairs that ``hay`` contains."""
    pairs = {question[i:i + 2] for i in range(len(question) - 1)}
    return sum(1 for p in pairs if p in hay) / len(pairs) if pairs else 0.0


def vector(f: Features, words: Sequence[Word], question: str, entry: Entry, hay: str,
           rerank_row: np.ndarray | None, prior: float) -> np.ndarray:
    """The :data:`FEATURES` of the top ``entry`` for ``question`` (``hay`` is its
    :func:`hotline.kb.decide.haystack`, ``rerank_row`` its reranker feature row, ``prior``
    the :mod:`hotline.kb.question_prior`'s probability for the question alone)."""
    total = sum(w.idf for w in words) or 1.0
    missing = set(f.missing)
    gone = [w for w in words if w.text in missing]
    plain = _PUNCT.sub("", question.lower())
    run = longest_run(plain, hay)
    row = [0.0] * len(RERANK_COLUMNS)
    if rerank_row is not None and len(rerank_row) == len(RERANK_FEATURES):
        row = [float(rerank_row[i]) for i in _RERANK_INDEX]
    values = [
        f.coverage, f.rest_coverage,
        -1.0 if f.subject_coverage is None else f.subject_coverage,
        float(f.subject_coverage is None), len(f.missing), len(f.key_missing),
        max((w.idf for w in gone if w.known and w.nounish), default=0.0),
        max((w.idf for w in gone), default=0.0),
        max((w.idf for w in gone if w.subject), default=0.0),
        sum(w.idf for w in gone) / total, len(f.foreign), f.cosine or 0.0, len(f.absent),
        math.log1p(max(f.score, 0.0)), float(f.asks_figure), float(f.has_figure),
        len(question), len(words), run, run / max(1, len(plain)), pair_coverage(plain, hay),
        float(entry.source == "laws"), float(entry.source == "curated"),
        *row, prior,
    ]
    return np.asarray(values, dtype=np.float64)



@dataclass(frozen=True, slots=True)
class Tree:
    """One regression tree of the ensemble, as sklearn stores it (-1: a leaf)."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray


@dataclass(frozen=True)
class Answerability:
    """The ensemble: P(unanswerable) = σ(init + rate · Σ trees); declines above
    ``threshold``."""

    init: float
    rate: float
    trees: tuple[Tree, ...]
    threshold: float
    trained_on: str = ""
    prior: QuestionPrior | None = None

    def question_prior(self, text: str) -> float:
        return self.prior.probability(text) if self.prior is not None else NO_PRIOR

    @functools.cached_property
    def _padded(self) -> tuple[np.ndarray, ...]:
        """The trees as (trees × nodes) arrays, so all of them step down at once."""
        width = max(len(t.feature) for t in self.trees)

        def pad(name: str, fill: float, dtype: type) -> np.ndarray:
            out = np.full((len(self.trees), width), fill, dtype=dtype)
            for i, t in enumerate(self.trees):
                values = getattr(t, name)
                out[i, : len(values)] = values
            return out

        left = pad("left", -1, np.int64)
        return (pad("feature", 0, np.int64), pad("threshold", 0.0, np.float64), left,
                pad("right", -1, np.int64), pad("value", 0.0, np.float64),
                np.arange(len(self.trees)))

    def raw(self, x: np.ndarray) -> float:
        """init + rate · Σ trees(x): the log-odds of unanswerable."""
        feature, threshold, left, right, value, rows = self._padded
        # sklearn's trees compare float32 inputs with float64 thresholds
        xs = np.asarray(x, dtype=np.float32).astype(np.float64)
        node = np.zeros(len(rows), dtype=np.int64)
        while True:
            inner = left[rows, node] >= 0
            if not inner.any():
                break
            go_left = xs[feature[rows, node]] <= threshold[rows, node]
            step = np.where(go_left, left[rows, node], right[rows, node])
            node = np.where(inner, step, node)
        return self.init + self.rate * float(value[rows, node].sum())

    def unanswerable(self, x: np.ndarray) -> float:
        return 1.0 / (1.0 + math.exp(-self.raw(x)))

    def declines(self, x: np.ndarray) -> bool:
        return self.unanswerable(x) > self.threshold

    def to_json(self) -> dict[str, object]:
        return {
            "features": list(FEATURES),
            "trained_on": self.trained_on,
            "threshold": self.threshold,
            "init": self.init,
            "rate": self.rate,
            "prior": None if self.prior is None else self.prior.to_json(),
            "trees": [
                {"feature": t.feature.tolist(), "threshold": t.threshold.tolist(),
                 "left": t.left.tolist(), "right": t.right.tolist(), "value": t.value.tolist()}
                for t in self.trees
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Answerability:
        if data.get("features") != list(FEATURES):
            raise ValueError("answerability model was trained on other features")
        trees = tuple(
            Tree(np.asarray(t["feature"], dtype=np.int64),
                 np.asarray(t["threshold"], dtype=np.float64),
                 np.asarray(t["left"], dtype=np.int64), np.asarray(t["right"], dtype=np.int64),
                 np.asarray(t["value"], dtype=np.float64))
            for t in data["trees"]  # type: ignore[attr-defined]
        )
        prior = data.get("prior")
        question_prior = QuestionPrior.from_json(prior) if isinstance(prior, dict) else None
        return cls(float(data["init"]), float(data["rate"]), trees,  # type: ignore[arg-type]
                   float(data["threshold"]), str(data.get("trained_on", "")),  # type: ignore[arg-type]
                   question_prior)


def model_path(kb: Path) -> Path:
    return kb / MODEL_FILE


@functools.lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> Answerability | None:
    try:
        return Answerability.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load_answerability(path: Path) -> Answerability | None:
    """The stored model, or None when the file is absent or unreadable (the rules stand)."""
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    return _load(str(path), mtime)
