"""Learning the reranker's weights (:mod:`hotline.kb.rerank`) from question → entry pairs.

Two kinds of training questions, both kept apart from the evaluation sets in
``tests/data``:

- ``kb/training/questions*.jsonl``: questions written for training only, in the format
  of the evaluation files (``question``, ``source``, ``title``, ``article``);
- held-out glosses: one everyday phrasing of each statute article that has several is
  removed from a copy of the knowledge base, and the removed phrasing (joined with a
  second one when there is one) becomes a question whose answer is that article — the
  index it is asked against does not contain it.

For each question the first stage's top candidates are scored with :data:`FEATURES`; every
(right, wrong) pair among them gives a difference vector, and a logistic regression without
intercept on those differences (a RankNet-style pairwise model) gives the weights.

    .venv/bin/python -m hotline kb train-reranker
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from hotline.kb import paths
from hotline.kb.evaluate import Question, load_questions
from hotline.kb.index import KbIndex, build
from hotline.kb.rerank import FEATURES, Reranker, reranker_path
from hotline.kb.search import rank
from hotline.kb.statutes import GLOSSES_DIR
from hotline.kb.textproc import clean_query

TRAINING_DIR = "training"
#: One article in this many gives up a gloss as a training question.
GLOSS_SHARE = 2
#: Regularisation of the logistic regression (sklearn's C).
C = 10.0
#: Whether held-out glosses join the written questions (off: measured on our sets, they
#: pull service items down — glosses exist for statute articles only).
USE_GLOSSES = False
SEED = 20261130


def training_files(kb: Path) -> list[Path]:
    """The written training questions (answerable ones). The other files of the directory
    serve the answer-or-decline rules (:mod:`hotline.kb.decide`): ``unanswerable.jsonl``
    (questions on real policies the corpus lacks, the rules' development set), and two
    check sets written apart from it, ``unanswerable_check.jsonl`` and
    ``check_answerable.jsonl`` (service-item questions the reranker never sees) — their
    misses were looked at once (the subject rule's refinements, the off-domain patterns),
    so they are no longer quite unseen; ``unanswerable_fresh.jsonl`` (50 questions on real
    programmes the corpus lacks, written later and measured once before any rule was tuned
    on it: 0.62 declined) is the next unseen check."""
    return sorted((kb / TRAINING_DIR).glob("questions*.jsonl"))


def data_hash(kb: Path) -> str:
    """Hash of the training questions and the glosses the held-out questions come from."""
    h = hashlib.sha256(b"kb-reranker:" + ",".join(FEATURES).encode())
    for path in training_files(kb) + sorted((kb / GLOSSES_DIR).glob("*.yml")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _pick(key: str, share: int) -> bool:
    return int(hashlib.sha256(key.encode()).hexdigest(), 16) % share == 0


def held_out_glosses(kb: Path, target: Path) -> list[Question]:
    """Copy ``kb`` to ``target`` without one gloss of every :data:`GLOSS_SHARE`-th article
    that has at least three; the removed glosses become questions."""
    shutil.copytree(kb, target, ignore=shutil.ignore_patterns(TRAINING_DIR, "reranker.json"))
    questions: list[Question] = []
    for path in sorted((target / GLOSSES_DIR).glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        stem = str(data.get("law") or path.stem)
        articles = data.get("articles") or {}
        for article, phrases in list(articles.items()):
            phrases = [str(p) for p in phrases or ()]
            if len(phrases) < 3 or not _pick(f"{stem}{article}", GLOSS_SHARE):
                continue
            rng = random.Random(f"{SEED}{stem}{article}")
            held = rng.sample(phrases, 2 if len(phrases) >= 5 else 1)
            articles[article] = [p for p in phrases if p not in held]
            questions.append(Question("，".join(held), "laws", stem, str(article)))
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                        encoding="utf-8")
    return questions


@dataclass
class Pairs:
    """Difference vectors (right − wrong) and how many questions gave them."""

    diffs: list[np.ndarray]
    questions: int = 0
    found: int = 0  # questions whose answer was among the candidates


def collect(index: KbIndex, questions: Iterable[Question], pairs: Pairs) -> None:
    """Add the (right − wrong) feature differences of every question to ``pairs``."""
    for q in questions:
        pairs.questions += 1
        ranked = rank(index, clean_query(q.question), use_reranker=False)
        if ranked is None:
            continue
        cands = ranked.order[: len(ranked.features)]
        good = np.array([q.accepts(index.entries[int(i)]) or q.cited_by(index.entries[int(i)])
                         for i in cands], dtype=bool)
        if not good.any() or good.all():
            continue
        pairs.found += 1
        f = ranked.features  # the rows of ``cands``, in the first stage's order
        pos, neg = f[good], f[~good]
        # every right answer against every wrong one, each question weighing the same
        pairs.diffs.append((pos[:, None, :] - neg[None, :, :]).reshape(-1, f.shape[1]))


def fit(pairs: Pairs, c: float = C) -> np.ndarray:
    """Pairwise logistic regression: P(right ranks above wrong) = σ(w · (f_right − f_wrong))."""
    from sklearn.linear_model import LogisticRegression

    x = np.concatenate(pairs.diffs)
    # each question weighs the same however many wrong candidates it has
    per_pair = np.concatenate([np.full(len(d), 1.0 / len(d)) for d in pairs.diffs])
    model = LogisticRegression(C=c, fit_intercept=False, max_iter=5000)
    model.fit(np.concatenate([x, -x]), np.r_[np.ones(len(x)), np.zeros(len(x))],
              sample_weight=np.r_[per_pair, per_pair])
    return model.coef_[0]


def train_on(kb: Path, index: KbIndex, questions: Sequence[Question], tmp: Path,
             use_glosses: bool = USE_GLOSSES) -> tuple[Reranker, dict[str, int]]:
    """Weights from ``questions`` asked against ``index`` (built from ``kb``, no reranker),
    plus held-out glosses from a copy of ``kb`` under ``tmp``."""
    saved, index.reranker = index.reranker, None
    pairs = Pairs([])
    try:
        collect(index, questions, pairs)
    finally:
        index.reranker = saved
    glossed = 0
    if use_glosses:
        held = held_out_glosses(kb, tmp / "kb")
        glossed = len(held)
        collect(build(kb=tmp / "kb", out_root=tmp / "index-fold"), held, pairs)
    if not pairs.diffs:
        raise ValueError("no training question found its answer among the candidates")
    stats = {"written": len(questions), "held_out_glosses": glossed,
             "questions": pairs.questions, "found": pairs.found,
             "pairs": sum(len(d) for d in pairs.diffs)}
    return Reranker(fit(pairs), data_hash(kb)), stats


def written_questions(kb: Path) -> list[Question]:
    return [q for path in training_files(kb) for q in load_questions(path) if q.answerable]


def train(kb: Path | None = None, use_glosses: bool = USE_GLOSSES,
          extra: Sequence[Question] = ()) -> tuple[Reranker, dict[str, int]]:
    """Learn the weights from the training files (and held-out glosses)."""
    kb = kb or paths.kb_dir()
    with tempfile.TemporaryDirectory(prefix="kb-rerank-") as tmp:
        index = build(kb=kb, out_root=Path(tmp) / "index")
        return train_on(kb, index, written_questions(kb) + list(extra), Path(tmp), use_glosses)


def save(reranker: Reranker, stats: dict[str, int], kb: Path | None = None) -> Path:
    path = reranker_path(kb)
    data = reranker.to_json() | {"stats": stats}
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path
