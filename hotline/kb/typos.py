"""Homophone slips of phone input, read as the corpus word they sound like.

Pinyin keyboards offer characters by sound, and a hurried clerk picks the wrong one: 社宝
for 社保, 创业担保代款 for 贷款, 营业执造 for 执照 (z for zh, as many southern speakers type),
注消 for 注销. The slip is a word nobody uses, so the search finds nothing for it and the
answer check may even take it for a subject the knowledge base lacks.

A question word is read as a corpus word when

- neither the corpus nor jieba's general dictionary knows it: a real word the corpus lacks
  (碳汇, 民宿, 客服, 小厂) stays as it is — it may be exactly the subject the bot must decline;
- a corpus word of the same length sounds the same, toneless and with the usual fuzzy
  pairs merged (z/zh, c/ch, s/sh, n/l, an/ang, en/eng, in/ing), and is a common word of
  the corpus (IDF at most :data:`MAX_IDF`: 申请, 执照, 社保 — not 侦办 or 捐款, which a
  rare real word like 证办 or 卷款 only happens to sound like);
- the two differ in one character only, neither of the two differing characters nor
  everything they share is a function character (不续 is not 不许, 补报 not 不报);
- that corpus word is the only such one, or used far more than any other
  (:data:`DOMINANCE`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence

from pypinyin import lazy_pinyin

from hotline.kb.textproc import KbTokenizer

#: The rarest corpus word a slip is read as (IDF; 环评 5.5, 贷款 5.0, 申请 1.7).
MAX_IDF = 5.5
#: Among several corpus words that sound alike, the most used wins when its IDF is this much
#: lower than the next one's (about e times as many entries); otherwise nothing is changed.
DOMINANCE_IDF = 1.0
_CJK = re.compile(r"^[\u4e00-\u9fff]{2,4}$")
#: Negations, particles and other function characters: sharing only one of them makes no
#: two words alike (不续 is not 不许).
_FUNCTION = frozenset("不没别未无非的地得了着过吗呢吧啊呀是有在和与或及也都就还又很太最更再才要会能可把被给让从向对"
                      "想里上下中时只")
_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("l", "n"))
_FINALS = (("ang", "an"), ("eng", "en"), ("ing", "in"))


def fuzzy(syllable: str) -> str:
    """A toneless syllable with the pairs people confuse merged (zhao → zao, ling → nin)."""
    for a, b in _INITIALS:
        if syllable.startswith(a):
            syllable = b + syllable[len(a):]
            break
    for a, b in _FINALS:
        if syllable.endswith(a):
            syllable = syllable[: -len(a)] + b
            break
    return syllable


def sound(word: str) -> tuple[str, ...]:
    return tuple(fuzzy(s) for s in lazy_pinyin(word))


class Homophones:
    """The corpus's common words by sound (built once per index: about 0.2 s)."""

    def __init__(self, idf: Mapping[str, float]) -> None:
        self._idf = idf
        self._by_sound: dict[tuple[str, ...], set[str]] = defaultdict(set)
        for word, weight in idf.items():
            if weight <= MAX_IDF and _CJK.match(word):
                self._by_sound[sound(word)].add(word)

    def correction(self, word: str) -> str | None:
        """The corpus word ``word`` is a slip for, or None."""
        if not _CJK.match(word) or word in self._idf:
            return None
        near = []
        for other in self._by_sound.get(sound(word), ()):
            pairs = list(zip(word, other, strict=True))
            differ = [c for a, b in pairs if a != b for c in (a, b)]
            shared = [a for a, b in pairs if a == b]
            if (len(differ) == 2 and not any(c in _FUNCTION for c in differ)
                    and not all(c in _FUNCTION for c in shared)):
                near.append(other)
        if not near:
            return None
        near.sort(key=lambda w: (self._idf[w], w))  # the most used first: the lowest IDF
        if len(near) > 1 and self._idf[near[1]] - self._idf[near[0]] < DOMINANCE_IDF:
            return None
        return near[0]


def correct(text: str, tokenizer: KbTokenizer, homophones: Homophones,
            tagged: Sequence[tuple[str, str, int, int]] | None = None) -> str:
    """``text`` with its homophone slips replaced by the corpus words they stand for;
    ``tagged``: ``tokenizer.tagged(text)`` when the caller has it (tagging is the costliest
    step of a search, and an unchanged text is searched with the same tags)."""
    out, pos = [], 0
    for word, _flag, start, end in tokenizer.tagged(text) if tagged is None else tagged:
        if tokenizer.general_frequency(word) > 0:
            continue
        fixed = homophones.correction(word)
        if fixed is not None and text[start:end].lower() == word:
            out += [text[pos:start], fixed]
            pos = end
    return "".join(out) + text[pos:] if out else text
