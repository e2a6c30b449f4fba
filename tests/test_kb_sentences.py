"""The pretrained sentence encoder (hotline.kb.sentences): real weights from the installed
package, vectors cached by text, and what its features buy the ranking."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hotline.kb import index as kb_index
from hotline.kb import sentences
from hotline.kb.evaluate import load_questions
from hotline.kb.models import Entry
from hotline.kb.search import search
from tests.kb_helpers import with_and_without

DATA = Path(__file__).parent / "data"
KB = Path(__file__).resolve().parents[1] / "kb"


@pytest.fixture(scope="module")
def idx(tmp_path_factory: pytest.TempPathFactory) -> kb_index.KbIndex:
    return kb_index.load(kb=KB, out_root=tmp_path_factory.mktemp("kb_sentences_index"))


def test_vectors_are_unit_length_and_an_empty_text_gives_zeros() -> None:
    v = sentences.encode(["创业担保贷款能贷多少", "", "   "])
    assert v.shape == (3, sentences.DIMS) and v.dtype == np.float32
    assert abs(float(np.linalg.norm(v[0])) - 1.0) < 1e-3
    assert not v[1].any() and not v[2].any()


def test_a_paraphrase_is_nearer_than_another_subject() -> None:
    q, same, other = sentences.encode([
        "卖自己养的鸡要交增值税吗",
        "农业生产者销售的自产农产品免征增值税",
        "招用未满十六周岁的未成年人",
    ])
    assert float(q @ same) > float(q @ other) + 0.1


def test_a_traditional_question_is_encoded_as_simplified(idx: kb_index.KbIndex) -> None:
    """The encoder puts the two scripts of one question apart (cosine 0.79), so the search
    encodes the question after clean_query has made it Simplified: both rank alike."""
    simplified = search("高新技术企业认定需要满足哪些条件", index=idx)
    traditional = search("高新技術企業認定需要滿足哪些條件", index=idx)
    assert [h.entry.id for h in traditional.hits] == [h.entry.id for h in simplified.hits]


def _entry(i: int, title: str, text: str) -> Entry:
    return Entry(id=f"curated:{i}", source="curated", topic="tax", title=title, summary=text)


def test_the_cache_encodes_each_text_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[int] = []
    real = sentences.encode

    def counting(texts: list[str]) -> np.ndarray:
        calls.append(len(texts))
        return real(texts)

    monkeypatch.setattr(sentences, "encode", counting)
    entries = [_entry(1, "留抵退税", "增量留抵税额退还"), _entry(2, "出口退税", "出口货物退（免）税")]
    groups = [("留抵退税怎么申请",), ()]
    first = sentences.fit(entries, groups, sentences.VectorCache(tmp_path))
    assert calls == [3]
    again = sentences.fit(entries, groups, sentences.VectorCache(tmp_path))  # read from disk
    assert calls == [3]
    assert np.allclose(first.texts, again.texts, atol=1e-2)
    more = sentences.fit([*entries, _entry(3, "稳岗返还", "失业保险稳岗返还")], [*groups, ()],
                         sentences.VectorCache(tmp_path))
    assert calls == [3, 1] and more.texts.shape == (3, sentences.DIMS)


def test_an_unwritable_cache_still_gives_vectors(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    cache = sentences.VectorCache(blocked / "sub")
    assert cache.vectors(["社保补贴"]).shape == (1, sentences.DIMS)


def test_similar_matches_a_plain_computation(tmp_path: Path) -> None:
    entries = [_entry(i, t, s) for i, (t, s) in enumerate(
        [("留抵退税", "增量留抵税额退还"), ("出口退税", "出口货物退（免）税"), ("稳岗返还", "失业保险")])]
    groups = [("留抵退税怎么申请", "进项大于销项退税"), (), ("稳岗补贴",)]
    vecs = sentences.fit(entries, groups, sentences.VectorCache(tmp_path))
    q = sentences.encode_question("进项税比销项多，能退吗")
    cands = np.array([2, 0, 1])
    text, phrase = vecs.similar(q, cands)
    assert np.allclose(text, [vecs.texts[i] @ q for i in cands], atol=1e-5)
    expected = [max(float(p @ q) for p in sentences.encode(list(groups[i]))) if groups[i] else 0.0
                for i in cands]
    assert np.allclose(phrase, expected, atol=2e-3)


def test_the_index_holds_a_vector_for_every_entry(idx: kb_index.KbIndex) -> None:
    assert idx.sentences is not None
    assert idx.sentences.texts.shape == (len(idx.entries), sentences.DIMS)
    assert idx.sentences.starts[-1] == len(idx.sentences.phrases)


def test_sentence_features_lift_the_statute_questions(idx: kb_index.KbIndex) -> None:
    """Ablation: the same reranker with the encoder's four features at zero."""
    with_vectors, without = with_and_without(
        idx, "sentences", load_questions(DATA / "kb_questions_statutes.jsonl"))
    # measured cited hit@1 / hit@3 0.682 / 0.849 against 0.598 / 0.782, declined 0.084 against
    # 0.168
    assert with_vectors["cited_hit_at_3"] >= without["cited_hit_at_3"] + 0.03, (with_vectors,
                                                                                without)
