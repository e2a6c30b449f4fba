"""Homophone slips of phone input are read as the corpus word they sound like — and real
words the corpus lacks are left alone."""

from __future__ import annotations

import pytest

from hotline.kb import index as kb_index
from hotline.kb import typos
from hotline.kb.search import search


@pytest.fixture(scope="module")
def idx() -> kb_index.KbIndex:
    return kb_index.get_index()


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("营业执造丢了怎么补办", "营业执照丢了怎么补办"),  # z for zh
        ("创业担保代款怎么申请", "创业担保贷款怎么申请"),
        ("食品经营许可怎么伸请", "食品经营许可怎么申请"),
        ("这个损失谁负则", "这个损失谁负责"),
        ("员工工伤了公司要补尝吗", "员工工伤了公司要补偿吗"),
        ("社宝断缴了能补吗", "社保断缴了能补吗"),
    ],
)
def test_slips_are_read_as_the_word_meant(idx: kb_index.KbIndex, typed: str, meant: str) -> None:
    assert typos.correct(typed, idx.tokenizer, idx.homophones) == meant


@pytest.mark.parametrize(
    "text",
    [
        "在乡下开民宿要办哪些证",  # 民宿 is a real word (sounds like 民俗)
        "我想和真人客服通话",  # 客服 (克服)
        "我们是做五金的小厂",  # 小厂 (小肠)
        "碳汇交易怎么做",  # a subject the corpus lacks: the bot must be able to decline it
        "老板卷款跑了工资谁来付",  # 卷款 is no slip for the rare 捐款
        "劳动合同到期不续前要赔钱吗",  # 不续 shares only 不 with 不许
        "",
    ],
)
def test_real_words_stay(idx: kb_index.KbIndex, text: str) -> None:
    assert typos.correct(text, idx.tokenizer, idx.homophones) == text


def test_fuzzy_sounds_merge_what_people_confuse() -> None:
    assert typos.fuzzy("zhao") == typos.fuzzy("zao") == "zao"
    assert typos.fuzzy("ling") == typos.fuzzy("nin") == "nin"
    assert typos.sound("执照") == typos.sound("执造")


def test_search_answers_the_question_meant(idx: kb_index.KbIndex) -> None:
    typed = search("创业担保代款怎么申请", k=3, index=idx)
    meant = search("创业担保贷款怎么申请", k=3, index=idx)
    assert typed.normalized == "创业担保贷款怎么申请"
    assert typed.confident and typed.top is not None and meant.top is not None
    assert typed.top.entry.id == meant.top.entry.id
    assert "创业担保贷款" in typed.top.entry.title
