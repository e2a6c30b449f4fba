"""The learned second opinion on declining (hotline.kb.answerable): trained on kb/training
only, stored as plain trees that reproduce sklearn's predictions, and it declines more of the
held-out unanswerable questions without declining more of the answerable ones than allowed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hotline.kb import answerable, answerable_train
from hotline.kb import index as kb_index
from hotline.kb.evaluate import evaluate, load_questions
from hotline.kb.search import UNLIKE_ANSWERED, search

REPO = Path(__file__).resolve().parents[1]
KB = REPO / "kb"
DATA = REPO / "tests" / "data"


@pytest.fixture(scope="module")
def idx(tmp_path_factory: pytest.TempPathFactory) -> kb_index.KbIndex:
    return kb_index.load(kb=KB, out_root=tmp_path_factory.mktemp("kb_answerable_index"))


def test_model_comes_from_the_current_training_data() -> None:
    """kb/answerability.json must be retrained (``hotline kb train-answerability``) whenever
    the training questions, the reranker's weights, the settings or the features change."""
    data = json.loads(answerable.model_path(KB).read_text(encoding="utf-8"))
    assert data["features"] == list(answerable.FEATURES)
    assert data["trained_on"] == answerable_train.data_hash(KB)
    assert 0.0 < data["threshold"] < 1.0
    assert len(data["trees"]) == answerable_train.TREES * answerable_train.SEEDS


def test_training_reads_kb_training_only() -> None:
    yes, no = answerable_train.training_files(KB)
    assert yes and no
    assert all(p.parent == KB / "training" for p in [*yes, *no])
    assert {p.name for p in no} >= {"unanswerable.jsonl", "unanswerable_more.jsonl"}
    assert all(q.answerable is False for p in no for q in load_questions(p))
    assert all(q.answerable for p in yes for q in load_questions(p))


def test_exported_trees_give_sklearns_probabilities(idx: kb_index.KbIndex) -> None:
    yes_files, no_files = answerable_train.training_files(KB)
    yes = [q for p in yes_files for q in load_questions(p)][::12]
    no = [q for p in no_files for q in load_questions(p)][::3]
    x, y, _ = answerable_train.examples(idx, [*yes, *no])
    models = answerable_train._fit(x, y)
    exported = answerable_train.export(models, 0.5, "test")
    expected = answerable_train._probability(models, x)
    got = np.array([exported.unanswerable(row) for row in x])
    assert np.allclose(got, expected, atol=1e-9)
    again = answerable.Answerability.from_json(json.loads(json.dumps(exported.to_json())))
    assert np.allclose([again.unanswerable(row) for row in x], expected, atol=1e-9)


def test_a_missing_or_broken_model_leaves_the_rules(tmp_path: Path) -> None:
    assert answerable.load_answerability(tmp_path / "none.json") is None
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    assert answerable.load_answerability(broken) is None
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"features": ["x"], "trees": []}), encoding="utf-8")
    assert answerable.load_answerability(other) is None


def test_it_declines_more_held_out_unanswerable_questions(idx: kb_index.KbIndex) -> None:
    """Measured on the held-out files, rules alone → with the model: unanswerable declined
    0.734 → 0.812, dev 0.667 → 0.833; false declines own set 0.045 → 0.054, statutes
    0.089 → 0.112 (of the 4 more, 3 had a wrong first entry). Trained with three other
    seeds: unanswerable 0.797–0.844, own 0.045–0.054, statutes 0.106–0.117."""
    assert idx.answerability is not None
    files = {name: load_questions(DATA / f"{name}.jsonl") for name in
             ("kb_unanswerable", "kb_unanswerable_dev", "kb_questions",
              "kb_questions_statutes")}
    with_model = {k: evaluate(v, index=idx).summary() for k, v in files.items()}
    saved, idx.answerability = idx.answerability, None
    try:
        without = {k: evaluate(v, index=idx).summary() for k, v in files.items()}
    finally:
        idx.answerability = saved
    gained = (with_model["kb_unanswerable"]["declined"] - without["kb_unanswerable"]["declined"]
              + with_model["kb_unanswerable_dev"]["declined"]
              - without["kb_unanswerable_dev"]["declined"])
    assert gained >= 0.15, (with_model, without)
    assert with_model["kb_questions"]["declined"] <= without["kb_questions"]["declined"] + 0.01
    assert (with_model["kb_questions_statutes"]["declined"]
            <= without["kb_questions_statutes"]["declined"] + 0.03)


def test_a_declined_answer_says_why_and_keeps_the_candidates(idx: kb_index.KbIndex) -> None:
    """商业保理公司要去哪里备案: 商业, 公司, 广东, 备案 are all in 单用途商业预付卡已备案企业
    查询, 保理 is not; the rules answer (a held-out question), the model declines."""
    result = search("商业保理公司要去哪里备案", index=idx)
    assert not result.confident and result.reason == UNLIKE_ANSWERED
    assert result.hits  # the near entries stay one tap away


def test_the_newest_unanswerable_set_meets_its_floor(idx: kb_index.KbIndex) -> None:
    """38 questions written after the model and measured once: 0.553 declined (rules and
    model alike); 0.605 after quoted names the corpus lacks became absent subjects, 0.632
    with the model retrained after the figure rule."""
    summary = evaluate(load_questions(DATA / "kb_unanswerable_new.jsonl"), index=idx).summary()
    assert summary["n"] == 38 and summary["declined"] >= 0.60, summary


# ------------------------------------------------------------------- the question prior


def test_the_prior_is_a_logistic_regression_over_the_sentence_vector() -> None:
    prior = answerable.QuestionPrior(np.full(4, 0.5, dtype=np.float32), -0.25)
    v = np.array([1.0, 0.0, 0.0, 0.0], dtype=np.float32)
    assert prior.probability(v) == pytest.approx(1 / (1 + np.exp(-0.25)))
    assert prior.probability(np.zeros(4, dtype=np.float32)) == answerable.NO_PRIOR
    assert prior.probability(None) == answerable.NO_PRIOR


def test_the_stored_model_carries_its_prior(idx: kb_index.KbIndex) -> None:
    from hotline.kb import sentences

    data = json.loads((KB / answerable.MODEL_FILE).read_text(encoding="utf-8"))
    assert len(data["prior"]["weights"]) == sentences.DIMS
    model = answerable.Answerability.from_json(data)
    assert model.prior is not None
    assert json.loads(json.dumps(model.to_json()))["prior"] == data["prior"]
    assert idx.answerability is not None and idx.answerability.prior is not None


def test_the_prior_alone_separates_the_held_out_sets(idx: kb_index.KbIndex) -> None:
    """Questions only, no entry looked at: measured AUC 0.941 between kb_questions and
    kb_unanswerable (0.891 out of fold on kb/training)."""
    from sklearn.metrics import roc_auc_score

    model = idx.answerability
    assert model is not None
    yes = load_questions(DATA / "kb_questions.jsonl")
    no = load_questions(DATA / "kb_unanswerable.jsonl")
    p = [model.question_prior(v) for v in answerable_train.question_vectors(idx, [*yes, *no])]
    assert roc_auc_score([0] * len(yes) + [1] * len(no), p) >= 0.85


def test_out_of_fold_priors_come_from_models_without_the_question() -> None:
    """A question that only it resembles gets no help from itself: its copy in the training
    rows would give it a probability near its own label."""
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(60, 8)).astype(np.float32)
    labels = np.array([0, 1] * 30)
    vectors[:, 0] += np.where(labels == 1, 3.0, -3.0)  # a real signal every fold sees
    vectors[7, 1:] += 40.0  # an outlier (label 1) …
    vectors[7, 0] = -3.0  # … that the signal calls answerable
    oof = answerable_train.prior_out_of_fold(vectors, labels)
    in_sample = answerable_train.fit_prior(vectors, labels)
    assert oof.shape == (60,) and ((oof > 0) & (oof < 1)).all()
    assert oof[7] < in_sample.probability(vectors[7])


def test_without_its_prior_the_model_declines_fewer_unanswerable(idx: kb_index.KbIndex) -> None:
    """Ablation (the prior's feature at its neutral 0.5): measured 0.922 against 0.891 of
    kb_unanswerable declined."""
    from dataclasses import replace

    model = idx.answerability
    assert model is not None
    questions = load_questions(DATA / "kb_unanswerable.jsonl")
    with_prior = evaluate(questions, index=idx).summary()["declined"]
    idx.answerability = replace(model, prior=None)
    try:
        without = evaluate(questions, index=idx).summary()["declined"]
    finally:
        idx.answerability = model
    assert with_prior >= without + 0.02, (with_prior, without)
