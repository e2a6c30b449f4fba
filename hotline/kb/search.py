"""Ranking knowledge-base entries for a colloquial question.

Score = BM25 over the whole text + ``TITLE_WEIGHT`` × BM25 over the entry's name. The
question's own words count fully, words added by ``kb/synonyms.yml`` count
``EXPANSION_WEIGHT``, so "开个饭馆" reaches 食品经营许可 without drowning exact matches.
Service items that only publish information, or are follow-up variants (变更, 延续 …),
are mildly down-weighted unless asked for (see :mod:`hotline.kb.priors`), and a topic
predicted by the NLU multiplies its entries' scores by ``1 + TOPIC_BOOST``.

``confident`` tells the caller whether to answer from the top hit or say it is not
sure: a strong score, or a fair score plus a fair share of the question's informative
(IDF-weighted, known) words found in the top entry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hotline.kb.index import KbIndex, get_index
from hotline.kb.models import Hit, SearchResult
from hotline.kb.textproc import clean_query

MAX_QUERY_CHARS = 200
TITLE_WEIGHT = 1.0
EXPANSION_WEIGHT = 0.6
TOPIC_BOOST = 0.3
#: Calibrated on tests/data/kb_questions.jsonl and off-topic chatter ("今天天气怎么样",
#: "推荐一部电影"): answerable questions score ≥ 10 (median ≈ 22), chatter ≤ 8.
MIN_SCORE = 10.0
STRONG_SCORE = 15.0
MIN_COVERAGE = 0.3

MSG_EMPTY = "请输入要查询的问题。"
MSG_NO_WORDS = "没有识别出可以检索的词语，请用文字描述您要办理的事项或遇到的问题。"
MSG_TOO_LONG = f"问题较长，只按前{MAX_QUERY_CHARS}个字检索。"
MSG_NOT_SURE = "没有找到把握较大的答案，以下结果仅供参考，可转人工或拨打12345咨询。"
MSG_NO_MATCH = "知识库里没有找到相关内容，可换个说法，或拨打12345政务服务便民热线咨询。"
MSG_UNKNOWN_TOPIC = "未知的主题：{topic}"


@dataclass(frozen=True, slots=True)
class _Scored:
    total: np.ndarray
    hit_mask: dict[str, np.ndarray]
    idf: dict[str, float]


def _score(index: KbIndex, tokens: list[str], extra: list[str]) -> _Scored:
    n = len(index)
    total = np.zeros(n, dtype=np.float64)
    hit_mask: dict[str, np.ndarray] = {}
    idf: dict[str, float] = {}
    weights: dict[str, float] = {}
    for tok in tokens:
        weights[tok] = weights.get(tok, 0.0) + 1.0
    for tok in extra:
        if tok not in weights:
            weights[tok] = EXPANSION_WEIGHT
    vocab_body = index.body.vocab_dict
    vocab_title = index.title.vocab_dict
    for tok, w in weights.items():
        body = index.body.get_scores([tok]) if tok in vocab_body else None
        title = index.title.get_scores([tok]) if tok in vocab_title else None
        if body is None and title is None:
            continue  # a word no entry uses: says nothing about which entry fits best
        s = np.zeros(n, dtype=np.float64)
        if body is not None:
            s += body
        if title is not None:
            s += TITLE_WEIGHT * title
        total += w * s
        if tok in tokens:
            mask = s > 0
            df = int(mask.sum())
            hit_mask[tok] = mask
            idf[tok] = math.log(1 + (n - df + 0.5) / (df + 0.5))
    return _Scored(total, hit_mask, idf)


def _coverage(scored: _Scored, doc: int) -> float:
    weight = sum(scored.idf.values())
    if weight <= 0:
        return 0.0
    got = sum(scored.idf[t] for t, mask in scored.hit_mask.items() if mask[doc])
    return got / weight


def _is_confident(score: float, coverage: float) -> bool:
    return score >= STRONG_SCORE or (score >= MIN_SCORE and coverage >= MIN_COVERAGE)


def search(
    query: str | None,
    topic: str | None = None,
    k: int = 5,
    index: KbIndex | None = None,
) -> SearchResult:
    """Top ``k`` entries for ``query``; never raises on odd input (empty, huge, markup)."""
    raw = query if isinstance(query, str) else ""
    text = clean_query(raw)
    if not text:
        return SearchResult(query=raw, normalized="", message=MSG_EMPTY)
    message: str | None = None
    if len(text) > MAX_QUERY_CHARS:
        text, message = text[:MAX_QUERY_CHARS], MSG_TOO_LONG
    index = index or get_index()
    tokens = index.tokenizer.tokens(text)
    if not tokens:
        return SearchResult(query=raw, normalized=text, message=MSG_NO_WORDS)
    extra = index.tokenizer.expand(text, index.synonyms)
    scored = _score(index, tokens, extra)
    total = scored.total
    total = total * index.priors.factors(f"{text} {' '.join(extra)}")
    if topic:
        total = np.where(index.topics == topic, total * (1.0 + TOPIC_BOOST), total)
    k = max(1, min(int(k), 50))
    order = np.argsort(-total, kind="stable")
    hits: list[Hit] = []
    seen: set[tuple[str, str, str | None, str | None]] = set()
    for i in order:
        score = float(total[i])
        if score <= 0 or len(hits) >= k:
            break
        e = index.entries[int(i)]
        key = (e.source, e.title, e.article, e.department)
        if key in seen:  # same-named sub-items of one department: show the best only
            continue
        seen.add(key)
        hits.append(Hit(entry=e, score=score, rank=len(hits) + 1))
    coverage = _coverage(scored, int(order[0])) if hits else 0.0
    confident = bool(hits) and _is_confident(hits[0].score, coverage)
    if message is None:
        if not hits:
            message = MSG_NO_MATCH
        elif not confident:
            message = MSG_NOT_SURE
    return SearchResult(
        query=raw,
        normalized=text,
        hits=tuple(hits),
        confident=confident,
        coverage=coverage,
        message=message,
        tokens=tuple(tokens),
    )
