"""Reading letters by content, and recognising inputs without words (pure functions shared by
the Rasa pipeline and the form)."""

from __future__ import annotations

import pytest

from hotline import letters
from hotline.message_shape import Shape, shape


@pytest.mark.parametrize(
    ("text", "body"),
    [
        ("尊敬的王局长：您好！我是K3县X镇的个体户，开饭店办食品经营许可证跑了五趟还没办下来，请领导过问。此致敬礼！",
         "开饭店办食品经营许可证跑了五趟还没办下来，请领导过问"),
        ("领导您好，我们公司银行贷款被突然抽贷三百万，资金链马上要断了，请帮帮我们。谢谢！盼复。",
         "我们公司银行贷款被突然抽贷三百万，资金链马上要断了，请帮帮我们"),
        ("市长你好！厂房土地证办了两年还没下来，恳请有关部门核查。一位企业主敬上 2026年3月5日",
         "厂房土地证办了两年还没下来，恳请有关部门核查"),
    ],
)
def test_the_frame_of_a_letter_is_stripped(text: str, body: str) -> None:
    assert letters.strip_frame(text) == body


@pytest.mark.parametrize("text", ["您好，谢谢", "在吗", "谢谢！", "您好"])
def test_all_courtesy_stays_as_it_is(text: str) -> None:
    assert letters.strip_frame(text) == text


def test_sentences_mark_the_request() -> None:
    parts = letters.sentences("我们是做五金的。银行突然抽贷了！请帮忙协调续贷。")
    assert [(p.text, p.request) for p in parts] == [
        ("我们是做五金的。", False), ("银行突然抽贷了！", False), ("请帮忙协调续贷。", True)]
    assert [p.text for p in letters.sentences("好。嗯。土地证一直没有办下来")] == [
        "好。嗯。土地证一直没有办下来"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12345", Shape.NUMBER), ("138 0013 8000", Shape.NUMBER), ("T20261122-0042", Shape.NUMBER),
        ("91440300MA5FHX7K1T", Shape.NUMBER), ("null", Shape.JUNK), ("NULL", Shape.JUNK),
        ("{", Shape.JUNK), ("}}", Shape.JUNK), ("[]", Shape.JUNK), ("😡😡", Shape.JUNK),
        ("<script>alert('转人工')</script>", Shape.JUNK), ("<div></div>", Shape.JUNK),
        ("。。。", Shape.JUNK), ("？", Shape.JUNK), ("", Shape.JUNK), ("alert(1)", Shape.JUNK),
        ("👍", Shape.THUMBS_UP), ("👍🏻", Shape.THUMBS_UP), ("👌", Shape.THUMBS_UP),
        ("转人工", Shape.WORDS), ("<b>施工许可</b>三个月没批", Shape.WORDS), ("ok", Shape.WORDS),
        ("how to register a company", Shape.WORDS), ("陳先生", Shape.WORDS),
    ],
)
def test_shape_of_a_message(text: str, expected: Shape) -> None:
    assert shape(text) is expected
