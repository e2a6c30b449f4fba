"""What a message is before what it means: words, a bare number, a thumbs-up, or junk.

A classifier trained on words gives every input a confident meaning, even ``{`` or ``null``
(measured: "12345" was read as goodbye, ``<script>`` as a request for a person). Inputs
without words are recognised here, by their shape, and never reach the classifier.
"""

from __future__ import annotations

import re
import unicodedata
from enum import Enum

from hotline.textnorm import normalize


class Shape(str, Enum):
    WORDS = "words"
    NUMBER = "number"  # digits or an identifier (ticket number, credit code): information
    THUMBS_UP = "thumbs_up"  # 👍 👌 ✅ and the like: yes, where a yes/no was asked
    JUNK = "junk"  # empty, punctuation, emoji, markup, code words like null


_SCRIPT = re.compile(r"<(script|style)\b.*?(?:</\1\s*>|$)", re.I | re.S)
_TAG = re.compile(r"<[^<>]*>")
_NUMBER = re.compile(r"[\d\s\-+()（）#*.]+")
_IDENTIFIER = re.compile(r"[Tt]\d{8}-\d{4}|[0-9A-Za-z]{18}")
_CODE_WORDS = {
    "null", "none", "nil", "undefined", "nan", "true", "false", "test", "asdf", "qwer",
    "aaa", "xxx", "N/A", "n/a", "[]", "{}",
}
_YES_EMOJI = set("👍👌✅✔☑🆗🙆👏") | {"👍🏻", "👍🏼", "👍🏽", "👍🏾", "👍🏿", "🙆‍♂️", "🙆‍♀️", "✔️", "☑️"}
_EMOJI_PARTS = {"\u200d", "\ufe0f", "\ufe0e"}


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


def shape(text: str | None) -> Shape:
    raw = normalize(text or "").strip()
    if not raw:
        return Shape.JUNK
    visible = _TAG.sub(" ", _SCRIPT.sub(" ", raw)).strip()
    if not visible:
        return Shape.JUNK
    if _NUMBER.fullmatch(visible) and any(ch.isdigit() for ch in visible):
        return Shape.NUMBER
    if _IDENTIFIER.fullmatch(visible) and sum(ch.isdigit() for ch in visible) >= 8:
        return Shape.NUMBER
    compact = "".join(ch for ch in visible if not ch.isspace() and ch not in _EMOJI_PARTS)
    if compact and all(ch in _YES_EMOJI or unicodedata.category(ch).startswith("Sk")
                       for ch in compact) and any(ch in _YES_EMOJI for ch in compact):
        return Shape.THUMBS_UP
    if any(_is_cjk(ch) for ch in visible):
        return Shape.WORDS
    if visible.strip(" .,;:!?'\"`") .lower() in {w.lower() for w in _CODE_WORDS}:
        return Shape.JUNK
    letters = re.findall(r"[A-Za-z]{2,}", visible)
    if not letters:
        return Shape.JUNK  # punctuation, brackets, emoji, symbols
    # Linear forms of "\w+\(" and of three words of 2+ letters (same matches, no backtracking
    # blow-up on long inputs; found by tests/test_fuzz_text.py).
    if re.search(r"[{}\[\]<>;=$]|\(\)|\w\(", visible) and not re.search(r"[A-Za-z]{2}\s+[A-Za-z]{2,}\s+[A-Za-z]{2}", visible):
        return Shape.JUNK  # code fragments: alert(1), {"a":1}, x=1;
    return Shape.WORDS
