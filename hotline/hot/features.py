"""Terms of a ticket's text for grouping: jieba words weighted by how rare they are.

Why not a downloaded model: the hotline must run offline, and what makes two tickets "the
same problem" is mostly the rare words they share (a place: 木渎、澄阳路; an organisation:
城投、农商行; the failure: 停电、退税). So a text becomes its jieba search tokens (the
knowledge base's tokenizer, same stopwords and domain dictionary), each weighted by

- its rarity in general Chinese — jieba's own dictionary frequencies, a large corpus that
  ships with jieba, so the weight of a word does not drift as tickets come in (a stored
  ticket never needs re-weighting), and
- ``1 + log(tf)`` in the text, so a long pasted letter does not outweigh a one-liner;

then only its ``max_terms`` heaviest terms are kept (the letter's greeting, company
history and courtesy lose to its complaint) and the vector is scaled to unit length.

Wording classes (``hotline/data/hot_lexicon.yml``): people name the same failure in many
ways (停电 / 断电 / 拉闸 / 没电). A text that uses any word of a class also gets the class's
own term, so 停电 and 拉闸 meet. The classes describe complaints in general, not any one
problem of the evaluation set.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from hotline.kb.textproc import char_bigrams
from hotline.textnorm import normalize

LEXICON_FILE = Path(__file__).resolve().parent.parent / "data" / "hot_lexicon.yml"
_TAG_RE = re.compile(r"<[^<>]{0,200}>")


@dataclass(frozen=True)
class FeatureConfig:
    """Knobs of the text representation (chosen on the dev half of the labelled set)."""

    max_terms: int = 30  # heaviest terms kept per text
    idf_power: float = 1.0  # sharpen (>1) or flatten (<1) the rarity weights
    class_weight: float = 1.0  # weight of a wording class's term relative to a word's
    min_idf: float = 6.0  # words more common than this in general Chinese are dropped
    lexicon: bool = True
    bigram_weight: float = 0.5  # character pairs (木渎镇 / 木渎) relative to words; 0: off


@dataclass(frozen=True)
class WordClass:
    name: str
    words: tuple[str, ...]
    pattern: re.Pattern[str] | None = None  # words with "*": a gap of up to 4 characters

    def count(self, text: str) -> int:
        if self.pattern is not None:
            return len(self.pattern.findall(text))
        return sum(text.count(w) for w in self.words)


def load_lexicon(path: Path = LEXICON_FILE) -> tuple[WordClass, ...]:
    """``[{name: 停电, words: [断电, 拉闸, …]}, …]`` → word classes (normalized words)."""
    if not path.exists():
        return ()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    classes = []
    for i, raw in enumerate(data):
        if not isinstance(raw, dict) or not raw.get("name") or not raw.get("words"):
            raise ValueError(f"{path}: entry {i + 1} needs 'name' and 'words'")
        words = tuple(normalize(str(w)) for w in raw["words"])
        pattern = None
        if any("*" in w for w in words):
            pattern = re.compile("|".join(
                ".{0,4}?".join(re.escape(p) for p in w.split("*")) for w in words))
        classes.append(WordClass(f"§{raw['name']}", tuple(w for w in words if "*" not in w),
                                 pattern))
    return tuple(classes)


class Featurizer:
    """Text → unit vector of weighted terms (``dict[str, float]``). Thread-safe after init."""

    def __init__(self, config: FeatureConfig | None = None) -> None:
        self.config = config or FeatureConfig()
        self.classes = load_lexicon() if self.config.lexicon else ()
        words = {w for c in self.classes for w in c.words if len(w) >= 2}
        self._tokenizer = _tokenizer(tuple(sorted(words)))
        self._total = float(self._tokenizer._jieba.total)  # noqa: SLF001 - jieba exposes no getter
        self._max_idf = math.log(self._total)

    @property
    def tokenizer(self):  # type: ignore[no-untyped-def]
        """The jieba tokenizer behind the terms (KbTokenizer), for precise-mode tagging."""
        return self._tokenizer

    def clean(self, text: str) -> str:
        return normalize(_TAG_RE.sub(" ", normalize(text)))

    def idf(self, term: str) -> tuple[float, float]:
        """``(rarity, factor)`` of ``term``: rarity in general Chinese, ``log(N / (freq + 1))``
        (unknown words — places, firms, roads — are the rarest), and the weight of its kind
        (a wording class, a character pair or a word)."""
        if term.startswith("§"):
            return self._max_idf, self.config.class_weight
        if term.startswith("²"):
            freq = self._tokenizer.general_frequency(term[1:])
            return math.log(self._total / (freq + 1.0)), self.config.bigram_weight
        freq = self._tokenizer.general_frequency(term)
        return math.log(self._total / (freq + 1.0)), 1.0

    def terms(self, text: str) -> dict[str, int]:
        """Counts of the text's search tokens and wording classes (what is stored)."""
        clean = self.clean(text)
        counts = Counter(self._tokenizer.tokens(clean))
        for word_class in self.classes:
            hits = word_class.count(clean)
            if hits:
                counts[word_class.name] += hits
        if self.config.bigram_weight:
            counts.update("²" + b for b in char_bigrams(clean) if len(b) == 2 and not b.isascii())
        return dict(counts)

    def vector(self, terms: dict[str, int]) -> dict[str, float]:
        """Stored counts → the unit vector compared between texts."""
        cfg = self.config
        weighted: dict[str, float] = {}
        for term, tf in terms.items():
            idf, factor = self.idf(term)
            if idf < cfg.min_idf or factor <= 0:
                continue
            weighted[term] = (1.0 + math.log(tf)) * idf ** cfg.idf_power * factor
        if len(weighted) > cfg.max_terms:
            kept = sorted(weighted.items(), key=lambda kv: (-kv[1], kv[0]))[: cfg.max_terms]
            weighted = dict(kept)
        norm = math.sqrt(sum(w * w for w in weighted.values()))
        if norm == 0:
            return {}
        return {t: w / norm for t, w in weighted.items()}

    def embed(self, text: str) -> dict[str, float]:
        return self.vector(self.terms(text))


@lru_cache(maxsize=2)
def _tokenizer(words: tuple[str, ...]):  # type: ignore[no-untyped-def]
    from hotline.kb.paths import userdict_path
    from hotline.kb.textproc import KbTokenizer

    return KbTokenizer(userdict_path(), words)


@lru_cache(maxsize=4)
def get_featurizer(config: FeatureConfig | None = None) -> Featurizer:
    """One featurizer per configuration and process (jieba takes about a second to load)."""
    return Featurizer(config)
