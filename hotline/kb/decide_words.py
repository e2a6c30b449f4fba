"""A question's content words, weighed for :mod:`hotline.kb.decide`: their rarity, the
synonym rules that explain them, whether they stand in a clause that asks, and whether
they name the subject of a named policy, permit or programme.

Split from :mod:`hotline.kb.decide` (whose module doc describes the rules); every name
is re-exported there.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass

from hotline.kb.textproc import STOPWORDS, KbTokenizer, SynonymRule


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


#: Weight of a question word no entry uses and no synonym rule explains.
UNKNOWN_IDF = 7.0
#: Words at least this rare are key: an entry lacking one of them does not answer.
KEY_IDF = 6.0


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
    r"认证|申报|计划|项目|基金|政策|试点|示范|称号|资金|券|"
    # named lists, certificates, centres, quotas, accounts (医保目录, 绿色电力证书,
    # 工业设计中心, 碳排放配额, 个人养老金账户, 数据出境安全评估 …)
    r"证书|目录|名录|中心|评估|配额|签证|资格|牌照|挂牌|账户|系统|指标|名额|额度|退税|减免)"
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
    return set(subject_heads(text, tagged))


def subject_heads(text: str, tagged: Sequence[tuple[str, str, int, int]]) -> dict[int, str]:
    """:func:`subject_offsets` with the head each subject word stands before
    (利息 → 补贴 in "利息有补贴吗"); the nearest head when several follow."""
    out: dict[int, str] = {}
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
                out.setdefault(s, m.group(0))
    return out


def contractions(word: str, head: str, vocabulary: Container[str]) -> tuple[str, ...]:
    """Two-character contractions of a subject word with its head that the corpus uses
    as words: one morpheme of each, either order (利息 + 补贴 → 贴息, 房租 + 补贴 → 租补).

    Official texts contract "the X subsidy" this way, so an entry saying 贴息 answers
    "利息有补贴吗"; requiring the contraction to be an indexed word keeps it to terms the
    corpus itself justifies.
    """
    if len(word) < 2 or word == head:
        return ()
    found: list[str] = []
    for a in dict.fromkeys(word):
        for b in dict.fromkeys(head):
            for pair in (a + b, b + a):
                if a != b and pair not in (word, head) and pair in vocabulary:
                    found.append(pair)
    return tuple(dict.fromkeys(found))


#: A word naming an office (文旅厅, 税务局).
_OFFICE_END_RE = re.compile(r"(局|厅|委|部门|窗口)$")
#: Words before a place one goes to or an office one deals with.
_GO_TO_RE = re.compile(r"(去|到|向|找|在|跟|交给|报给)$")


#: Function characters jieba sometimes glues to a word (政府办, 能代, 药想, 上要).
_GLUE = frozenset(w for w in STOPWORDS if len(w) == 1)


def unglue(tok: str, start: int, end: int, idf_of: Container[str],
           dictionary_word: bool = False) -> tuple[str, int, int]:
    """A word the corpus never uses, that jieba guessed (``dictionary_word`` false: 网吧,
    华为 are real words), and that is a corpus word (or one character) with a function
    character glued to either end — a segmentation slip, not a subject the knowledge base
    lacks — is read as that word: 政府办 → 政府, 药想 → 药. Returns the word and its
    offsets, or an empty word when nothing is left but function characters."""
    if tok in idf_of or len(tok) < 2 or dictionary_word:
        return tok, start, end
    rest, a, b = tok, start, end
    if rest[-1] in _GLUE:
        rest, b = rest[:-1], b - 1
    if rest and rest[0] in _GLUE and rest not in idf_of:
        rest, a = rest[1:], a + 1
    if rest == tok or not (rest in idf_of or len(rest) == 1):
        return tok, start, end
    return ("" if rest in _GLUE else rest), a, b


#: How many of a word's occurrences in the corpus are read to see whether one is a word
#: (more than this: a word the corpus uses).
USED_OCCURRENCES = 20
#: Characters read on either side of an occurrence to segment it in its context.
_CONTEXT = 6


def used_by_corpus(tok: str, corpus_text: str, tokenizer: KbTokenizer, general: int) -> bool:
    """Whether the knowledge base uses the word ``tok``, which is not one of its indexed words.

    A word of jieba's dictionary (``general`` > 0) counts as used only where the corpus,
    segmented around an occurrence, has it inside one word (基本养老金 uses 养老金), not where
    it straddles two: 参保单位 is 参保 + 单位 and says nothing of 保单, 经营地 nothing of
    营地. A word jieba guessed (新签, 交的货) keeps the plain text test: its own
    segmentation is unreliable."""
    start = corpus_text.find(tok)
    if general <= 0 or start < 0:
        return start >= 0
    for _ in range(USED_OCCURRENCES):
        a = max(0, start - _CONTEXT)
        at, end = start - a, start - a + len(tok)
        window = corpus_text[a:start + len(tok) + _CONTEXT]
        if any(s <= at and end <= e for _w, _f, s, e in tokenizer.tagged(window)):
            return True
        start = corpus_text.find(tok, start + 1)
        if start < 0:
            return False
    return True


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
    synonym rule explains it, it is not everyday talk, and no entry uses it as a word (see
    :func:`used_by_corpus`).
    """
    spans = _rule_spans(text, rules)
    tagged = tagged if tagged is not None else tokenizer.tagged(text)
    asking = asking_spans(text)
    subject_at = subject_heads(text, tagged)
    words: dict[str, Word] = {}
    for glued, flag, g_start, g_end in tagged:
        tok, start, end = unglue(glued, g_start, g_end, idf_of,
                                 tokenizer.general_frequency(glued) > 0)
        if not tok:
            continue
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
            and bool(corpus_text)
            and not used_by_corpus(tok, corpus_text, tokenizer, tokenizer.general_frequency(tok))
        )
        nounish = flag in NOUNISH
        is_asked = any(a <= start < b for a, b in asking)
        is_subject = start in subject_at
        if is_subject:  # 利息 (补贴) is also covered by the corpus's own 贴息
            alts += contractions(tok, subject_at[start], idf_of)
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


def covered(word: Word, hay: str, parts: Sequence[str]) -> float:
    """How much of ``word`` ``hay`` contains: 1 for the word or a synonym rule's official term,
    else the share of its parts (a compound written differently)."""
    if word.text in hay or any(a.lower() in hay for a in word.alternatives):
        return 1.0
    if len(parts) > 1:  # a compound written differently: share of its parts present
        got = sum(len(p) for p in parts if p in hay)
        return got / sum(len(p) for p in parts)
    return 0.0


def weighted_coverage(idfs: Sequence[float], shares: Sequence[float]) -> float:
    """Σ idf · share ÷ Σ idf (0 without weight): the coverage of words whose shares
    (:func:`covered`) are already computed (the reranker computes each word's share of a
    candidate once, for two coverages)."""
    total = sum(idfs)
    if total <= 0:
        return 0.0
    return sum(idf * share for idf, share in zip(idfs, shares)) / total
