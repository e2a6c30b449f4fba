"""Retrieval quality on a question file: hit@1, hit@3 and MRR over the top 10.

A question file has one JSON object a line::

    {"question": "...", "source": "laws", "title": "劳动合同法(2012-12-28)",
     "article": "第十九条", "also": ["劳动合同法(2012-12-28)|第二十条", "某事项名称"]}

A result counts as a hit when its (source, title[, article]) equals the expected one,
or its (title[, article]) equals one of ``also`` — several entries can legitimately
answer one question (the national and the Guangdong regulation often say the same).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hotline.kb.index import KbIndex
from hotline.kb.models import Entry
from hotline.kb.numerals import canonical_article
from hotline.kb.search import search

DEPTH = 10


@dataclass(frozen=True, slots=True)
class Question:
    question: str
    source: str
    title: str
    article: str | None = None
    also: tuple[str, ...] = ()
    topic: str | None = None

    def accepts(self, e: Entry) -> bool:
        if e.source == self.source and e.title == self.title:
            if self.article is None or canonical_article(self.article) == e.article:
                return True
        for alt in self.also:
            title, _, article = alt.partition("|")
            if e.title == title.strip() and (
                not article or canonical_article(article) == e.article
            ):
                return True
        return False

    def expected(self) -> str:
        return f"[{self.source}] {self.title}" + (f" {self.article}" if self.article else "")


@dataclass(frozen=True, slots=True)
class Outcome:
    question: Question
    rank: int | None  # 1-based rank of the first acceptable hit within DEPTH, else None
    got: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Report:
    outcomes: tuple[Outcome, ...]

    @property
    def n(self) -> int:
        return len(self.outcomes)

    def hit_at(self, k: int) -> float:
        if not self.outcomes:
            return 0.0
        return sum(1 for o in self.outcomes if o.rank is not None and o.rank <= k) / self.n

    @property
    def mrr(self) -> float:
        if not self.outcomes:
            return 0.0
        return sum(1.0 / o.rank for o in self.outcomes if o.rank) / self.n

    def summary(self) -> dict[str, float | int]:
        return {
            "n": self.n,
            "hit_at_1": round(self.hit_at(1), 4),
            "hit_at_3": round(self.hit_at(3), 4),
            "mrr": round(self.mrr, 4),
        }


def load_questions(path: Path) -> list[Question]:
    """Parse a question file; a malformed line raises ValueError naming the line."""
    questions: list[Question] = []
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("//"):
            continue
        try:
            row = json.loads(line)
            questions.append(
                Question(
                    question=str(row["question"]),
                    source=str(row["source"]),
                    title=str(row["title"]),
                    article=row.get("article") or None,
                    also=tuple(row.get("also") or ()),
                    topic=row.get("topic") or None,
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{no}: bad question line ({exc})") from exc
    return questions


def _label(e: Entry) -> str:
    return f"{e.title}{' ' + e.article if e.article else ''}"


def evaluate(
    questions: Iterable[Question], index: KbIndex | None = None, use_topic: bool = False
) -> Report:
    """Run every question through :func:`search` (topic boost only if ``use_topic``)."""
    outcomes: list[Outcome] = []
    for q in questions:
        result = search(q.question, topic=q.topic if use_topic else None, k=DEPTH, index=index)
        rank = next((h.rank for h in result.hits if q.accepts(h.entry)), None)
        outcomes.append(Outcome(q, rank, tuple(_label(h.entry) for h in result.hits[:3])))
    return Report(tuple(outcomes))


def format_report(report: Report) -> list[str]:
    """Human-readable lines: every question not answered at rank 1, the metrics, then JSON."""
    lines: list[str] = []
    for o in report.outcomes:
        if o.rank == 1:
            continue
        where = f"rank {o.rank}" if o.rank else f"not in top {DEPTH}"
        lines.append(f"MISS ({where}) {o.question.question}")
        lines.append(f"    expected {o.question.expected()}")
        lines.append(f"    got      {' | '.join(o.got) or '(nothing)'}")
    s = report.summary()
    lines.append(
        f"n={s['n']}  hit@1={s['hit_at_1']:.3f}  hit@3={s['hit_at_3']:.3f}  MRR@{DEPTH}={s['mrr']:.3f}"
    )
    lines.append(json.dumps(s, ensure_ascii=False))
    return lines
