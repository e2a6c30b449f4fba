"""Answer or decline: does the best entry actually answer the question?

BM25 always ranks *something* first. A question about a subject the corpus lacks
(数字人民币, 碳排放权交易) still finds an article that shares its ordinary words
(企业, 交易, 办理), and quoting that article is a confident wrong answer. So the top entry
must cover the question's **key words**:

- each content word of the question (jieba's precise mode, stopwords removed) is
  weighted by how rare it is in the corpus (IDF), so 碳排放 counts far more than 办;
- a word counts as covered when the entry's text contains it, or contains the official
  term a synonym rule gives for it (社保 → 社会保险), or — for a compound the corpus
  writes differently — contains most of its parts;
- a word the corpus never uses and no synonym rule explains is the strongest sign of
  a subject the knowledge base does not hold: it weighs :data:`UNKNOWN_IDF`.

Two things about *where* a word stands in the question matter:

- only clauses that ask (…吗, 怎么…, 能不能…) can name a subject the corpus lacks; the
  background told first ("我们是开奶茶店的，生意不好，能不能办歇业") says who asks, so a
  word the corpus never uses there (奶茶店) is not a foreign subject;
- a question about a named policy, permit or programme names it by the words before the
  kind of thing asked for (补贴, 奖励, 备案, 许可证 …): 充电桩建设补贴, 区块链备案. Those
  words, generic policy words and offices left out, are the question's *subject*, and
  the entry must cover :data:`SUBJECT_COVERAGE` of them — an entry about 补贴 in general
  does not answer 汽车以旧换新补贴.

The rules (:func:`rule`), in order: a weak BM25 match declines; a request that is no
policy question (a recommendation, which bank is cheapest, 帮我算…, the weather) declines;
a question asking for a figure (多少钱, 比例是多少, 基数, 是多少 …) declines unless the
entry states one (or is a curated entry on that subject saying where the figure is set),
and one asking whether a programme still runs or about its current round (还有吗, 申报截止)
unless such a curated entry says where that is set; a question with a foreign word
declines unless the rest covers :data:`FOREIGN_COVERAGE` of it; a subject the entry does
not cover declines; and too little coverage declines. Declining says so honestly and
offers a ticket or a person.

The thresholds (and the switched-off ones, kept for calibration) are chosen by
``bench/calibrate_kb.py`` on one half of ``tests/data/kb_*.jsonl`` (answerable against
``"answerable": false`` questions) and checked on the other half.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hotline.kb.models import Entry
from hotline.kb.textproc import KbTokenizer, SynonymRule

#: Weight of a question word no entry uses and no synonym rule explains.
UNKNOWN_IDF = 7.0
#: Words at least this rare are key: an entry lacking one of them does not answer.
KEY_IDF = 6.0
#: Share of the question's weighted words the entry must cover.
MIN_COVERAGE = 0.2
#: With a rare known noun of the question missing, the rest must be covered this well
#: (off: it declined more answerable questions than unanswerable ones).
KEY_COVERAGE = 0.0
#: With a word the knowledge base never uses, the whole question (foreign words counting
#: as uncovered) must be covered this well: the foreign word is then a detail, not the
#: subject. (The rest-of-question coverage and score conditions are off: no gain.)
FOREIGN_COVERAGE = 0.5
FOREIGN_REST_COVERAGE = 0.0
#: Only a foreign word in a clause that asks counts: 奶茶店 in "我们是开奶茶店的，…能不能办
#: 歇业" tells who asks, not what about.
FOREIGN_ASKED_ONLY = True
FOREIGN_SCORE = 0.0
#: Share of the subject's words (the 充电桩建设 of 充电桩建设补贴) the entry must cover.
SUBJECT_COVERAGE = 0.5
#: Below this BM25 score nothing answers, however well covered (one-word chatter).
MIN_SCORE = 8.0


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    idf: float
    known: bool
    alternatives: tuple[str, ...]  # official terms synonym rules give for it
    foreign: bool = False  # a subject word the whole knowledge base never uses
    nounish: bool = False  # names a thing (weighs fully) rather than an action
    parts: tuple[str, ...] = ()  # the search tokens of a longer word (a compound's parts)
    asked: bool = True  # said in a clause that asks (not in the background told first)
    subject: bool = False  # names the subject of a named policy, permit or programme


@dataclass(frozen=True, slots=True)
class Decision:
    answer: bool
    coverage: float
    missing: tuple[str, ...]
    reason: str
    foreign: tuple[str, ...] = ()


def haystack(e: Entry) -> str:
    """Everything an entry says, lower-cased, for substring tests."""
    parts = [e.title, e.chapter or "", e.summary, e.text, e.eligibility or "", " ".join(e.keywords)]
    parts += list(e.materials) + list(e.steps)
    return "\n".join(parts).lower()


def _rule_spans(text: str, rules: Iterable[SynonymRule]) -> list[tuple[int, int, SynonymRule]]:
    spans: list[tuple[int, int, SynonymRule]] = []
    for rule in rules:
        if rule.pattern is not None:
            spans += [(m.start(), m.end(), rule) for m in rule.pattern.finditer(text)]
            continue
        for say in rule.say:
            start = text.find(say) if say else -1
            while start >= 0:
                spans.append((start, start + len(say), rule))
                start = text.find(say, start + 1)
    return spans


#: Parts of speech that name a subject (nouns, verbal nouns, abbreviations, terms);
#: ``x`` is jieba's tag for the knowledge base's own domain words.
NOUNISH = frozenset({"n", "nz", "vn", "nt", "j", "eng", "x", "an", "nr", "nrt", "nrfg", "g"})
#: Parts of speech that never decide answerability (pronouns, numbers, particles,
#: places, times, directions …).
IGNORED = frozenset({"r", "m", "mq", "q", "d", "p", "c", "u", "uj", "ul", "uz", "uv", "ud",
                     "ug", "y", "e", "o", "f", "t", "tg", "ns", "s", "zg", "k", "h"})
#: Parts of speech of a word that can name a subject the knowledge base lacks.
SUBJECT_TAGS = frozenset({"n", "nz", "nt", "eng", "j", "x", "nr"})
#: Weight of verbs and adjectives relative to their rarity.
VERB_FACTOR = 0.3
#: An unknown word this common in general Chinese (jieba's counts) is everyday talk.
GENERAL_WORD_FREQ = 1000


def _weight(tok: str, flag: str, known_idf: float | None, explained: bool,
            general: int) -> float:
    if flag in IGNORED or (flag.startswith("u")):
        return 0.0
    nounish = flag in NOUNISH or (flag == "x" and len(tok) >= 2)
    if known_idf is not None:
        return known_idf if nounish else VERB_FACTOR * known_idf
    if explained:
        return KEY_IDF - 0.5
    if not nounish or len(tok) < 2:
        return 0.0
    return 1.0 if general >= GENERAL_WORD_FREQ else UNKNOWN_IDF


#: Clause boundaries of a question.
_CLAUSE_RE = re.compile(r"[，。？！；：,;:?!\s、]+")
#: A clause that asks something (the others tell the background: 我们是开奶茶店的 …).
ASKING_RE = re.compile(
    r"(吗|么|什么|怎么|怎样|如何|哪|多少|几|能不能|可不可以|是否|要不要|有没有|行不行|呢|啥|咋|"
    r"谁|[?？]|不能|能否|可以|还是|算不算|合法|合规)"
)
#: Words naming the kind of thing asked for — a subsidy, an award, a permit, a filing, a
#: programme. The words before one in its clause name *which* one (充电桩建设补贴,
#: 区块链备案, 专精特新小巨人奖励): its subject.
SUBJECT_HEAD_RE = re.compile(
    r"(补贴|补助|奖励|奖补|资助|扶持|优惠|补偿|贴息|津贴|返还|认定|备案|许可证|许可|执照|资质|"
    r"认证|申报|计划|项目|基金|政策|试点|示范|称号|资金|券)"
)
#: Generic policy words, question words and the asker's own roles: never the subject.
GENERIC_SUBJECT_WORDS = frozenset(
    """
    补贴 补助 奖励 奖补 资助 扶持 优惠 政策 减免 补偿 贴息 津贴 返还 奖金 资金 专项 专项资金 支持
    鼓励 申请 申报 办理 办 认定 备案 审批 许可 许可证 证 证书 执照 资质 登记 注册 手续 流程 材料
    资料 条件 要求 标准 比例 金额 额度 费用 钱 多少 多久 部门 窗口 电话 地址 地方 步骤 程序 规定
    法律 法规 政府 企业 公司 单位 个人 员工 人 人员 老板 国家 今年 现在 最新 目前 每月 每年
    经营 经营许可 服务 项目 工作 业务 管理 不能 不要 还有 什么时候 需要 处理 合法 违法 算 计算
    查 查询 提交 准备 带 影响 办法 方式 政府部门 机关 有关部门 主管部门 省级 市级 区级 国家级
    """.split()
)
#: Parts of speech that end a subject phrase rather than belong to it (verbs, adverbs …).
_NOT_SUBJECT_TAGS = frozenset({"v", "vd", "a", "ad", "d", "p", "c", "r", "m", "q", "t", "f", "s",
                               "ns", "zg", "b"})
#: A word followed by these names who handles the matter (商务部门, 房管局), not the subject.
_OFFICE_AFTER_RE = re.compile(r"(部门|局|厅|委|办)")


def clauses(text: str) -> list[tuple[int, int]]:
    """Start and end offsets of the clauses of ``text``."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in _CLAUSE_RE.finditer(text):
        if m.start() > pos:
            spans.append((pos, m.start()))
        pos = m.end()
    if pos < len(text):
        spans.append((pos, len(text)))
    return spans


def asking_spans(text: str) -> list[tuple[int, int]]:
    """The clauses that ask (all of them when none looks like a question)."""
    spans = clauses(text)
    return [s for s in spans if ASKING_RE.search(text[s[0]:s[1]])] or spans


def subject_offsets(text: str, tagged: Sequence[tuple[str, str, int, int]]) -> set[int]:
    """Start offsets of the words naming a subject: the noun-like words before a
    :data:`SUBJECT_HEAD_RE` word in its clause — not generic words, not an office or
    place one goes to (去房管部门备案, 在海关备案). The head must end its word (基金会 is
    no 基金)."""
    out: set[int] = set()
    for a, b in clauses(text):
        for m in SUBJECT_HEAD_RE.finditer(text, a, b):
            word = next(((s, e) for _t, _f, s, e in tagged if s <= m.start() < e), None)
            if word is None or word[1] != m.end():
                continue
            head = word[0]
            for tok, flag, s, e in tagged:
                if s < a or e > head or flag in _NOT_SUBJECT_TAGS:
                    continue
                if tok in GENERIC_SUBJECT_WORDS or _OFFICE_AFTER_RE.match(text, e):
                    continue
                if _OFFICE_END_RE.search(tok) or _GO_TO_RE.search(text, max(a, s - 2), s):
                    continue
                out.add(s)
    return out


#: A word naming an office (文旅厅, 税务局).
_OFFICE_END_RE = re.compile(r"(局|厅|委|部门|窗口)$")
#: Words before a place one goes to or an office one deals with.
_GO_TO_RE = re.compile(r"(去|到|向|找|在|跟|交给|报给)$")


def question_words(
    text: str,
    tokenizer: KbTokenizer,
    rules: Sequence[SynonymRule],
    idf_of: dict[str, float],
    corpus_text: str = "",
    tagged: list[tuple[str, str, int, int]] | None = None,
) -> list[Word]:
    """The question's content words with their weights and synonym alternatives.

    A word is *foreign* when it names something (noun-like, two characters or more), no
    synonym rule explains it, it is not everyday talk, and no entry contains it at all.
    """
    spans = _rule_spans(text, rules)
    tagged = tagged if tagged is not None else tokenizer.tagged(text)
    asking = asking_spans(text)
    subject_at = subject_offsets(text, tagged)
    words: dict[str, Word] = {}
    for tok, flag, start, end in tagged:
        alts: list[str] = []
        for s, e, rule in spans:
            if s < end and start < e:  # the rule's phrase overlaps this word
                alts += rule.means.split()
        general = tokenizer.general_frequency(tok)
        weight = _weight(tok, flag, idf_of.get(tok), bool(alts), general)
        if weight <= 0:
            continue
        foreign = (
            flag in SUBJECT_TAGS and weight >= UNKNOWN_IDF and not alts and tok not in idf_of
            and bool(corpus_text) and tok not in corpus_text
        )
        nounish = flag in NOUNISH
        is_asked = any(a <= start < b for a, b in asking)
        is_subject = start in subject_at
        prev = words.get(tok)
        if prev is None:
            parts = tuple(p for p in tokenizer.tokens(tok) if p != tok) if len(tok) > 2 else ()
            words[tok] = Word(tok, weight, tok in idf_of, tuple(dict.fromkeys(alts)), foreign,
                              nounish, parts, is_asked, is_subject)
        else:
            merged = tuple(dict.fromkeys(prev.alternatives + tuple(alts)))
            words[tok] = Word(tok, prev.idf, prev.known, merged, prev.foreign, prev.nounish,
                              prev.parts, prev.asked or is_asked, prev.subject or is_subject)
    return list(words.values())


def _covered(word: Word, hay: str, parts: Sequence[str]) -> float:
    if word.text in hay or any(a.lower() in hay for a in word.alternatives):
        return 1.0
    if len(parts) > 1:  # a compound written differently: share of its parts present
        got = sum(len(p) for p in parts if p in hay)
        return got / sum(len(p) for p in parts)
    return 0.0


#: A question asking for a figure (how much money, what rate or ratio, what standard).
ASKS_AMOUNT_RE = re.compile(
    r"(多少钱|多少元|多少万|贷多少|补多少|补贴多少|奖励多少|奖多少|返多少|退多少|能拿多少|能领多少|"
    r"比例(?=$|[，。？！,?!吗呢])|比例是|比例多|多少比例|什么比例|啥比例|比例怎么|比例最|按比例多|费率|利率|税率是多少|标准是多少|"
    r"补贴标准|基数|额度是多少|最多能|最高能|百分之多少|百分之几|几个点|多少个点|金额是|金额多|"
    r"多少金额|是多少|给多少|贴多少|扣多少|返还多少|批多少|发多少|多少额度|"
    r"额度多少|多少积分|几成|多少度|多少税|%还是|还是\d+%|月供|能抵多少|能减多少|减缴多少|能补多少)"
)
#: An entry that states a figure: digits with a unit, 百分之…, 元, 倍.
HAS_AMOUNT_RE = re.compile(r"(\d+(\.\d+)?\s*(%|元|万|倍)|百分之|[一二三四五六七八九十百千万]+元|倍)")


#: A question about whether a programme still runs, or its current round's dates.
ASKS_CURRENT_RE = re.compile(
    r"(还有吗|还有没有|今年还|现在还有|还在吗|申报截止|截止是|到哪一年|用到哪|什么时候调|调了吗|"
    r"什么时候申报|什么时候到账|还能享受吗|还减免吗|延续到)"
)
CURRENT_RULE = 1.0
OFF_DOMAIN_RULE = 1.0


#: Not a policy question: asking for a recommendation, a commercial comparison, a personal
#: errand (帮我算/写/翻译), about the bot itself, the weather, leisure.
OFF_DOMAIN_RE = re.compile(
    r"(推荐(几|一|个|一下|点|些|的)|有没有推荐|哪家.{0,8}(好|便宜|划算|靠谱|最低|稳)|"
    r"哪个.{0,6}(好|划算|便宜|稳|靠谱)|哪只|帮我(算|写|翻译|订|推荐)|机器人[吗啊呀]|是真人|"
    r"人工智能吗|好吃|好看的|好玩|天气怎么样|天气预报|气温|下雨|比较稳|最划算)"
)


def asks_amount(text: str) -> bool:
    return ASKS_AMOUNT_RE.search(text) is not None


@dataclass(frozen=True, slots=True)
class Features:
    """What the decision looks at, computed once (calibration replays the rules on them)."""

    score: float
    coverage: float  # weighted share of the question's words the entry covers
    rest_coverage: float  # the same, leaving out foreign words
    missing: tuple[str, ...]
    key_missing: tuple[str, ...]  # rare known nouns of the question the entry lacks
    foreign: tuple[str, ...]
    asks_figure: bool
    has_figure: bool  # the entry states an amount, or (curated) says where the figure is set
    #: Weighted share of the subject's words (see :func:`subject_offsets`) the entry
    #: covers; None when the question names no subject that way.
    subject_coverage: float | None = None
    off_domain: bool = False
    asks_current: bool = False
    says_where_set: bool = False


#: Curated entries state where a figure is set when no source holds it ("以…公布为准");
#: that answers a figure question only when the entry is about the question's subject.
CURATED_FIGURE_COVERAGE = 0.6
FIGURE_SET_ELSEWHERE_RE = re.compile(r"(为准|未收录|不在本知识库|没有规定具体)")


def _share(w: Word, hay: str) -> float:
    return _covered(w, hay, w.parts)


def coverage_of(words: Sequence[Word], hay: str) -> float:
    """Weighted share of ``words`` an entry's :func:`haystack` covers."""
    total = sum(w.idf for w in words)
    if total <= 0:
        return 0.0
    return sum(w.idf * _share(w, hay) for w in words) / total


def _foreign(w: Word) -> bool:
    return w.foreign and (w.asked or not FOREIGN_ASKED_ONLY)


def features(
    words: Sequence[Word], entry: Entry, score: float, tokenizer: KbTokenizer, question: str
) -> Features:
    hay = haystack(entry)
    total = got = rest_total = rest_got = 0.0
    missing: list[str] = []
    key_missing: list[str] = []
    for w in words:
        share = _share(w, hay)
        total += w.idf
        got += w.idf * share
        if not _foreign(w):
            rest_total += w.idf
            rest_got += w.idf * share
        if share < 0.5:
            missing.append(w.text)
            if w.known and w.idf >= KEY_IDF and w.nounish:
                key_missing.append(w.text)
    coverage = got / total if total > 0 else 0.0
    subject = [w for w in words if w.subject and w.asked]
    says_where_set = (
        entry.source == "curated"
        and coverage >= CURATED_FIGURE_COVERAGE
        and FIGURE_SET_ELSEWHERE_RE.search(hay) is not None
    )
    has_figure = HAS_AMOUNT_RE.search(hay) is not None or says_where_set
    return Features(
        score=score,
        coverage=coverage,
        rest_coverage=rest_got / rest_total if rest_total > 0 else 0.0,
        missing=tuple(missing),
        key_missing=tuple(key_missing),
        foreign=tuple(w.text for w in words if _foreign(w)),
        asks_figure=asks_amount(question),
        has_figure=has_figure,
        subject_coverage=coverage_of(subject, hay) if subject else None,
        asks_current=ASKS_CURRENT_RE.search(question) is not None,
        off_domain=OFF_DOMAIN_RE.search(question) is not None,
        says_where_set=says_where_set,
    )


def rule(f: Features) -> tuple[bool, str]:
    """The decision on computed features: (answer?, reason)."""
    if f.score < MIN_SCORE:
        return False, "weak match"
    if f.off_domain and OFF_DOMAIN_RULE:
        return False, "not a policy question"
    if f.asks_figure and not f.has_figure:
        return False, "figure not in source"
    if CURRENT_RULE and f.asks_current and not f.says_where_set:
        return False, "current round not in source"
    if f.foreign and (
        f.coverage < FOREIGN_COVERAGE
        or f.rest_coverage < FOREIGN_REST_COVERAGE
        or f.score < FOREIGN_SCORE
    ):
        return False, "subject not in knowledge base"
    if f.subject_coverage is not None and f.subject_coverage < SUBJECT_COVERAGE:
        return False, "subject not covered"
    if f.coverage < MIN_COVERAGE:
        return False, "low coverage"
    if f.key_missing and f.coverage < KEY_COVERAGE:
        return False, "key word missing"
    return True, "covered"


def decide(
    words: Sequence[Word],
    entry: Entry,
    score: float,
    tokenizer: KbTokenizer,
    question: str = "",
) -> Decision:
    """Whether ``entry`` (ranked first with ``score``) answers a question of ``words``."""
    if not words:
        return Decision(False, 0.0, (), "no words")
    f = features(words, entry, score, tokenizer, question)
    answer, reason = rule(f)
    return Decision(answer, f.coverage, f.missing, reason, f.foreign)


def idf_table(df: dict[str, int], n: int) -> dict[str, float]:
    """BM25's IDF for every indexed word, from its document frequency."""
    return {w: math.log(1 + (n - d + 0.5) / (d + 0.5)) for w, d in df.items()}
