"""Learning the answer-or-decline model (:mod:`hotline.kb.answerable`).

Training questions: the written ones of ``kb/training/`` — answerable
(``questions*.jsonl``, label 1) and about real policies the corpus lacks
(``unanswerable*.jsonl``, label 0). Their features depend on the reranker, which was
trained on the same answerable questions; to see them as the model will see new
questions, they are **cross-fitted**: the questions are split in two halves, a reranker
trained on one half (with the held-out glosses) ranks the other.

The threshold is the highest that still answers all but :data:`FALSE_DECLINE_TARGET` of
the answerable training questions (counting those the fixed rules decline anyway).

    .venv/bin/python -m hotline kb train-decider
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hotline.kb import paths
from hotline.kb.answerable import FEATURES, Decider, decider_path, question_features
from hotline.kb.decide import features, learned_rule
from hotline.kb.evaluate import Question, load_questions
from hotline.kb.index import KbIndex, build
from hotline.kb.rerank_train import TRAINING_DIR, train_on
from hotline.kb.search import rank
from hotline.kb.textproc import clean_query

#: Share of answerable training questions the chosen threshold may decline.
FALSE_DECLINE_TARGET = 0.04
C = 1.0


def unanswerable_files(kb: Path) -> list[Path]:
    return sorted((kb / TRAINING_DIR).glob("unanswerable*.jsonl"))


def answerable_files(kb: Path) -> list[Path]:
    return sorted((kb / TRAINING_DIR).glob("questions*.jsonl"))


def data_hash(kb: Path) -> str:
    h = hashlib.sha256(b"kb-decider:" + ",".join(FEATURES).encode())
    for path in answerable_files(kb) + unanswerable_files(kb):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _half(q: Question) -> int:
    return int(hashlib.sha256(q.question.encode()).hexdigest(), 16) % 2


def rows(index: KbIndex, questions: Sequence[Question]) -> tuple[np.ndarray, np.ndarray]:
    """Features of each question with a top entry, and whether the fixed rules (weak
    match, figure not stated) already decline it — those need no model."""
    xs: list[np.ndarray] = []
    forced: list[bool] = []
    for q in questions:
        text = clean_query(q.question)
        ranked = rank(index, text)
        if ranked is None or not len(ranked.order) or not ranked.words:
            xs.append(np.zeros(len(FEATURES)))
            forced.append(True)
            continue
        top = index.entries[int(ranked.order[0])]
        f = features(ranked.words, top, float(ranked.channels.total[ranked.order[0]]),
                     index.tokenizer, text)
        xs.append(question_features(ranked.words, f, ranked.features, ranked.scores))
        forced.append(not learned_rule(f, 1.0, 0.0)[0])
    return np.array(xs), np.array(forced, dtype=bool)


def threshold_for(p: np.ndarray, forced: np.ndarray, target: float) -> float:
    """The highest threshold declining at most ``target`` of these answerable questions."""
    allowed = int(target * len(p)) - int(forced.sum())
    free = np.sort(p[~forced])
    if allowed <= 0 or not len(free):
        return float(free[0]) if len(free) else 0.5
    return float(free[min(allowed, len(free) - 1)])


def train(kb: Path | None = None) -> tuple[Decider, dict[str, object]]:
    from sklearn.linear_model import LogisticRegression

    kb = kb or paths.kb_dir()
    good = [q for p in answerable_files(kb) for q in load_questions(p) if q.answerable]
    bad = [q for p in unanswerable_files(kb) for q in load_questions(p) if not q.answerable]
    if not good or not bad:
        raise ValueError("need answerable and unanswerable training questions in kb/training")
    xs, ys, forced_all = [], [], []
    with tempfile.TemporaryDirectory(prefix="kb-decider-") as tmp:
        index = build(kb=kb, out_root=Path(tmp) / "index")
        for half in (0, 1):
            fit_on = [q for q in good if _half(q) != half]
            index.reranker = train_on(kb, index, fit_on, tmp=Path(tmp) / f"fold{half}")
            for qs, label in (([q for q in good if _half(q) == half], 1),
                              ([q for q in bad if _half(q) == half], 0)):
                x, forced = rows(index, qs)
                xs.append(x)
                ys.append(np.full(len(x), label))
                forced_all.append(forced)
    x, y, forced = np.concatenate(xs), np.concatenate(ys), np.concatenate(forced_all)
    model = LogisticRegression(C=C, class_weight="balanced", max_iter=5000)
    model.fit(x[~forced], y[~forced])
    p = model.predict_proba(x)[:, 1]
    threshold = threshold_for(p[y == 1], forced[y == 1], FALSE_DECLINE_TARGET)
    answered = (p >= threshold) & ~forced
    stats: dict[str, object] = {
        "answerable": int((y == 1).sum()),
        "unanswerable": int((y == 0).sum()),
        "train_false_declines": round(float(1 - answered[y == 1].mean()), 4),
        "train_declined_unanswerable": round(float(1 - answered[y == 0].mean()), 4),
    }
    return Decider(model.coef_[0], float(model.intercept_[0]), threshold, data_hash(kb)), stats


def save(decider: Decider, stats: dict[str, object], kb: Path | None = None) -> Path:
    path = decider_path(kb)
    data = decider.to_json() | {"stats": stats}
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path
