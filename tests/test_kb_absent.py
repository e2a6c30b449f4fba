"""Named subjects the whole corpus lacks (hotline/kb/absent.py) and the dense model's say
in the answer-or-decline rule (hotline/kb/decide.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from hotline.kb import decide
from hotline.kb import index as kb_index
from hotline.kb.absent import absent_terms, candidates
from hotline.kb.search import search

KB = Path(__file__).resolve().parents[1] / "kb"


@pytest.fixture(scope="module")
def idx(tmp_path_factory: pytest.TempPathFactory) -> kb_index.KbIndex:
    return kb_index.load(kb=KB, out_root=tmp_path_factory.mktemp("kb_absent_index"))


def test_a_compound_ending_in_a_head_is_a_candidate(idx: kb_index.KbIndex) -> None:
    text = "网站域名备案要多久能下来"
    assert "域名备案" in candidates(text, idx.tokenizer.tagged(text))
    # background clauses name no subject; a plain pair of nouns is no programme
    text = "我们是做网站域名备案的，想问员工社保怎么交"
    assert "域名备案" not in candidates(text, idx.tokenizer.tagged(text))


def test_absent_terms_are_those_no_entry_or_synonym_says(idx: kb_index.KbIndex) -> None:
    text = "网站域名备案要多久能下来"
    assert absent_terms(text, idx.tokenizer.tagged(text), idx.presence_text) == ("域名备案",)
    text = "食品经营许可证怎么办"
    assert absent_terms(text, idx.tokenizer.tagged(text), idx.presence_text) == ()


def test_an_absent_subject_compound_is_declined_end_to_end(idx: kb_index.KbIndex) -> None:
    for q in ("網站域名備案要多久能下來", "工业设计中心认定有没有奖励"):
        result = search(q, index=idx)
        assert not result.confident, (q, result.reason)


def _features(**kw: object) -> decide.Features:
    base = decide.Features(score=30.0, coverage=0.6, rest_coverage=0.6, missing=(),
                           key_missing=(), foreign=(), asks_figure=False, has_figure=False)
    return dataclasses.replace(base, **kw)


def test_dense_rescue_and_absent_compound_rules() -> None:
    low = _features(coverage=0.1)
    assert decide.rule(low) == (False, "low coverage")
    assert decide.rule(dataclasses.replace(low, cosine=decide.DENSE_RESCUE)) == (
        True, "near in meaning")
    # a figure missing from the source is not a coverage matter: no rescue
    figure = _features(asks_figure=True, cosine=0.95)
    assert decide.rule(figure) == (False, "figure not in source")
    absent = _features(absent=("域名备案",), cosine=decide.ABSENT_TERM_COSINE - 0.01)
    assert decide.rule(absent) == (False, "subject not in knowledge base")
    assert decide.rule(dataclasses.replace(absent, cosine=decide.ABSENT_TERM_COSINE))[0]
    assert decide.rule(dataclasses.replace(absent, cosine=None))[0]  # no dense model
