"""Ranking knowledge-base entries for a colloquial question.

Score = BM25 over the words of the whole text + ``TITLE_WEIGHT`` × over the entry's name
+ ``PHRASES_WEIGHT`` × over its everyday phrasings (glosses, curated keywords) +
``CHARS_WEIGHT`` × over character pairs. The question's own words count fully, words
added by ``kb/synonyms.yml`` count ``EXPANSION_WEIGHT``, so "开个饭馆" reaches 食品经营许可
without drowning exact matches. Service items that only publish information, are
follow-up variants (变更, 延续 …) or serve citizens only are mildly down-weighted (see
:mod:`hotline.kb.priors`); entries stating the part asked for (多久 → a time limit) count
``1 + ASPECT_BOOST``, and those of the topic the NLU predicted ``1 + TOPIC_BOOST``.

``confident`` tells the caller whether to answer from the top hit or decline: see
:mod:`hotline.kb.decide` (the top entry must cover the question's key words).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

import bm25s
import numpy as np

from hotline.kb import answerable, rerank, typos
from hotline.kb import sentences as kb_sentences
from hotline.kb.absent import absent_terms, quoted_names, unpaired
from hotline.kb.aspects import Aspect, asked
from hotline.kb.decide import Decision, Features, Word, decide, question_words
from hotline.kb.index import KbIndex, get_index
from hotline.kb.models import Hit, SearchResult
from hotline.kb.priors import preferred_sibling, specific_statute
from hotline.kb.rerank import DEPTH, Channels, candidate_features
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
#: Entries nearest the question in the dense space (:mod:`hotline.kb.dense`) that join the
#: reranker's candidates when the first stage left them out.
DENSE_CANDIDATES = 10

#: The reason logged when the learned model declines what the rules answer.
UNLIKE_ANSWERED = "unlike answerable questions"
MSG_EMPTY = "请输入要查询的问题。"
MSG_NO_WORDS = "没有识别出可以检索的词语，请用文字描述您要办理的事项或遇到的问题。"
MSG_TOO_LONG = f"问题较长，只按前{MAX_QUERY_CHARS}个字检索。"
MSG_NOT_SURE = "知识库里没有能可靠回答这个问题的内容，以下结果仅供参考，可提交诉求或转人工。"
MSG_NO_MATCH = "知识库里没有找到相关内容，可换个说法，或拨打12345政务服务便民热线咨询。"
MSG_UNKNOWN_TOPIC = "未知的主题：{topic}"


def _weights(own: Iterable[str], added: Iterable[str]) -> dict[str, float]:
    """Query terms: the question's own count fully (and per occurrence), terms only a
    synonym rule added count ``EXPANSION_WEIGHT``."""
    weights: dict[str, float] = {}
    for term in own:
        weights[term] = weights.get(term, 0.0) + 1.0
    for term in added:
        weights.setdefault(term, EXPANSION_WEIGHT)
    return weights


def _channel(model: bm25s.BM25, weights: dict[str, float], factor: float, n: int) -> np.ndarray:
    total = np.zeros(n, dtype=np.float64)
    if factor == 0.0:
        return total
    vocab = model.vocab_dict
    for term, w in weights.items():
        if term in vocab:
            total += w * model.get_scores([term])
    return factor * total


def channels(index: KbIndex, tokens: list[str], extra: list[str],
             content: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Words of the text, of the names and of the everyday phrasings, plus character pairs
    of the question's content words (segmentation mismatches, one-character typos)."""
    n = len(index)
    words = _weights(tokens, extra)
    pairs = _weights(
        (p for w in content for p in char_bigrams(w)), (p for w in extra for p in char_bigrams(w))
    )
    return (
        _channel(index.body, words, 1.0, n),
        _channel(index.title, words, TITLE_WEIGHT, n),
        _channel(index.phrases, words, PHRASES_WEIGHT, n),
        _channel(index.chars, pairs, CHARS_WEIGHT, n),
    )


@dataclass(frozen=True, slots=True)
class Ranked:
    """The first stage's scores and the candidates in their final order."""

    channels: Channels
    order: np.ndarray  # entry positions, best first (reranked when a model is loaded)
    words: list[Word]
    aspects: list[Aspect]
    tokens: list[str]
    #: Reranker features of the first candidates, in ``order`` (row 0 is the top entry).
    features: np.ndarray
    #: Every entry's cosine with the question in the dense space (None without a model).
    dense: np.ndarray | None = None
    #: Compounds of the question naming a subject the whole corpus lacks.
    absent: tuple[str, ...] = ()


def rank(index: KbIndex, text: str, topic: str | None = None,
         use_reranker: bool = True,
         tagged: list[tuple[str, str, int, int]] | None = None) -> Ranked | None:
    """Score every entry for the cleaned question ``text`` and order the best ones
    (``tagged``: ``index.tokenizer.tagged(text)``, if the caller has it)."""
    tokens = index.tokenizer.tokens(text)
    if not tokens:
        return None
    extra = index.tokenizer.expand(text, index.synonyms)
    if tagged is None:
        tagged = index.tokenizer.tagged(text)
    body, title, phrases, chars = channels(index, tokens, extra, [w for w, *_ in tagged])
    total = (body + title + phrases + chars) * index.priors.factors(f"{text} {' '.join(extra)}")
    aspects = asked(text)
    for aspect in aspects:  # 多久 prefers entries that state a time limit, …
        total = np.where(index.aspect_masks[aspect.name], total * (1.0 + ASPECT_BOOST), total)
    if topic:
        total = np.where(index.topics == topic, total * (1.0 + TOPIC_BOOST), total)
    words = question_words(text, index.tokenizer, index.synonyms, index.idf, index.corpus_text,
                           tagged)
    ch = Channels(body, title, phrases, chars, total)
    order = np.argsort(-total, kind="stable")
    order = order[total[order] > 0]
    cands = order[:DEPTH]
    sims = index.dense.similarities(text) if index.dense is not None else None
    if sims is not None and DENSE_CANDIDATES > 0:
        near = np.argpartition(-sims, DENSE_CANDIDATES)[:DENSE_CANDIDATES]
        near = near[np.argsort(-sims[near], kind="stable")]
        near = near[(sims[near] > 0) & ~np.isin(near, cands)]
        if len(near):
            cands = np.concatenate([cands, near])
            order = np.concatenate([cands, order[DEPTH:][~np.isin(order[DEPTH:], near)]])
    sentence = None
    if index.sentences is not None:
        sentence = index.sentences.similar(kb_sentences.encode_question(text), cands)
    f = candidate_features(cands, ch, words, text, aspects, index.entry_cache, sims, sentence)
    if use_reranker and index.reranker is not None and len(cands) > 1:
        scores = index.reranker.scores(f)
        scores = scores + rerank.close_call_priors(cands, scores, aspects, index.entry_cache)
        best = np.argsort(-scores, kind="stable")
        order = np.concatenate([cands[best], order[len(cands):]])
        f = f[best]
    swap = preferred_sibling(order, index.entries, text)  # 新增 before 变更取水许可
    if swap is None:  # 劳动合同法 before 劳动法 on labour contracts
        swap = specific_statute(order, index.entries, text)
    if swap is not None:
        order[[0, swap]] = order[[swap, 0]]
        if len(f) > swap:
            f[[0, swap]] = f[[swap, 0]]
    absent = absent_terms(text, tagged, index.presence_text)
    absent += tuple(n for n in quoted_names(text, index.presence_text) if n not in absent)
    absent += unpaired(text, words, index.entry_cache.haystacks,
                     index.entry_cache.containing)
    return Ranked(ch, order, words, aspects, tokens, f, sims, absent)


def decide_top(index: KbIndex, ranked: Ranked, text: str) -> tuple[int, Decision]:
    """The rules' decision on the first entry of ``ranked`` (and its position)."""
    top = int(ranked.order[0])
    cosine = float(ranked.dense[top]) if ranked.dense is not None else None
    return top, decide(ranked.words, index.entries[top], float(ranked.channels.total.max()),
                       index.tokenizer, text, cosine, ranked.absent)


def answerability_vector(index: KbIndex, ranked: Ranked, top: int, text: str,
                         features: Features, prior: float | None = None) -> np.ndarray:
    """What the learned model (:mod:`hotline.kb.answerable`) judges of the top entry
    (``prior``: the question prior's value, else the index's model computes it)."""
    row = ranked.features[0] if len(ranked.features) else None
    if prior is None:
        model = index.answerability
        prior = model.question_prior(text) if model else answerable.NO_PRIOR
    return answerable.vector(features, ranked.words, text, index.entries[top],
                             index.entry_cache.haystacks[top], row, prior)


def second_opinion(index: KbIndex, ranked: Ranked, top: int, text: str,
                   decision: Decision) -> Decision:
    """The learned model (:mod:`hotline.kb.answerable`) may decline what the rules answer."""
    model = index.answerability
    if model is None or not decision.answer or decision.features is None:
        return decision
    if model.declines(answerability_vector(index, ranked, top, text, decision.features)):
        return replace(decision, answer=False, reason=UNLIKE_ANSWERED)
    return decision


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
    tagged = index.tokenizer.tagged(text)
    corrected = typos.correct(text, index.tokenizer, index.homophones, tagged)  # 社宝 → 社保
    ranked = rank(index, corrected, topic, tagged=tagged if corrected == text else None)
    text = corrected
    if ranked is None:
        return SearchResult(query=raw, normalized=text, message=MSG_NO_WORDS)
    total = ranked.channels.total
    k = max(1, min(int(k), 50))
    hits: list[Hit] = []
    seen: set[tuple[str, str, str | None, str | None]] = set()
    for i in ranked.order:
        if len(hits) >= k:
            break
        e = index.entries[int(i)]
        key = (e.source, e.title, e.article, e.department)
        if key in seen:  # same-named sub-items of one department: show the best only
            continue
        seen.add(key)
        hits.append(Hit(entry=e, score=float(total[i]), rank=len(hits) + 1))
    decision = None
    if hits:
        top, decision = decide_top(index, ranked, text)
        decision = second_opinion(index, ranked, top, text, decision)
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
        tokens=tuple(ranked.tokens),
        missing=decision.missing if decision else (),
        reason=decision.reason if decision else "no match",
    )
