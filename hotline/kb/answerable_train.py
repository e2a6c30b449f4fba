"""Training the answerability model (:mod:`hotline.kb.answerable`) on ``kb/training``.

Answerable questions (``questions*.jsonl``, ``check_answerable.jsonl``) against questions on
real policies the corpus lacks (``unanswerable*.jsonl``), each asked of the index as the bot
asks it; the evaluation sets in ``tests/data`` are never read. Every question the rules would
answer gives one example: :func:`hotline.kb.answerable.vector` of its top entry, labelled
1 when it is unanswerable. The ensemble is sklearn's gradient boosting (exported as plain
trees). Its threshold is the lowest of :data:`THRESHOLDS` whose out-of-fold predictions
decline at most :data:`MAX_EXTRA_DECLINES` of the answerable training questions beyond what
the rules already decline.

    .venv/bin/python -m hotline kb train-answerability
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from hotline.kb import answerable, question_prior, typos
from hotline.kb.evaluate import Question, load_questions
from hotline.kb.index import KbIndex
from hotline.kb.rerank import RERANKER_FILE
from hotline.kb.search import MAX_QUERY_CHARS, answerability_vector, decide_top, rank
from hotline.kb.textproc import clean_query

TRAINING_DIR = "training"
UNANSWERABLE_GLOB = "unanswerable*.jsonl"
ANSWERABLE_GLOBS = ("questions*.jsonl", "check_answerable.jsonl")
TREES = 100
#: Ensembles fitted with different seeds and averaged (steadier than one).
SEEDS = 5
DEPTH = 3
RATE = 0.05
SUBSAMPLE = 0.8
SEED = 20261130
FOLDS = 5
#: Out-of-fold share of the answerable training questions the model may decline on top of
#: the rules' own declines.
MAX_EXTRA_DECLINES = 0.015
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.3, 0.951, 0.05))


def training_files(kb: Path) -> tuple[list[Path], list[Path]]:
    """(answerable files, unanswerable files) of ``kb/training``."""
    folder = kb / TRAINING_DIR
    yes = sorted({p for g in ANSWERABLE_GLOBS for p in folder.glob(g)})
    no = sorted(folder.glob(UNANSWERABLE_GLOB))
    return yes, no


def data_hash(kb: Path) -> str:
    """Hash of the features, the settings, the training files and the reranker's weights
    (which choose the top entry the model judges)."""
    h = hashlib.sha256(b"kb-answerability:" + ",".join(answerable.FEATURES).encode())
    h.update(repr((TREES, SEEDS, DEPTH, RATE, SUBSAMPLE, SEED, FOLDS, MAX_EXTRA_DECLINES,
                   question_prior.NGRAMS, question_prior.MIN_DF, question_prior.C)).encode())
    yes, no = training_files(kb)
    for path in [*yes, *no, kb / RERANKER_FILE]:
        if path.exists():
            h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def search_text(index: KbIndex, question: str) -> str:
    """``question`` as :func:`hotline.kb.search.search` reads it."""
    text = clean_query(question)[:MAX_QUERY_CHARS]
    return typos.correct(text, index.tokenizer, index.homophones) if text else text


def example(index: KbIndex, question: str, prior: float | None = None,
            ) -> tuple[np.ndarray, bool] | None:
    """(vector of the top entry, whether the rules answer) for ``question`` as the bot
    searches it (``prior``: the question prior's value; by default the index's model's);
    None when nothing is found."""
    text = search_text(index, question)
    ranked = rank(index, text) if text else None
    if ranked is None or not len(ranked.order):
        return None
    top, decision = decide_top(index, ranked, text)
    if decision.features is None:
        return None
    return (answerability_vector(index, ranked, top, text, decision.features, prior),
            decision.answer)


def examples(index: KbIndex, questions: Sequence[Question], priors: Sequence[float] | None = None,
             ) -> tuple[np.ndarray, np.ndarray, int]:
    """Vectors and labels (1 = unanswerable) of the questions the rules answer, and how many
    questions the rules decline (``priors``: each question's prior value, out of fold)."""
    xs: list[np.ndarray] = []
    ys: list[int] = []
    declined = 0
    for k, q in enumerate(questions):
        got = example(index, q.question, None if priors is None else float(priors[k]))
        if got is None or not got[1]:
            declined += 1
            continue
        xs.append(got[0])
        ys.append(0 if q.answerable else 1)
    width = len(answerable.FEATURES)
    return (np.vstack(xs) if xs else np.zeros((0, width))), np.asarray(ys, dtype=np.int64), declined


def search_texts(index: KbIndex, questions: Sequence[Question]) -> list[str]:
    return [search_text(index, q.question) for q in questions]


def prior_out_of_fold(texts: Sequence[str], labels: np.ndarray) -> np.ndarray:
    """Each question's prior from a model fitted without it (the ensemble must learn how
    much to trust the prior on questions the prior has not seen)."""
    from sklearn.model_selection import StratifiedKFold

    out = np.full(len(labels), question_prior.NO_PRIOR)
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=SEED + 1)
    for fit_rows, held in folds.split(np.zeros(len(labels)), labels):
        prior = question_prior.fit([texts[i] for i in fit_rows], labels[fit_rows])
        out[held] = [prior.probability(texts[i]) for i in held]
    return out


def _fit(x: np.ndarray, y: np.ndarray) -> list[object]:
    """:data:`SEEDS` gradient-boosted ensembles of sklearn fitted on (x, y)."""
    from sklearn.ensemble import GradientBoostingClassifier

    return [
        GradientBoostingClassifier(n_estimators=TREES, max_depth=DEPTH, learning_rate=RATE,
                                   subsample=SUBSAMPLE, random_state=SEED + k).fit(x, y)
        for k in range(SEEDS)
    ]


def _probability(models: Sequence[object], x: np.ndarray) -> np.ndarray:
    """σ of the ensembles' mean raw score, as :class:`Answerability` computes it."""
    raw = np.mean([m.decision_function(x) for m in models], axis=0)  # type: ignore[attr-defined]
    return 1.0 / (1.0 + np.exp(-raw))


def export(models: Sequence[object], threshold: float, trained_on: str,
           ) -> answerable.Answerability:
    """sklearn's fitted ensembles, averaged, as :class:`hotline.kb.answerable.Answerability`."""
    trees = []
    inits = []
    probe = np.zeros((1, len(answerable.FEATURES)))
    rate = float(models[0].learning_rate)  # type: ignore[attr-defined]
    for model in models:
        own = []
        for (est,) in model.estimators_:  # type: ignore[attr-defined]
            t = est.tree_
            own.append(answerable.Tree(
                np.asarray(t.feature, dtype=np.int64), np.asarray(t.threshold, dtype=np.float64),
                np.asarray(t.children_left, dtype=np.int64),
                np.asarray(t.children_right, dtype=np.int64),
                np.asarray(t.value[:, 0, 0], dtype=np.float64)))
        # sklearn's raw score, less its trees' sum (as the exported ensemble walks them)
        trees_only = answerable.Answerability(0.0, rate, tuple(own), 0.5)
        raw = float(model.decision_function(probe)[0])  # type: ignore[attr-defined]
        inits.append(raw - trees_only.raw(probe[0]))
        trees += own
    return answerable.Answerability(float(np.mean(inits)), rate / len(models), tuple(trees),
                                    threshold, trained_on)


def choose_threshold(oof: np.ndarray, y: np.ndarray, answerable_total: int) -> float:
    """The lowest threshold whose extra declines stay within :data:`MAX_EXTRA_DECLINES`."""
    for t in THRESHOLDS:
        extra = int(((oof > t) & (y == 0)).sum())
        if extra <= MAX_EXTRA_DECLINES * answerable_total:
            return float(t)
    return 1.0


def train_on(kb: Path, index: KbIndex, yes: Sequence[Question], no: Sequence[Question],
             ) -> tuple[answerable.Answerability, dict[str, object]]:
    from sklearn.model_selection import StratifiedKFold

    questions = [*yes, *no]
    labels = np.asarray([0 if q.answerable else 1 for q in questions], dtype=np.int64)
    texts = search_texts(index, questions)
    x, y, declined = examples(index, questions, prior_out_of_fold(texts, labels))
    if len(set(y.tolist())) < 2 or min(np.bincount(y)) < FOLDS:
        raise ValueError("need answerable and unanswerable questions the rules answer")
    oof = np.zeros(len(y))
    for fit_rows, held in StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(x, y):
        oof[held] = _probability(_fit(x[fit_rows], y[fit_rows]), x[held])
    threshold = choose_threshold(oof, y, len(yes))
    model = replace(export(_fit(x, y), threshold, data_hash(kb)),
                    prior=question_prior.fit(texts, labels))
    stats: dict[str, object] = {
        "answerable": len(yes), "unanswerable": len(no), "rules_declined": declined,
        "threshold": threshold,
        "oof_extra_false_declines": round(float(((oof > threshold) & (y == 0)).sum()) / len(yes), 4),
        "oof_extra_unanswerable_declined": round(
            float(((oof > threshold) & (y == 1)).sum()) / max(1, len(no)), 4),
    }
    return model, stats


def train(kb: Path, index: KbIndex) -> dict[str, object]:
    """Train on ``kb/training`` and write ``kb/answerability.json``."""
    yes_files, no_files = training_files(kb)
    yes = [q for p in yes_files for q in load_questions(p)]
    no = [q for p in no_files for q in load_questions(p)]
    model, stats = train_on(kb, index, yes, no)
    answerable.model_path(kb).write_text(json.dumps(model.to_json(), ensure_ascii=False) + "\n",
                                         encoding="utf-8")
    return stats
