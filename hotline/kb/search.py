"""Ranking knowledge-base entries for a colloquial question.

Score = BM25 over the whole text + ``TITLE_WEIGHT`` × BM25 over the entry's name. The
question's own words count fully, words added by ``kb/synonyms.yml`` count
``EXPANSION_WEIGHT``, so "开个饭馆" reaches 食品经营许可 without drowning exact matches.
Service items that only publish information, or are follow-up variants (变更, 延续 …),
are mildly down-weighted unless asked for (see :mod:`hotline.kb.priors`), and a topic
predicted by the NLU multiplies its entries' scores by ``1 + TOPIC_BOOST``.

``confident`` tells the caller whether to answer from the top hit or decline: see
:mod:`hotline.kb.decide` (the top entry must cover the question's key words).
"""

from __future__ import annotations

import numpy as np

from hotline.kb.aspects import asked
from hotline.kb.decide import decide, question_words
from hotline.kb.index import KbIndex, get_index
from hotline.kb.models import Hit, SearchResult
from hotline.kb.textproc import char_bigrams, clean_query

MAX_QUERY_CHARS = 200
TITLE_WEIGHT = 1.0
EXPANSION_WEIGHT = 0.6
TOPIC_BOOST = 0.3
#: Entries that state the part a question asks for (time, materials …) count this much more.
ASPECT_BOOST = 0.3
#: Weight of the everyday-phrasings channel (glosses, curated keywords).
PHRASES_WEIGHT = 0.5
#: Weight of the character-pair channel against the word channel.
CHARS_WEIGHT = 0.5

MSG_EMPTY = "请输入要查询的问题。"
MSG_NO_WORDS = "没有识别出可以检索的词语，请用文字描述您要办理的事项或遇到的问题。"
MSG_TOO_LONG = f"问题较长，只按前{MAX_QUERY_CHARS}个字检索。"
MSG_NOT_SURE = "知识库里没有能可靠回答这个问题的内容，以下结果仅供参考，可提交诉求或转人工。"
MSG_NO_MATCH = "知识库里没有找到相关内容，可换个说法，或拨打12345政务服务便民热线咨询。"
MSG_UNKNOWN_TOPIC = "未知的主题：{topic}"


def _score(index: KbIndex, tokens: list[str], extra: list[str]) -> np.ndarray:
    """Word channel: body + ``TITLE_WEIGHT`` × title, expansions at ``EXPANSION_WEIGHT``."""
    n = len(index)
    total = np.zeros(n, dtype=np.float64)
    weights: dict[str, float] = {}
    for tok in tokens:
        weights[tok] = weights.get(tok, 0.0) + 1.0
    for tok in extra:
        if tok not in weights:
            weights[tok] = EXPANSION_WEIGHT
    vocab_body = index.body.vocab_dict
    vocab_title = index.title.vocab_dict
    vocab_phrases = index.phrases.vocab_dict
    for tok, w in weights.items():
        if tok in vocab_body:
            total += w * index.body.get_scores([tok])
        if tok in vocab_title:
            total += w * TITLE_WEIGHT * index.title.get_scores([tok])
        if tok in vocab_phrases:
            total += w * PHRASES_WEIGHT * index.phrases.get_scores([tok])
    return total


def _score_chars(index: KbIndex, words: list[str], extra: list[str]) -> np.ndarray:
    """Character-pair channel over the question's content words (and expansions)."""
    n = len(index)
    total = np.zeros(n, dtype=np.float64)
    weights: dict[str, float] = {}
    for word in words:
        for pair in char_bigrams(word):
            weights[pair] = weights.get(pair, 0.0) + 1.0
    for word in extra:
        for pair in char_bigrams(word):
            weights.setdefault(pair, EXPANSION_WEIGHT)
    vocab = index.chars.vocab_dict
    for pair, w in weights.items():
        if pair in vocab:
            total += w * index.chars.get_scores([pair])
    return total


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
    content = [w for w, _flag, _s, _e in index.tokenizer.tagged(text)]
    total = _score(index, tokens, extra) + CHARS_WEIGHT * _score_chars(index, content, extra)
    total = total * index.priors.factors(f"{text} {' '.join(extra)}")
    for aspect in asked(text):  # 多久 prefers entries that state a time limit, …
        total = np.where(index.aspect_masks[aspect.name], total * (1.0 + ASPECT_BOOST), total)
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
    decision = (
        decide(
            question_words(text, index.tokenizer, index.synonyms, index.idf, index.corpus_text),
            hits[0].entry, hits[0].score, index.tokenizer, text,
        )
        if hits
        else None
    )
    confident = decision is not None and decision.answer
    coverage = decision.coverage if decision else 0.0
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
        missing=decision.missing if decision else (),
        reason=decision.reason if decision else "no match",
    )
