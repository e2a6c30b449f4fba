"""Text normalization shared by the Rasa pipeline (Python 3.10) and the app (Python 3.11).

Only the standard library and ``opencc`` are imported here, so the Rasa environment can
import this module without the rest of ``hotline``.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache

import opencc

_SPACE_RE = re.compile(r"\s+")
# Characters whose NFKC form we do not want (they change meaning or look odd in Chinese text).
_KEEP = {"～", "…", "·", "—"}


@lru_cache(maxsize=4)
def _converter(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)


def to_simplified(text: str) -> str:
    return _converter("t2s").convert(text)


def to_traditional(text: str) -> str:
    return _converter("s2t").convert(text)


def is_traditional(text: str) -> bool:
    """True when the text holds characters that only the Traditional script writes so."""
    return bool(text) and to_simplified(text) != text


def _halfwidth_table() -> dict[int, str | None]:
    """Full-width ASCII letters, digits, some symbols and the ideographic space to half-width;
    CJK punctuation stays. Control characters (but tab and line feed) are dropped."""
    table: dict[int, str | None] = {0x3000: " "}
    for lo, hi in ((0xFF10, 0xFF19), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A)):
        table.update({code: chr(code - 0xFEE0) for code in range(lo, hi + 1)})
    table.update({ord(ch): chr(ord(ch) - 0xFEE0) for ch in "＋－＠＃％＆＿／．" if ch not in _KEEP})
    table.update({code: None for code in (*range(0x20), *range(0x7F, 0xA0)) if chr(code) not in "\n\t"})
    return table


_TABLE = _halfwidth_table()


def normalize(text: str | None) -> str:
    """Canonical form of an enterprise's message for understanding and search.

    HTML entities unescaped (``&#xff0c;`` ``&amp;`` ``&nbsp;``), Traditional → Simplified,
    full-width letters and digits → half-width, control characters dropped, whitespace
    collapsed. Idempotent.
    """
    if not text:
        return ""
    # Each step can make work for another ("&amp;amp;", "＆amp;" and "&\x00amp;" all become
    # "&amp;"), so they run until nothing changes: what comes out goes through unchanged.
    # Every unescape that changes the text shortens it, so the loop ends.
    s = text.translate(_TABLE)
    while "&" in s:
        unescaped = html.unescape(s).translate(_TABLE)
        if unescaped == s:
            break
        s = unescaped
    for _ in range(3):  # t2s is not idempotent everywhere: 薴 → 苧 → 苎
        simplified = to_simplified(s)
        if simplified == s:
            break
        s = simplified
    s = _SPACE_RE.sub(" ", s.replace("\xa0", " ")).strip()
    return s


def in_script_of(reply: str, user_text: str) -> str:
    """Render a (Simplified) reply in the script the enterprise wrote in."""
    return to_traditional(reply) if is_traditional(user_text) else reply


def script_of(text: str) -> str | None:
    """``"t"`` or ``"s"`` when the text is written in words of one script; None when it tells
    nothing (digits, a code, a phone number, Latin letters, or characters both scripts share),
    so that an identifier typed into a form does not switch the replies' script."""
    if not text:
        return None
    if is_traditional(text):
        return "t"
    if to_traditional(text) != text:
        return "s"
    return None
