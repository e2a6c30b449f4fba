"""Second stage: re-order the first stage's top candidates with a learned linear model.

BM25 sums every shared word, so within one statute the article that repeats the law's
own vocabulary (企业所得税 … 企业所得税) outranks the one that answers (公益性捐赠 for
"捐钱能不能扣"). The reranker looks at each of the top :data:`DEPTH` candidates with
features BM25 does not combine: how much of the question's *weighted* words the entry
covers, how close one of its everyday phrasings is to the question, whether the question
names the entry, whether the candidates around it come from the same statute, whether it
states the part asked for. A linear score ``w · f`` re-orders them.

The weights ``w`` are learned (pairwise logistic regression, :mod:`hotline.kb.rerank_train`)
from question → entry pairs in ``kb/training/`` — written for training only, kept apart
from the evaluation sets in ``tests/data`` (a test checks no question is shared) — and
stored in ``kb/reranker.json`` with the hash of the data they came from. Without that file
the first stage's order stands. Two fixed priors (:func:`close_call_priors`) settle close
calls the training pairs cannot: an entry holding the asked part as a field, and a curated
answer citing a top candidate, go first.
"""

from __future__ import annotations

import bisect
import functools
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hotline.kb import paths
from hotline.kb.aspects import Aspect, has, states
from hotline.kb.decide import Word, haystack
from hotline.kb.decide_words import covered, weighted_coverage
from hotline.kb.models import Entry
from hotline.kb.statutes import law_short_name
from hotline.kb.textproc import char_bigrams

#: How many first-stage candidates the reranker re-orders.
DEPTH = 50
#: Candidates whose statute is compared for the "same statute around it" feature.
CONSENSUS_DEPTH = 10
RERANKER_FILE = "reranker.json"
#: ``dense_relative`` divides by the best candidate's cosine, but never by less than this:
#: among far neighbours only, the nearest is no paraphrase (2-fold CV on kb/training).
DENSE_FLOOR = 0.6
#: ``sentence_relative`` divides by the best candidate's ``sentence_best``, but never by less.
SENTENCE_FLOOR = 0.3
#: Priors added to the reranker's score, for close calls the training data cannot settle
#: (its questions rarely ask for a part, and count a curated answer and the source it cites
#: as equally right). An entry holding an asked part of :data:`FIELD_ASPECTS` as a field —
#: a service item's 一次性告知 materials, a curated answer's conditions — gains this times
#: the share of those parts it holds: an enterprise asking for materials needs the list, not
#: the statute article that says a list is required …
ASPECT_FIELD_BONUS = 1.0
#: … not 办理时限 (an item's time limit is how long the office takes; 多久之内要… asks for
#: a deadline a statute sets), nor the figure-like fees and steps, which statutes state too.
FIELD_ASPECTS = frozenset({"eligibility", "materials", "department", "phone"})
#: A curated answer gains this when it cites a source ranked among the first
#: :data:`CONSENSUS_DEPTH`: it states that source's content, written for the asker's need,
#: names the department and the time limit.
CURATED_CITES_BONUS = 1.0

FEATURES: tuple[str, ...] = (
    "first_relative",  # first-stage score / the best first-stage score
    "first_log",  # log(1 + first-stage score)
    "first_rank",  # 1 / first-stage rank
    "body_relative",  # each channel / its best among the candidates
    "title_relative",
    "phrases_relative",
    "chars_relative",
    "coverage",  # IDF-weighted share of the question's words the entry contains
    "nouns_covered",  # share of the question's noun-like words the entry contains
    "rarest_covered",  # the question's rarest word is in the entry
    "phrase_containment",  # best share of one everyday phrasing's character pairs in the question
    "phrase_dice",  # best Dice overlap of the question with one everyday phrasing
    "title_containment",  # share of the entry's name (item name, law name) in the question
    "same_statute",  # share of the top candidates from this entry's statute
    "is_law",
    "is_item",
    "is_curated",
    "aspect_stated",  # the question asks for a part (time, materials …) the entry states
    "aspect_missing",  # it asks for one the entry does not state
    "length_log",  # log of the entry's text length
    "asked_coverage",  # coverage of the words of the clauses that ask (not the background)
    "dense_cosine",  # cosine of the question and the entry in the corpus-trained LSA space
    "dense_relative",  # that cosine / the best among the candidates (at least DENSE_FLOOR)
    "aspect_field",  # share of the asked parts the entry holds as a field (a reply leads with)
    # the pretrained sentence encoder (:mod:`hotline.kb.sentences`):
    "sentence_text",  # cosine of the question and the entry's name and text
    "sentence_phrase",  # best cosine of the question and one of the entry's everyday phrasings
    "sentence_best",  # the larger of the two
    "sentence_relative",  # that / the best among the candidates (at least SENTENCE_FLOOR)
)


@dataclass(frozen=True, slots=True)
class Channels:
    """First-stage scores of every entry: per channel and combined (with priors)."""

    body: np.ndarray
    title: np.ndarray
    phrases: np.ndarray
    chars: np.ndarray
    total: np.ndarray


def phrasings(e: Entry) -> tuple[str, ...]:
    """An entry's everyday phrasings: a statute article's glosses, a curated entry's
    keywords, a service item's name."""
    if e.source == "laws":
        return e.keywords[1:]
    if e.source == "curated":
        return e.keywords
    return (e.title,)


def name_of(e: Entry) -> str:
    """What a question would call the entry: a law's short name, else its title."""
    if e.source == "laws":
        return e.keywords[0] if e.keywords else e.title
    return e.title


class EntryCache:
    """Per-entry text derived once per index (haystacks, character-pair sets)."""

    def __init__(self, entries: Sequence[Entry]) -> None:
        self.entries = entries

    @functools.cached_property
    def haystacks(self) -> list[str]:
        return [haystack(e) for e in self.entries]

    @functools.cached_property
    def _joined(self) -> tuple[str, list[int]]:
        """Every haystack in one string, NUL-separated, and where each one starts."""
        starts: list[int] = []
        pos = 0
        for hay in self.haystacks:
            starts.append(pos)
            pos += len(hay) + 1
        return "\0".join(self.haystacks), starts

    def containing(self, text: str) -> Iterator[int]:
        """The entries whose haystack contains ``text``, in order, found as they are asked
        for: ``str.find`` over the whole corpus (in C) instead of a test per entry (in
        Python). For a word no entry pairs with the kind of thing asked
        (:func:`hotline.kb.absent.unpaired`: 出版物 + 许可证) 0.5 ms instead of 6."""
        if not text or "\0" in text:
            return
        joined, starts = self._joined
        pos = joined.find(text)
        while pos >= 0:
            i = bisect.bisect_right(starts, pos) - 1
            yield i
            pos = joined.find(text, starts[i + 1] if i + 1 < len(starts) else len(joined))

    @functools.lru_cache(maxsize=20000)  # noqa: B019 - one cache per index, lives as long
    def phrase_pairs(self, i: int) -> tuple[frozenset[str], ...]:
        return tuple(
            s for s in (frozenset(char_bigrams(p)) for p in phrasings(self.entries[i])) if s
        )

    @functools.lru_cache(maxsize=20000)  # noqa: B019
    def name_pairs(self, i: int) -> frozenset[str]:
        return frozenset(char_bigrams(name_of(self.entries[i])))

    @functools.lru_cache(maxsize=20000)  # noqa: B019
    def cited_as(self, i: int) -> str:
        """How a curated entry's ``cites`` names entry ``i``."""
        e = self.entries[i]
        return f"{law_short_name(e.title)} {e.article}" if e.article else e.title

    @functools.lru_cache(maxsize=20000)  # noqa: B019
    def length_log(self, i: int) -> float:
        e = self.entries[i]
        return math.log1p(len(e.text or e.summary or e.title))


def _relative(values: np.ndarray) -> np.ndarray:
    top = float(values.max()) if len(values) else 0.0
    return values / top if top > 0 else np.zeros_like(values)


def candidate_features(
    cands: np.ndarray,
    ch: Channels,
    words: Sequence[Word],
    question: str,
    aspects: Sequence[Aspect],
    cache: EntryCache,
    dense: np.ndarray | None = None,
    sentence: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """The feature matrix (one row per candidate, columns :data:`FEATURES`); ``dense`` is
    every entry's cosine with the question (:mod:`hotline.kb.dense`), if there is a model;
    ``sentence`` the candidates' text and phrasing cosines with it
    (:meth:`hotline.kb.sentences.SentenceVectors.similar`), if the index has vectors."""
    n = len(cands)
    out = np.zeros((n, len(FEATURES)), dtype=np.float64)
    if n == 0:
        return out
    entries = cache.entries
    total = ch.total[cands]
    out[:, 0] = _relative(total)
    out[:, 1] = np.log1p(np.maximum(total, 0.0))
    out[:, 2] = 1.0 / (np.arange(n) + 1.0)
    out[:, 3] = _relative(ch.body[cands])
    out[:, 4] = _relative(ch.title[cands])
    out[:, 5] = _relative(ch.phrases[cands])
    out[:, 6] = _relative(ch.chars[cands])
    q_pairs = frozenset(char_bigrams(question))
    nouns = [w for w in words if w.nounish]
    rarest = max(words, key=lambda w: w.idf) if words else None
    idfs = [w.idf for w in words]
    asked_at = [j for j, w in enumerate(words) if w.asked]
    top_titles = [entries[int(i)].title for i in cands[:CONSENSUS_DEPTH]]
    for row, idx in enumerate(cands):
        i = int(idx)
        e = entries[i]
        hay = cache.haystacks[i]
        # each word's share once, for the coverage of all words and of the asked ones
        shares = [covered(w, hay, w.parts) for w in words]
        out[row, 7] = weighted_coverage(idfs, shares)
        if nouns:
            out[row, 8] = sum(1 for w in nouns if w.text in hay) / len(nouns)
        if rarest is not None:
            out[row, 9] = float(rarest.text in hay)
        best_contain = best_dice = 0.0
        for pairs in cache.phrase_pairs(i):
            shared = len(pairs & q_pairs)
            if shared:
                best_contain = max(best_contain, shared / len(pairs))
                best_dice = max(best_dice, 2 * shared / (len(pairs) + len(q_pairs)))
        out[row, 10] = best_contain
        out[row, 11] = best_dice
        name = cache.name_pairs(i)
        if name:
            out[row, 12] = len(name & q_pairs) / len(name)
        if e.source == "laws":
            out[row, 13] = sum(1 for t in top_titles if t == e.title) / len(top_titles)
        out[row, 14] = float(e.source == "laws")
        out[row, 15] = float(e.source == "gd_service_items")
        out[row, 16] = float(e.source == "curated")
        if aspects:
            stated = sum(1 for a in aspects if states(e, a))
            out[row, 17] = stated / len(aspects)
            out[row, 18] = (len(aspects) - stated) / len(aspects)
            out[row, 23] = sum(1 for a in aspects if has(e, a)) / len(aspects)
        out[row, 19] = cache.length_log(i)
        out[row, 20] = (weighted_coverage([idfs[j] for j in asked_at],
                                          [shares[j] for j in asked_at])
                        if asked_at else out[row, 7])
    if dense is not None:
        cos = np.maximum(dense[cands], 0.0)
        out[:, 21] = cos
        out[:, 22] = cos / max(float(cos.max()), DENSE_FLOOR)
    if sentence is not None:
        text, phrase = sentence
        best = np.maximum(np.maximum(text, phrase), 0.0)
        out[:, 24] = np.maximum(text, 0.0)
        out[:, 25] = np.maximum(phrase, 0.0)
        out[:, 26] = best
        out[:, 27] = best / max(float(best.max()), SENTENCE_FLOOR)
    return out


def close_call_priors(cands: np.ndarray, scores: np.ndarray, aspects: Sequence[Aspect],
                      cache: EntryCache) -> np.ndarray:
    """What :data:`ASPECT_FIELD_BONUS` and :data:`CURATED_CITES_BONUS` add to ``scores``."""
    out = np.zeros(len(cands), dtype=np.float64)
    fielded = [a for a in aspects if a.name in FIELD_ASPECTS]
    top = {cache.cited_as(int(cands[j])) for j in np.argsort(-scores)[:CONSENSUS_DEPTH]}
    for row, idx in enumerate(cands):
        e = cache.entries[int(idx)]
        if fielded and ASPECT_FIELD_BONUS:
            out[row] += ASPECT_FIELD_BONUS * sum(has(e, a) for a in fielded) / len(fielded)
        if CURATED_CITES_BONUS and e.source == "curated" and not top.isdisjoint(e.cites):
            out[row] += CURATED_CITES_BONUS
    return out


@dataclass(frozen=True, slots=True)
class Reranker:
    """A linear model over :data:`FEATURES`."""

    weights: np.ndarray
    trained_on: str = ""  # hash of the training data

    def scores(self, features: np.ndarray) -> np.ndarray:
        return features @ self.weights

    def to_json(self) -> dict[str, object]:
        return {
            "features": list(FEATURES),
            "weights": [round(float(w), 6) for w in self.weights],
            "trained_on": self.trained_on,
        }


def reranker_path(kb: Path | None = None) -> Path:
    return (kb or paths.kb_dir()) / RERANKER_FILE


def load_reranker(path: Path) -> Reranker | None:
    """The stored model, or None when absent or trained on a different feature list."""
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    if list(data.get("features", [])) != list(FEATURES):
        return None
    return Reranker(np.asarray(data["weights"], dtype=np.float64), str(data.get("trained_on", "")))
