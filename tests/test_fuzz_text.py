"""Fuzzing the text an enterprise types: normalisation, script, shape, letters, company names.

Whatever a chat sends (any Unicode, control characters, entities, full-width forms,
Traditional characters, huge pastes), these functions answer and never raise; the
normaliser's promises (idempotent, never longer, Simplified, one space) hold for all of it.
"""

from __future__ import annotations

import re
import time

from hypothesis import example, given
from hypothesis import strategies as st

from hotline.company_names import registered_name
from hotline.letters import sentences, strip_frame
from hotline.message_shape import Shape, shape
from hotline.textnorm import (
    in_script_of,
    is_traditional,
    normalize,
    script_of,
    to_simplified,
    to_traditional,
)
from tests.fuzz_helpers import any_text, fuzz, fuzz_report, ran  # noqa: F401

cjk = st.text(st.characters(min_codepoint=0x3400, max_codepoint=0x9FFF), max_size=30)
HUGE = ["&" + "amp;" * 5000, "發" * 50_000, "\x00" * 20_000, "\u3000 \n" * 10_000,
        "＆＃" * 10_000, "a" * 20_000 + "{"]


def _bounded(seconds: float, call, *args):  # type: ignore[no-untyped-def]
    started = time.monotonic()
    result = call(*args)
    elapsed = time.monotonic() - started
    assert elapsed < seconds, f"{call.__name__} took {elapsed:.1f} s on {len(args[0])} chars"
    return result


# --- normalize -----------------------------------------------------------------------------


@fuzz(400)
@given(any_text)
# Regressions: each gave "&amp;" (or "&#65") that a second call read again, and t2s of 薴 is
# 苧, whose t2s is 苎.
@example("&amp;amp;amp;")
@example("&\x00amp;")
@example("＆amp;")
@example("＆＃６５")
@example("薴")
@example("&\u3000")
@example("")
def test_normalize_is_idempotent_and_never_grows(text: str) -> None:
    ran("normalize: idempotent, bounded, canonical")
    once = normalize(text)
    assert isinstance(once, str)
    assert normalize(once) == once
    assert len(once) <= len(text)
    assert once == once.strip()
    assert "  " not in once and all(ch == " " for ch in once if ch.isspace())
    assert not any(0xFF10 <= ord(ch) <= 0xFF5A and ch.isalnum() for ch in once)  # full-width
    assert not re.search(r"[\x00-\x1f\x7f-\x9f]", once)
    assert to_simplified(once) == once


@fuzz(len(HUGE))
@given(st.sampled_from(HUGE))
def test_normalize_of_huge_pastes_is_quick(text: str) -> None:
    ran("normalize: huge inputs")
    once = _bounded(5.0, normalize, text)
    assert normalize(once) == once


@fuzz(200)
@given(any_text)
def test_script_conversion_never_raises_and_keeps_length(text: str) -> None:
    ran("script: t2s/s2t length, script_of")
    # Replies are converted character for character (the console shows both scripts aligned).
    assert len(to_simplified(text)) == len(text)
    assert len(to_traditional(text)) == len(text)
    assert script_of(text) in (None, "s", "t")
    assert (script_of(text) == "t") == is_traditional(text)
    assert in_script_of("请问您的企业名称", text) in ("请问您的企业名称", "請問您的企業名稱")


@fuzz(200)
@given(cjk)
def test_traditional_writers_are_recognised(text: str) -> None:
    ran("script: Traditional recognised")
    traditional = to_traditional(text)
    assert len(traditional) == len(text)
    if traditional != to_simplified(traditional):
        assert script_of(traditional) == "t"


# --- shape, letters, names -----------------------------------------------------------------


@fuzz(250)
@given(any_text)
@example("a" * 2000 + "{")
def test_shape_is_total_and_reads_normalised_text(text: str) -> None:
    ran("shape: total, normalisation-invariant")
    kind = shape(text)
    assert isinstance(kind, Shape)
    assert shape(normalize(text)) is kind


@fuzz(100)
@given(st.text("0123456789", min_size=1, max_size=30), st.sampled_from(["", " ", "-", "（）"]))
def test_digits_are_numbers(digits: str, around: str) -> None:
    ran("shape: digits are NUMBER")
    assert shape(around[:1] + digits + around[1:]) is Shape.NUMBER


CLOSINGS = ["谢谢", "感谢", "您", "你", "辛苦了", "你们辛苦了", "领导", "了", "此致", "敬礼",
            "盼复", "祝好", " ", "  ", "，", "。", "！", "～", "\n", "x", "2026年5月", "敬上"]
letter = st.tuples(
    st.sampled_from(["", "尊敬的领导：您好！", "您好，我是深圳一家企业的负责人，"]),
    st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x4E80), max_size=80),
    st.lists(st.sampled_from(CLOSINGS), max_size=60).map("".join),
).map("".join)


@fuzz(200)
@given(letter | any_text)
# Regression: exponential backtracking in the closing pattern took minutes on these.
@example("您好，" + "x" * 40 + "谢谢" + "   谢谢" * 30 + "x")
@example("谢谢你辛苦了" * 300 + "x")
def test_letters_never_lose_the_message_and_are_quick(text: str) -> None:
    ran("letters: strip_frame/sentences")
    body = _bounded(2.0, strip_frame, text)
    if text.strip():
        assert body and len(body) <= len(text.strip())
    parts = sentences(body)
    assert all(p.text for p in parts)
    lead = len(re.match(r"[。！？!?；;\n]*", body).group(0))  # type: ignore[union-attr]
    assert re.sub(r"\s", "", "".join(p.text for p in parts)) == re.sub(r"\s", "", body[lead:])


@fuzz(200)
@given(any_text | st.sampled_from(["我们是深圳市华兴精密制造有限公司", "公司名称：东莞市长安镇某某五金厂",
                                   "叫叫深圳市某某有限公司", "我们厂的环评批复一直下不来"]))
def test_registered_name_is_part_of_the_answer(answer: str) -> None:
    ran("company_names: registered_name")
    name = registered_name(answer)
    assert name in answer


def test_shape_is_linear_on_long_code_like_input() -> None:
    """Found by the fuzzing above: ``\\w+\\(`` and the three-words pattern backtracked
    quadratically (2.1 s on 20,000 characters); the linear forms give the same shapes."""
    from hotline.message_shape import Shape, shape

    started = time.perf_counter()
    assert shape("a" * 100_000 + "{") is Shape.JUNK  # about a minute with the old patterns
    assert shape("ab " * 30_000 + "{") is Shape.WORDS
    assert shape("print(x)") is Shape.JUNK
    assert time.perf_counter() - started < 10.0  # a 100-fold margin on a shared machine
