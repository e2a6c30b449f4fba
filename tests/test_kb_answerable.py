"""The learned second opinion on declining (hotline.kb.answerable): trained on kb/training
only, stored as plain trees that reproduce sklearn's predictions, and it declines more of the
held-out unanswerable questions without declining more of the answerable ones than allowed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hotline.kb import answerable, answerable_train, question_prior
from hotline.kb import index as kb_index
from hotline.kb.evaluate import evaluate, load_questions
from hotline.kb.search import UNLIKE_ANSWERED, search
from tests.kb_helpers import with_and_without

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


def test_the_prior_computes_what_sklearn_computes() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    texts = ["留抵退税怎么申请", "今年的专精特新奖励申报开始了吗", "开饭馆要办什么证",
             "广东省首台套奖励今年还有吗", "社保补贴要什么材料", "数字人民币对公钱包怎么开通",
             "营业执照  丢了怎么补", "低空经济补贴怎么申报"]
    labels = [0, 1, 0, 1, 0, 1, 0, 1]
    prior = question_prior.fit(texts, labels)
    tfidf = TfidfVectorizer(analyzer=question_prior.grams, min_df=question_prior.MIN_DF,
                            sublinear_tf=True)
    model = LogisticRegression(C=question_prior.C, max_iter=5000)
    model.fit(tfidf.fit_transform(texts), labels)
    probe = [*texts, "完全没见过的句子", ""]
    expected = model.predict_proba(tfidf.transform(probe))[:, 1]
    assert np.allclose([prior.probability(t) for t in probe], expected, atol=1e-9)
    again = question_prior.QuestionPrior.from_json(json.loads(json.dumps(prior.to_json())))
    assert np.allclose([again.probability(t) for t in probe], expected, atol=1e-5)
    assert question_prior.grams("A  b") == ["a", " ", "b", "a ", " b", "a b"]


def test_a_broken_prior_is_refused() -> None:
    with pytest.raises(ValueError):
        question_prior.QuestionPrior.from_json(
            {"ngrams": [1, 3], "grams": ["a", "b"], "idf": [1.0], "weights": [0.1, 0.2],
             "bias": 0.0})
    with pytest.raises(ValueError):
        question_prior.QuestionPrior.from_json(
            {"ngrams": [1, 2], "grams": [], "idf": [], "weights": [], "bias": 0.0})


def test_the_stored_model_carries_its_prior(idx: kb_index.KbIndex) -> None:
    data = json.loads((KB / answerable.MODEL_FILE).read_text(encoding="utf-8"))
    assert len(data["prior"]["grams"]) == len(data["prior"]["weights"]) > 1000
    assert idx.answerability is not None and idx.answerability.prior is not None
    assert idx.answerability.question_prior("") == pytest.approx(
        1 / (1 + np.exp(-data["prior"]["bias"])))


def test_the_prior_alone_separates_the_held_out_sets(idx: kb_index.KbIndex) -> None:
    """Questions only, no entry looked at: measured AUC 0.98 between kb_questions and
    kb_unanswerable (0.946 out of fold on kb/training)."""
    from sklearn.metrics import roc_auc_score

    model = idx.answerability
    assert model is not None
    yes = load_questions(DATA / "kb_questions.jsonl")
    no = load_questions(DATA / "kb_unanswerable.jsonl")
    p = [model.question_prior(t) for t in answerable_train.search_texts(idx, [*yes, *no])]
    assert roc_auc_score([0] * len(yes) + [1] * len(no), p) >= 0.85


def test_out_of_fold_priors_come_from_models_without_the_question() -> None:
    """A question unlike all others gets no help from its own label: fitted on it, the
    prior would know its grams."""
    texts = [f"开饭馆要办什么证{i}" for i in range(20)] + [f"今年的奖励申报开始了吗{i}" for i in range(20)]
    labels = np.array([0] * 20 + [1] * 20)
    texts[5] = "今年的奖励申报开始了吗ZQXJ"  # worded like the unanswerable ones, labelled 0 …
    texts[6] = "今年的奖励申报开始了吗ZQXJ"  # … twice, so the grams ZQXJ are in the vocabulary
    oof = answerable_train.prior_out_of_fold(texts, labels)
    in_sample = question_prior.fit(texts, labels)
    assert oof.shape == (40,) and ((oof > 0) & (oof < 1)).all()
    assert oof[25] > 0.5 and oof[0] < 0.5
    assert oof[5] > in_sample.probability(texts[5])


def test_without_its_prior_the_model_declines_fewer_unanswerable(idx: kb_index.KbIndex) -> None:
    """Ablation (the prior's feature at its neutral 0.5): measured 0.969 against 0.906 of
    kb_unanswerable declined (0.797 by the rules alone); of kb_questions 0.027 against 0.134
    (0.027 by the rules alone: the model adds no false decline there)."""
    from dataclasses import replace

    model = idx.answerability
    assert model is not None
    with_prior, without = with_and_without(
        idx, "answerability", load_questions(DATA / "kb_unanswerable.jsonl"),
        replace(model, prior=None))
    assert with_prior["declined"] >= without["declined"] + 0.02, (with_prior, without)
