"""Figure questions: does the question ask for an amount, and does the entry state one
*about what is asked*? (See :mod:`hotline.kb.decide`, which declines a figure question the
top entry cannot answer with the reason :data:`hotline.kb.decide.FIGURE_NOT_IN_SOURCE`.)"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from hotline.kb.decide_words import Word, covered
from hotline.kb.models import Entry

#: A question asking for a figure (how much money, what rate or ratio, what standard).
ASKS_AMOUNT_RE = re.compile(
    r"(多少钱|多少元|多少万|贷多少|补多少|补贴多少|奖励多少|奖多少|返多少|退多少|能拿多少|能领多少|"
    r"比例(?=$|[，。？！,?!吗呢])|比例是|比例多|多少比例|什么比例|啥比例|比例怎么|比例最|按比例多|费率|利率|税率是多少|标准是多少|"
    r"补贴标准|基数|额度是多少|最多能|最高能|百分之多少|百分之几|几个点|多少个点|金额是|金额多|"
    r"多少金额|是多少|给多少|贴多少|扣多少|[交缴]多少|返还多少|批多少|发多少|多少额度|"
    r"额度多少|多少积分|多少分(?!钟|之)|几成|多少度|多少税|%还是|还是\d+%|月供|能抵多少|能减多少|减缴多少|能补多少|"
    # per head or per month (每人每月多少), a named sum (奖金多少, 有多少资助), a floor or a
    # cap (最低多少), a rate proposed (按5%交) — not a count of days, people or items
    r"每[人月年个家次亩][^，。？！,?!]{0,6}多少|有多少(?=[奖补资钱经费]|$|[，。？！,?!])|"
    r"(门槛|奖金|租金|工资|罚款|罚金|费用|手续费|利息|保证金|押金|资助)(是|要|有|大概|一般)?多少|"
    r"(最低|最高|最多|最少)(可以|能|要|是)?(交|缴|付|贷|拿|领|补|给)?多少|按\d+(\.\d+)?%)"
    r"(?!天|日|号|年|个月|小时|人|家|个工作日)"
)
#: An entry that states a figure: digits with a unit, 百分之…, 元, 倍.
HAS_AMOUNT_RE = re.compile(r"(\d+(\.\d+)?\s*(%|元|万|倍)|百分之|[一二三四五六七八九十百千万]+元|倍)")


def asks_amount(text: str) -> bool:
    return ASKS_AMOUNT_RE.search(text) is not None


#: Words at least this rare in the clause asking a figure are what the figure must be about.
FIGURE_ANCHOR_IDF = 4.0
FIGURE_ANCHORED = True
_SENTENCE_RE = re.compile(r"[。；;\n]")


def figure_about(question: str, spans: Sequence[tuple[int, int]], words: Sequence[Word],
                 entry: Entry, hay: str) -> bool:
    """Whether the entry states a figure about what the figure question asks of: a sentence
    with an amount that names (or sits under a title naming) a rare noun of the asking
    clause. 赡养老人每月能扣多少 is not answered by 个人所得税法 第六条's 六万元 of the basic
    deduction, nor 货车的车船税要交多少 by a registration fee."""
    if HAS_AMOUNT_RE.search(hay) is None:
        return False
    asking = [question[a:b] for a, b in spans if asks_amount(question[a:b])] or [question]
    anchors = [w for w in words if w.nounish and w.known and len(w.text) > 1
               and w.idf >= FIGURE_ANCHOR_IDF
               and any(w.text in clause for clause in asking)]
    if not FIGURE_ANCHORED or any(covered(w, entry.title.lower(), w.parts) >= 0.5 for w in anchors):
        return True
    said = [entry.summary, entry.text, entry.eligibility or "", *entry.materials, *entry.steps]
    text = "\n".join(said).lower()
    # Literally — the word or most of its parts, not a synonym rule's broader term (赡养老人 →
    # 专项附加扣除 finds the article, but its figure is of another deduction) — and only
    # those the entry speaks of.
    literal = [replace(w, alternatives=()) for w in anchors]
    literal = [w for w in literal if covered(w, text, w.parts) >= 0.5]
    if not literal:
        return True
    return any(HAS_AMOUNT_RE.search(sentence)
               and any(covered(w, sentence, w.parts) >= 0.5 for w in literal)
               for sentence in _SENTENCE_RE.split(text))


#: A figure asked as a count or a length (加多少个小时, 最多能停多久, 几天): the unit asked.
_COUNT_ASKED_RE = re.compile(
    r"(?:多少个?|几个?)(小时|天|日|年|个月|周|次|倍|人|名)|(多久|多长时间)"
)
_LENGTHS = ("小时", "天", "日", "年", "个月", "周")
_NUMERAL = r"(?:\d+|[一二三四五六七八九十百千两半]+)"
#: Units written either way (十五天, 十五日; 3个月, 三月).
_SAME_UNIT = {"天": "(?:天|日)", "日": "(?:天|日)", "个月": "(?:个月|月)", "名": "(?:名|人)",
              "人": "(?:名|人)"}


def states_count(question: str, text: str) -> bool:
    """Whether ``text`` states the count or length that ``question`` asks for: a numeral with
    the unit asked (加班最多多少个小时 → 三十六小时; 最多能停多久 → 三年). Money and rates are
    :data:`HAS_AMOUNT_RE`'s; this is for figures of time and number."""
    units: set[str] = set()
    for m in _COUNT_ASKED_RE.finditer(question):
        units |= {m.group(1)} if m.group(1) else set(_LENGTHS)
    units = {_SAME_UNIT.get(u, u) for u in units}
    return any(re.search(f"{_NUMERAL}个?(?:工作)?{u}", text) for u in units)
