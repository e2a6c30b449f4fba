"""Named subjects the whole knowledge base never mentions.

A question about a programme the corpus lacks often names it by two ordinary words that
the corpus does use, each on its own: 域名 + 备案, 设计 + 中心, 冠军 + 申报. Word by word
the top entry covers it; the *compound* occurs nowhere. :func:`absent_terms` finds, in
the clauses that ask, two adjacent noun-like words that end in the kind of thing asked
for (:data:`~hotline.kb.decide_words.SUBJECT_HEAD_RE`: 备案, 中心, 补贴 …) and that no
entry's text, name, glosses or keywords — nor any synonym rule — contains.

Measured on the training files (kb/training/), among questions otherwise answered: such a
compound is in 11 unanswerable questions of 365 and 9 answerable of 1,101; with the top
entry's dense cosine below :data:`hotline.kb.decide.ABSENT_TERM_COSINE` (0.45) in 6 and 0.
Spans not ending in a head (any two adjacent nouns: 外国员工, 银行融资) were in 37
unanswerable and 137 answerable ones; jieba dictionary words absent from the corpus (网约车,
证券化) in 11 and 44 — both dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from hotline.kb.decide_words import (
    GENERIC_SUBJECT_WORDS,
    NOUNISH,
    SUBJECT_HEAD_RE,
    Word,
    asking_spans,
)

#: A compound's length in characters (shorter ones are words jieba already judged).
MIN_CHARS = 3
MAX_CHARS = 6
_CJK_RE = re.compile(r"^[\u4e00-\u9fff]+$")
_ENDS_IN_HEAD_RE = re.compile(f"(?:{SUBJECT_HEAD_RE.pattern})$")


def candidates(text: str, tagged: Sequence[tuple[str, str, int, int]]) -> list[str]:
    """Two adjacent noun-like words of a clause that asks, joined, ending in a head."""
    out: list[str] = []
    for a, b in asking_spans(text):
        words = [t for t in tagged if a <= t[2] < b]
        for (w1, f1, _s1, e1), (w2, f2, s2, _e2) in zip(words, words[1:]):
            if f1 not in NOUNISH or f2 not in NOUNISH or e1 != s2:
                continue
            term = w1 + w2
            if (MIN_CHARS <= len(term) <= MAX_CHARS and _CJK_RE.match(term)
                    and _ENDS_IN_HEAD_RE.search(term)):
                out.append(term)
    return list(dict.fromkeys(out))


#: A name in quotation marks (“粤贸全球”, 「科技贷」): 2–12 characters, no clause inside.
_QUOTED_RE = re.compile(r"[“「『\"]([^”」』\"，。？！,?!；;]{2,12})[”」』\"]")
#: … unless it quotes words written or said (合同里写“一切解释权归甲方”, 签了“出事故自负”的
#: 协议): a clause, not the name of a programme.
_SAID_BEFORE_RE = re.compile(r"(写|写着|写了|签|签了|说|说了|注明|约定|标明|标着|印着|承诺)$")
_SAID_AFTER_RE = re.compile(r"^的?(协议|条款|字样|合同|内容|话|说法|承诺|约定)")


def quoted_names(text: str, corpus: str) -> tuple[str, ...]:
    """Names the question puts in quotation marks that ``corpus`` never mentions: asking
    about “守合同重信用” or “粤贸全球” names a programme; if the knowledge base has no word of
    it, the entries that share its ordinary words (合同, 信用) are about something else."""
    out: list[str] = []
    for m in _QUOTED_RE.finditer(text):
        name = m.group(1).strip().lower()
        if (len(name) < 2 or _SAID_BEFORE_RE.search(text[max(0, m.start() - 3):m.start()])
                or _SAID_AFTER_RE.match(text[m.end():m.end() + 4])):
            continue
        if name not in corpus:
            out.append(name)
    return tuple(dict.fromkeys(out))


def absent_terms(text: str, tagged: Sequence[tuple[str, str, int, int]],
                 corpus: str) -> tuple[str, ...]:
    """The :func:`candidates` that ``corpus`` (all the knowledge base says) lacks."""
    return tuple(t for t in candidates(text, tagged) if t not in corpus)


#: The rarest noun asked about must be at least this rare (IDF) to judge by it: common
#: nouns (企业, 产品) meet every kind of head somewhere.
UNPAIRED_IDF = 5.0


def unpaired(text: str, words: Sequence[Word], haystacks: Sequence[str],
             containing: Callable[[str], Iterable[int]]) -> tuple[str, ...]:
    """The kind of thing asked for (备案, 许可证, 补贴 … in a clause that asks) and the
    rarest noun asked about, when no single entry names both: 出版物 + 许可证, 燃气 + 许可证,
    机器人 + 补贴. Each word is known somewhere in the corpus, so the top entry may cover
    them one by one; an entry *about* that subject would name both. Measured on all
    answerable questions of kb/training and tests/data (572): found in 1, already declined;
    on the unanswerable ones: 8 of 64 held-out, 29 of the 178 newest training questions.
    Returns ``"noun+head"`` (or nothing). ``containing(word)``: the indices of the
    haystacks holding ``word`` (:meth:`hotline.kb.rerank.EntryCache.containing`), so that
    only those are tested for a head."""
    heads = {m.group(0) for a, b in asking_spans(text) for m in SUBJECT_HEAD_RE.finditer(text[a:b])}
    if not heads:
        return ()
    nouns = [w for w in words if w.asked and w.nounish and w.known and w.text not in heads
             and w.text not in GENERIC_SUBJECT_WORDS and not SUBJECT_HEAD_RE.fullmatch(w.text)]
    if not nouns:
        return ()
    rare = max(nouns, key=lambda w: w.idf)
    if rare.idf < UNPAIRED_IDF:
        return ()
    forms = [rare.text, *(a.lower() for a in rare.alternatives)]
    holding = (haystacks[i] for f in dict.fromkeys(forms) for i in containing(f))
    if any(h in hay for hay in holding for h in heads):
        return ()
    return (f"{rare.text}+{'/'.join(sorted(heads))}",)
