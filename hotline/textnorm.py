"""Text normalization shared by the Rasa pipeline (Python 3.10) and the app (Python 3.11).

Only the standard library and ``opencc`` are imported here, so the Rasa environment can
import this module without the rest of ``hotline``.
"""

from __future__ import annotations

import html
import re
import unicodedata
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


def _halfwidth(text: str) -> str:
    """Full-width ASCII letters, digits and spaces to half-width; CJK punctuation stays."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch == "\u3000":
            out.append(" ")
        elif 0xFF10 <= code <= 0xFF19 or 0xFF21 <= code <= 0xFF3A or 0xFF41 <= code <= 0xFF5A:
            out.append(chr(code - 0xFEE0))
        elif ch in "＋－＠＃％＆＿／．" and ch not in _KEEP:
            out.append(chr(code - 0xFEE0))
        else:
            out.append(ch)
    return "".join(out)


def normalize(text: str | None) -> str:
    """Canonical form of an enterprise's message for understanding and search.

    HTML entities unescaped (``&#xff0c;`` ``&amp;`` ``&nbsp;``), Traditional → Simplified,
    full-width letters and digits → half-width, control characters dropped, whitespace
    collapsed. Idempotent.
    """
    if not text:
        return ""
    s = text
    for _ in range(2):  # double-escaped input such as "&amp;nbsp;"
        unescaped = html.unescape(s)
        if unescaped == s:
            break
        s = unescaped
    s = "".join(ch for ch in s if unicodedata.category(ch) != "Cc" or ch in "\n\t ")
    s = _halfwidth(s)
    s = to_simplified(s)
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
