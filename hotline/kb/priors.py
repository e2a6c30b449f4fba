"""Query-independent preferences among service items.

BM25 cannot tell "the thing you apply for" from its look-up page or its follow-up
variants: 新增取水许可 / 变更取水许可 / 延续取水许可 share every word that matters.
A business owner who asks how to get something done wants the service itself, and a
first application, unless the question says otherwise — so information-only items
(查询, 公示, 指引 …) and follow-up variants (变更, 延续, 注销 …) are mildly
down-weighted, and only when the question does not ask for them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

import numpy as np

from hotline.kb.models import Entry

INFO_ITEM_RE = re.compile(
    r"(查询|公示|下载|宣传|指引|公告|名录|目录|简报|公报|月报|周报|年报|发布|动态|数据)"
)
INFO_QUERY_RE = re.compile(r"(查|公示|下载|公证|名单|名录|目录|公告|数据|信息)")
INFO_ITEM_FACTOR = 0.8

VARIANT_RE = re.compile(
    r"(变更|延续|续期|延期|注销|换发|补发|补办|遗失|撤销|恢复|复查|重核|更正|减容|销户|再次)"
)
VARIANT_FACTOR = 0.85

#: Items whose catalogue entry serves citizens only (自然人), not enterprises: an enterprise
#: hotline prefers the service an enterprise applies for when both match.
CITIZEN_ONLY_FACTOR = 0.85


def _masks(entries: Sequence[Entry], pattern: re.Pattern[str]) -> np.ndarray:
    return np.array(
        [e.source == "gd_service_items" and pattern.search(e.title) is not None for e in entries],
        dtype=bool,
    )


class ItemPriors:
    """Per-entry masks computed once per index; :meth:`factors` applies them to a query."""

    def __init__(self, entries: Sequence[Entry]) -> None:
        self.info = _masks(entries, INFO_ITEM_RE)
        self.variant = _masks(entries, VARIANT_RE)
        self.citizen_only = np.array(
            [e.source == "gd_service_items" and set(e.serves) <= {"自然人"} and bool(e.serves)
             for e in entries],
            dtype=bool,
        )
        self._ones = np.ones(len(entries))

    def factors(self, query_text: str) -> np.ndarray:
        """Multipliers for every entry given the (normalized, expanded) question text."""
        out = self._ones.copy()
        if not INFO_QUERY_RE.search(query_text):
            out[self.info] *= INFO_ITEM_FACTOR
        if not VARIANT_RE.search(query_text):
            out[self.variant] *= VARIANT_FACTOR
        out[self.citizen_only] *= CITIZEN_ONLY_FACTOR
        return out


#: Words of a question that speak of a change to something already held (改名, 换证, 到期,
#: 转让 …): a follow-up variant may then be what is asked.
CHANGE_ASKED_RE = re.compile(
    r"(改|换|转让|过户|到期|满了|快满|续|补|丢|停|撤|不干|关|迁|移|增加|减少|取消|退)"
)
_FIRST_RE = re.compile(r"(新增|设立|首次|新办|初次)")
#: How far down the ranking a first-application sibling is looked for.
SIBLING_DEPTH = 5


def base_name(title: str) -> str:
    """An item's name without its variant or first-application word: 变更取水许可 and
    新增取水许可 are both 取水许可."""
    return _FIRST_RE.sub("", VARIANT_RE.sub("", title))


#: A change the question speaks of, and the variant items that serve it: 快到期了怎么续 →
#: 延续取水许可, not 变更取水许可.
CHANGE_VARIANTS: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = (
    (re.compile(r"(续|到期|快满|过期|满了)"), re.compile(r"(延续|续期|换发|延期)")),
    (re.compile(r"(改|变更|迁|挪)"), re.compile(r"(变更|更正)")),
    (re.compile(r"(丢|遗失|补办|补发|损坏)"), re.compile(r"(补发|补办|遗失)")),
    (re.compile(r"(注销|不干|不做了|关掉|销户)"), re.compile(r"(注销|销户)")),
)


def preferred_sibling(order: np.ndarray, entries: Sequence[Entry], question: str) -> int | None:
    """The position (below :data:`SIBLING_DEPTH`) of a sibling item of the top one — same
    :func:`base_name` — that answers better, or None: the first application when the question
    speaks of no change (:func:`first_application`), else the variant serving the change it
    speaks of (:data:`CHANGE_VARIANTS`)."""
    first = first_application(order, entries, question)
    if first is not None or not len(order):
        return first
    top = entries[int(order[0])]
    wants = [want for said, want in CHANGE_VARIANTS if said.search(question)]
    if top.source != "gd_service_items" or not wants or any(w.search(top.title) for w in wants):
        return None
    base = base_name(top.title)
    for j in range(1, min(SIBLING_DEPTH, len(order))):
        e = entries[int(order[j])]
        if (e.source == "gd_service_items" and siblings(base_name(e.title), base)
                and any(w.search(e.title) for w in wants)):
            return j
    return None


def first_application(order: np.ndarray, entries: Sequence[Entry], question: str) -> int | None:
    """The position of the item to rank first instead of a follow-up variant.

    The reranker weighs what a question shares with each candidate, and 变更取水许可 shares
    as much with "从河里抽水要办什么许可" as 新增取水许可 does; the first stage's
    :data:`VARIANT_FACTOR` is then undone. When the top entry is a variant item, the question
    speaks of no change (:data:`VARIANT_RE`, :data:`CHANGE_ASKED_RE`) and a sibling of the
    same base name that is no variant is within :data:`SIBLING_DEPTH`, that sibling is the
    answer."""
    if not len(order) or VARIANT_RE.search(question) or CHANGE_ASKED_RE.search(question):
        return None
    top = entries[int(order[0])]
    if top.source != "gd_service_items" or not VARIANT_RE.search(top.title):
        return None
    base = base_name(top.title)
    for j in range(1, min(SIBLING_DEPTH, len(order))):
        e = entries[int(order[j])]
        if (e.source == "gd_service_items" and not VARIANT_RE.search(e.title)
                and siblings(base_name(e.title), base)):
            return j
    return None


#: Two base names name one item when equal, or when they share a start of at least this many
#: characters and this share of the shorter: the province writes one item's variants apart
#: (危险化学品港口装卸管理人员资格认可新增, …从业资格证书遗失补发).
SIBLING_PREFIX_CHARS = 6
SIBLING_PREFIX_SHARE = 0.6


def siblings(a: str, b: str) -> bool:
    if a == b:
        return True
    shared = len(os.path.commonprefix([a, b]))
    return shared >= SIBLING_PREFIX_CHARS and shared >= SIBLING_PREFIX_SHARE * min(len(a), len(b))


#: A statute that governs its own matters more specifically than a general one does (lex
#: specialis), with the words of those matters: on labour contracts — resigning, dismissal,
#: probation, rules, lay-offs — 劳动合同法 (2008) over 劳动法 (1994), whose articles say the
#: same older and shorter. Measured on kb/training/questions_laws.jsonl: 9 questions expected
#: a 劳动合同法 article and got the 劳动法 one first, none the other way round.
SPECIFIC_STATUTES: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    ("劳动法", "劳动合同法", re.compile(
        r"(合同|辞职|离职|辞退|开除|解除|裁员|裁掉|试用期|规章|制度|无固定期限|竞业|违约金|"
        r"服务期|劳务派遣)")),
)
#: How far down the specific statute's article may stand.
SPECIFIC_DEPTH = 3


def specific_statute(order: np.ndarray, entries: Sequence[Entry], question: str) -> int | None:
    """The position of the specific statute's article to rank first instead of the general
    one's (:data:`SPECIFIC_STATUTES`), or None."""
    if not len(order):
        return None
    top = entries[int(order[0])]
    if top.source != "laws":
        return None
    for general, specific, matters in SPECIFIC_STATUTES:
        if not top.title.startswith(f"{general}(") or not matters.search(question):
            continue
        for j in range(1, min(SPECIFIC_DEPTH, len(order))):
            e = entries[int(order[j])]
            if e.source == "laws" and e.title.startswith(f"{specific}("):
                return j
    return None
