"""Chinese article numbers (第二十三条) ↔ integers.

Statutes write article numbers in Chinese numerals, people and evaluation files often
write "第23条"; converting both ways lets a citation match however it was typed.
"""

from __future__ import annotations

import re

_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_UNITS = {"十": 10, "百": 100, "千": 1000}
_ARTICLE_RE = re.compile(r"^\s*第\s*([0-9零〇一二两三四五六七八九十百千]+)\s*条\s*$")


def cn_to_int(text: str) -> int:
    """``"二十三"`` → 23, ``"一百零五"`` → 105, ``"十"`` → 10; ASCII digits pass through."""
    if text.isdigit():
        return int(text)
    total, current = 0, 0
    for ch in text:
        if ch in _DIGITS:
            current = _DIGITS[ch]
        elif ch in _UNITS:
            total += (current or 1) * _UNITS[ch]
            current = 0
        else:
            raise ValueError(f"not a Chinese numeral: {text!r}")
    return total + current


def int_to_cn(n: int) -> str:
    """23 → ``"二十三"``, 105 → ``"一百零五"``, 10 → ``"十"`` (the statutes' style)."""
    if not 0 < n < 10000:
        raise ValueError(f"article number out of range: {n}")
    digits = "零一二三四五六七八九"
    parts: list[str] = []
    zero = False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d, n = divmod(n, value)
        if d:
            if zero:
                parts.append("零")
                zero = False
            parts.append(digits[d] + unit)
        elif parts:
            zero = True
    text = "".join(parts)
    return text[1:] if text.startswith("一十") else text


def canonical_article(text: str | None) -> str | None:
    """``"第23条"`` / ``"第 二十三 条"`` → ``"第二十三条"``; None and unparsable stay as given."""
    if text is None:
        return None
    m = _ARTICLE_RE.match(text)
    if not m:
        return text.strip()
    try:
        return f"第{int_to_cn(cn_to_int(m.group(1)))}条"
    except ValueError:
        return text.strip()
