"""Named subjects the whole corpus lacks (hotline/kb/absent.py) and the dense model's say
in the answer-or-decline rule (hotline/kb/decide.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from hotline.kb import decide
from hotline.kb import index as kb_index
from hotline.kb.absent import absent_terms, candidates, quoted_names, unpaired
from hotline.kb.decide_words import used_by_corpus
from hotline.kb.search import rank as search_rank
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


def test_a_quoted_name_the_corpus_lacks_is_absent(idx: kb_index.KbIndex) -> None:
    corpus = idx.presence_text
    assert quoted_names("企业申请“守合同重信用”公示有什么条件", corpus) == ("守合同重信用",)
    assert quoted_names("商业银行的「科技贷」和「人才贷」有什么区别", corpus)
    # a name the knowledge base holds is no absent subject
    assert quoted_names("“专精特新”企业有什么扶持", corpus) == ()
    assert quoted_names("“免申即享”怎么用", corpus) == ()
    # quoted words written or said are a clause, not a programme's name
    assert quoted_names("跟工人签了“出事故自负”的协议，有效吗", corpus) == ()
    assert quoted_names("对方合同里写“一切解释权归甲方”，这种条款有效吗", corpus) == ()
    assert quoted_names("说明书上印着“终身保修”的字样，算不算承诺", corpus) == ()
    # no closing mark, or a whole sentence inside: nothing
    assert quoted_names("他说“我们明天再来谈这件事情吧，好不好”", corpus) == ()
    assert quoted_names("“粤商通", corpus) == ()


def test_a_quoted_programme_the_corpus_lacks_is_declined(idx: kb_index.KbIndex) -> None:
    """Word by word 合同, 信用, 公示, 条件 are covered by 企业环境信用公示; the programme is
    not in the knowledge base."""
    result = search("企业申请“守合同重信用”公示有什么条件", index=idx)
    assert not result.confident and result.reason == "subject not in knowledge base"
    assert search("跟工人签了“出事故自负”的协议，有效吗", index=idx).confident


@pytest.mark.parametrize(
    ("question", "pair"),
    [
        ("开书店要办出版物经营许可证吗", "出版物+许可证"),  # 出版物 only in other contexts
        ("瓶装燃气经营许可证怎么申请", "燃气+许可证"),
        ("买工业机器人有购置补贴吗", "机器人+补贴"),
    ],
)
def test_a_subject_no_entry_names_with_its_kind_is_unpaired(
        idx: kb_index.KbIndex, question: str, pair: str) -> None:
    ranked = search_rank(idx, question)
    assert unpaired(question, ranked.words, idx.entry_cache.haystacks,
                    idx.entry_cache.containing) == (pair,)
    assert not search(question, k=3, index=idx).confident


@pytest.mark.parametrize(
    "question", ["实验动物生产许可证怎么申请", "融资担保公司的设立要不要许可", "食品经营许可证怎么办",
                 "高新技术企业认定有什么条件"]
)
def test_a_subject_an_entry_names_with_its_kind_is_paired(idx: kb_index.KbIndex,
                                                           question: str) -> None:
    ranked = search_rank(idx, question)
    assert unpaired(question, ranked.words, idx.entry_cache.haystacks,
                    idx.entry_cache.containing) == ()


def test_the_entries_containing_a_word_are_those_a_scan_finds(idx: kb_index.KbIndex) -> None:
    """:meth:`EntryCache.containing` searches all haystacks joined: it finds a word in the
    first and the last entry, never across two, and each entry once however often."""
    hays = idx.entry_cache.haystacks
    first, last = hays[0][:4], hays[-1][-4:]
    across = hays[0][-2:] + hays[1][:2]  # the end of one entry and the start of the next
    for word in ("许可证", "出版物", "保理", first, last, across, "一个语料里没有的词组合"):
        assert list(idx.entry_cache.containing(word)) == [
            i for i, hay in enumerate(hays) if word in hay], word
    assert list(idx.entry_cache.containing("")) == []


def test_a_word_straddling_two_corpus_words_is_not_used(idx: kb_index.KbIndex) -> None:
    text, tok = idx.corpus_text, idx.tokenizer

    def used(word: str) -> bool:
        return used_by_corpus(word, text, tok, tok.general_frequency(word))

    # 参保单位 (参保 + 单位) holds 保单, 经营地 (经营 + 地) holds 营地: neither is a word there
    assert "保单" in text and not used("保单")
    assert "营地" in text and not used("营地")
    assert used("养老金")  # inside 基本养老金
    # a word jieba only guessed keeps the plain text test (its segmentation is unreliable)
    assert tok.general_frequency("新签") == 0 and used("新签")
    assert not used("区块链")  # nowhere at all


def test_a_subject_the_corpus_only_straddles_is_declined(idx: kb_index.KbIndex) -> None:
    result = search("我们在郊区搞了个露营地，营地经营要办什么证", index=idx)
    assert not result.confident
    words = {w.text: w for w in search_rank(idx, "露营地的营地经营要办什么证").words}
    assert words["营地"].foreign
    # the words it straddles still answer as before
    assert search("企业职工基本养老金怎么申领", index=idx).confident
