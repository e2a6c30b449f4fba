"""P(unanswerable) from the question alone, before any entry is looked at.

What kinds of question the knowledge base does not answer shows in their wording: a named
local programme and its current round (今年的…申报开始了吗), a figure no statute sets (一般
给几天), a platform or a card the corpus never names. A logistic regression over the
question's character 1–3-grams (TF-IDF, sublinear counts), trained on ``kb/training``
(answerable questions against questions on real policies the corpus lacks), gives that
probability; it is one feature of the learned second opinion (:mod:`hotline.kb.answerable`),
which weighs it against how well the top entry covers the question — never a rule of its own.

Chosen by out-of-fold results on ``kb/training`` among four question representations (share
of unanswerable training questions the second opinion declines beyond the rules, at ≤ 1.5 %
extra false declines): character n-grams 0.170, the pretrained sentence vector with the
corpus LSA 0.118, the sentence vector alone 0.098, none 0.078.

Stored as plain numbers (vocabulary, IDF, weights) in ``kb/answerability.json``; the
probability is computed here without scikit-learn, exactly as sklearn's pipeline does.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

NGRAMS = (1, 3)
#: A gram must occur in this many training questions.
MIN_DF = 2
#: Regularisation (sklearn's C): 10 against 3 and 1 by the out-of-fold result above (0.170,
#: 0.166; out-of-fold AUC of the prior alone 0.946 against 0.937 at 1).
C = 10.0
#: The prior's value when no model is loaded.
NO_PRIOR = 0.5
_SPACE_RE = re.compile(r"\s\s+")


def grams(text: str) -> list[str]:
    """Character 1–3-grams of the lower-cased question, runs of white space as one."""
    text = _SPACE_RE.sub(" ", text.lower())
    lo, hi = NGRAMS
    return [text[i:i + n] for n in range(lo, hi + 1) for i in range(len(text) - n + 1)]


@dataclass(frozen=True)
class QuestionPrior:
    vocab: dict[str, int]
    idf: np.ndarray
    weights: np.ndarray
    bias: float

    def probability(self, text: str) -> float:
        counts = Counter(g for g in grams(text) if g in self.vocab)
        z = self.bias
        if counts:
            cols = np.fromiter((self.vocab[g] for g in counts), dtype=np.int64, count=len(counts))
            tf = np.fromiter((1.0 + math.log(c) for c in counts.values()), dtype=np.float64,
                             count=len(counts))
            x = tf * self.idf[cols]
            x /= np.linalg.norm(x)
            z += float(x @ self.weights[cols])
        return 1.0 / (1.0 + math.exp(-z))

    def to_json(self) -> dict[str, object]:
        words = sorted(self.vocab, key=self.vocab.__getitem__)
        return {"ngrams": list(NGRAMS), "grams": words,
                "idf": [round(float(v), 6) for v in self.idf],
                "weights": [round(float(w), 6) for w in self.weights], "bias": self.bias}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> QuestionPrior:
        if list(data["ngrams"]) != list(NGRAMS):  # type: ignore[call-overload]
            raise ValueError("question prior of other n-grams")
        words = [str(w) for w in data["grams"]]  # type: ignore[attr-defined]
        idf = np.asarray(data["idf"], dtype=np.float64)
        weights = np.asarray(data["weights"], dtype=np.float64)
        if not len(words) == len(idf) == len(weights):
            raise ValueError("question prior: grams, idf and weights differ in length")
        return cls({w: i for i, w in enumerate(words)}, idf, weights,
                   float(data["bias"]))  # type: ignore[arg-type]


def fit(texts: Sequence[str], labels: Sequence[int], c: float = C) -> QuestionPrior:
    """The prior fitted on ``texts`` (as search reads them) labelled 1 when unanswerable."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    tfidf = TfidfVectorizer(analyzer=grams, min_df=MIN_DF, sublinear_tf=True)
    x = tfidf.fit_transform(list(texts))
    model = LogisticRegression(C=c, max_iter=5000).fit(x, np.asarray(labels))
    vocab = {str(g): int(i) for g, i in tfidf.vocabulary_.items()}
    return QuestionPrior(vocab, tfidf.idf_.astype(np.float64),
                         model.coef_[0].astype(np.float64), float(model.intercept_[0]))
