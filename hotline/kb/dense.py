"""A dense representation of entries and questions, learned here from the corpus alone.

Latent semantic analysis: TF-IDF over the character unigrams and pairs of each entry's
name, text and everyday phrasings (glosses, curated keywords), reduced by a truncated SVD
to :data:`DIMS` dimensions. Characters that occur in the same articles and items end up
close, so a question can be near an entry it shares few exact words with. It is fitted
when the index is built (fixed seed, nothing downloaded) and stored beside it; a question
is projected with the stored vocabulary, IDF and components, without scikit-learn.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Dimensions kept by the SVD.
DIMS = 400
SEED = 0
#: A character n-gram must occur in this many entries to count …
MIN_DF = 2
#: … and in no more than this share of them.
MAX_DF = 0.5
FILE = "dense.npz"

_RUN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+|[0-9a-z]+")


def grams(text: str) -> list[str]:
    """Single characters and character pairs of each CJK run (ASCII words whole)."""
    out: list[str] = []
    for run in _RUN_RE.findall(text.lower()):
        if run.isascii():
            out.append(run)
            continue
        out.extend(run)
        out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out


@dataclass(frozen=True, slots=True)
class DenseModel:
    """Vocabulary, IDF and SVD components, plus every entry's unit vector."""

    vocab: dict[str, int]
    idf: np.ndarray  # (V,)
    components: np.ndarray  # (V, DIMS): TF-IDF space → latent space
    vectors: np.ndarray  # (entries, DIMS), unit length (zero for an empty text)

    def embed(self, text: str) -> np.ndarray:
        """The unit vector of ``text`` (zero when none of its n-grams is known)."""
        counts = Counter(g for g in grams(text) if g in self.vocab)
        out = np.zeros(self.components.shape[1], dtype=np.float32)
        if not counts:
            return out
        cols = np.fromiter((self.vocab[g] for g in counts), dtype=np.int64, count=len(counts))
        tf = np.fromiter((1.0 + math.log(c) for c in counts.values()), dtype=np.float32,
                         count=len(counts))
        weights = tf * self.idf[cols]
        weights /= np.linalg.norm(weights)
        out = weights @ self.components[cols]
        return _unit(out)

    def similarities(self, text: str) -> np.ndarray:
        """Cosine of ``text`` with every entry."""
        return self.vectors @ self.embed(text)

    def save(self, path: Path) -> None:
        words = np.array(sorted(self.vocab, key=self.vocab.__getitem__))
        np.savez(path, words=words, idf=self.idf, components=self.components,
                 vectors=self.vectors)

    @classmethod
    def load(cls, path: Path) -> DenseModel:
        with np.load(path, allow_pickle=False) as data:
            vocab = {str(w): i for i, w in enumerate(data["words"])}
            return cls(vocab, data["idf"], data["components"], data["vectors"])


def _unit(m: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(m, axis=-1, keepdims=True)
    return np.divide(m, norm, out=np.zeros_like(m), where=norm > 0)


def fit(texts: Sequence[str], dims: int = DIMS) -> DenseModel:
    """LSA over ``texts`` (one per entry), deterministic for a given corpus."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    tfidf = TfidfVectorizer(analyzer=grams, sublinear_tf=True, min_df=MIN_DF, max_df=MAX_DF,
                            dtype=np.float32)
    x = tfidf.fit_transform(texts)
    dims = max(1, min(dims, x.shape[1] - 1, x.shape[0] - 1))
    svd = TruncatedSVD(dims, algorithm="randomized", n_iter=5, random_state=SEED)
    vectors = _unit(svd.fit_transform(x).astype(np.float32))
    vocab = {str(w): int(i) for w, i in tfidf.vocabulary_.items()}
    return DenseModel(vocab, tfidf.idf_.astype(np.float32),
                      np.ascontiguousarray(svd.components_.T.astype(np.float32)), vectors)
