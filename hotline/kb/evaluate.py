"""Retrieval quality on a question file: hit@k and MRR over the top 10, cited hits, declines.

A question file has one JSON object a line::

    {"question": "...", "source": "laws", "title": "劳动合同法(2012-12-28)",
     "article": "第十九条", "also": ["劳动合同法(2012-12-28)|第二十条", "某事项名称"]}
    {"question": "...", "answerable": false}

Strict metrics (``hit_at_1``, ``hit_at_3``, ``mrr``) count a result when its
(source, title[, article]) equals the expected one, or its (title[, article]) equals one
of ``also`` — several entries can legitimately answer one question. The ``cited_*``
metrics also count a curated entry whose sources cite the expected statute article or
service item: it states that source's content, which is what the asker needs.

``declined`` is the share of questions the bot would decline to answer (the search is
not confident): on answerable questions the false-decline rate, on a file of
``"answerable": false`` questions the share correctly declined. A file of only
unanswerable questions ends with ``{"n": …, "declined": …}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from hotline.kb.index import KbIndex
from hotline.kb.models import Entry
from hotline.kb.numerals import canonical_article
from hotline.kb.search import search
from hotline.kb.statutes import law_short_name

DEPTH = 10


@dataclass(frozen=True, slots=True)
class Question:
    question: str
    source: str = ""
    title: str = ""
    article: str | None = None
    also: tuple[str, ...] = ()
    topic: str | None = None
    answerable: bool = True

    def _also(self) -> list[tuple[str, str | None]]:
        """(title, canonical article or None) of each ``also`` alternative."""
        out: list[tuple[str, str | None]] = []
        for alt in self.also:
            title, _, article = alt.partition("|")
            out.append((title.strip(), canonical_article(article) if article else None))
        return out

    def _targets(self) -> list[tuple[str, str | None]]:
        """The expected entry and every alternative."""
        main = (self.title, canonical_article(self.article) if self.article else None)
        return ([main] if self.title else []) + self._also()

    def accepts(self, e: Entry) -> bool:
        if not self.answerable:
            return False
        if e.source == self.source and e.title == self.title:
            if self.article is None or canonical_article(self.article) == e.article:
                return True
        return any(
            e.title == title and (article is None or article == e.article)
            for title, article in self._also()
        )

    def cited_by(self, e: Entry) -> bool:
        """A curated entry that cites one of the acceptable statute articles or items."""
        if e.source != "curated" or not self.answerable:
            return False
        wanted = {
            f"{law_short_name(title)} {article}" if article else title
            for title, article in self._targets()
        }
        return any(c in wanted for c in e.cites)

    def expected(self) -> str:
        if not self.answerable:
            return "(no answer: should decline)"
        return f"[{self.source}] {self.title}" + (f" {self.article}" if self.article else "")


@dataclass(frozen=True, slots=True)
class Outcome:
    question: Question
    rank: int | None  # 1-based rank of the first acceptable hit within DEPTH, else None
    cited_rank: int | None  # the same, also counting curated entries citing the source
    declined: bool
    got: tuple[str, ...]


def _share(values: list[bool]) -> float:
    return sum(values) / len(values) if values else 0.0


@dataclass(frozen=True, slots=True)
class Report:
    outcomes: tuple[Outcome, ...]

    @property
    def answerable(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.question.answerable]

    @property
    def unanswerable(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.question.answerable]

    @property
    def n(self) -> int:
        return len(self.answerable)

    def hit_at(self, k: int, cited: bool = False, source: str | None = None) -> float:
        rows = [o for o in self.answerable if source is None or o.question.source == source]
        ranks = [o.cited_rank if cited else o.rank for o in rows]
        return _share([r is not None and r <= k for r in ranks])

    def mrr(self, cited: bool = False) -> float:
        ranks = [o.cited_rank if cited else o.rank for o in self.answerable]
        return sum(1.0 / r for r in ranks if r) / len(ranks) if ranks else 0.0

    def summary(self) -> dict[str, object]:
        if not self.answerable:
            return {
                "n": len(self.outcomes),
                "declined": round(_share([o.declined for o in self.outcomes]), 4),
            }
        sources = sorted({o.question.source for o in self.answerable})
        out: dict[str, object] = {
            "n": self.n,
            "hit_at_1": round(self.hit_at(1), 4),
            "hit_at_3": round(self.hit_at(3), 4),
            "mrr": round(self.mrr(), 4),
            "cited_hit_at_1": round(self.hit_at(1, cited=True), 4),
            "cited_hit_at_3": round(self.hit_at(3, cited=True), 4),
            "cited_mrr": round(self.mrr(cited=True), 4),
            "hit_at_1_by_source": {s: round(self.hit_at(1, source=s), 4) for s in sources},
            "declined": round(_share([o.declined for o in self.answerable]), 4),
        }
        if self.unanswerable:
            out["unanswerable_n"] = len(self.unanswerable)
            out["unanswerable_declined"] = round(
                _share([o.declined for o in self.unanswerable]), 4
            )
        return out


def load_questions(path: Path) -> list[Question]:
    """Parse a question file; a malformed line raises ValueError naming the line."""
    questions: list[Question] = []
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("//"):
            continue
        try:
            row = json.loads(line)
            answerable = row.get("answerable", True) is not False
            questions.append(
                Question(
                    question=str(row["question"]),
                    source=str(row["source"]) if answerable else "",
                    title=str(row["title"]) if answerable else "",
                    article=row.get("article") or None,
                    also=tuple(row.get("also") or ()),
                    topic=row.get("topic") or None,
                    answerable=answerable,
                )
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{path}:{no}: bad question line ({exc})") from exc
    return questions


def _label(e: Entry) -> str:
    return f"{e.title}{' ' + e.article if e.article else ''}"


def evaluate(
    questions: Iterable[Question],
    index: KbIndex | None = None,
    use_topic: bool = False,
    nlu_topics: Mapping[str, str | None] | None = None,
) -> Report:
    """Run every question through :func:`search`. The topic prior is off unless
    ``use_topic`` (the file's gold ``topic``) or ``nlu_topics`` (question → the topic the
    NLU predicted, as production passes it: :mod:`hotline.kb.nlu_topics`) is given."""
    outcomes: list[Outcome] = []
    for q in questions:
        if nlu_topics is not None:
            topic = nlu_topics.get(q.question)
        else:
            topic = q.topic if use_topic else None
        result = search(q.question, topic=topic, k=DEPTH, index=index)
        rank = next((h.rank for h in result.hits if q.accepts(h.entry)), None)
        cited = next(
            (h.rank for h in result.hits if q.accepts(h.entry) or q.cited_by(h.entry)), None
        )
        outcomes.append(
            Outcome(
                q, rank, cited, not result.confident,
                tuple(_label(h.entry) for h in result.hits[:3]),
            )
        )
    return Report(tuple(outcomes))


def format_report(report: Report) -> list[str]:
    """Human-readable lines: every miss and wrong decision, the metrics, then JSON last."""
    lines: list[str] = []
    for o in report.outcomes:
        q = o.question
        if not q.answerable:
            if not o.declined:
                lines.append(f"ANSWERED (should decline) {q.question}")
                lines.append(f"    got      {' | '.join(o.got) or '(nothing)'}")
            continue
        if o.cited_rank == 1 and not o.declined:
            continue
        if o.rank == 1 or o.cited_rank == 1:
            what = "DECLINED (rank 1 right)"
        else:
            what = "MISS " + (f"(rank {o.cited_rank})" if o.cited_rank else f"(not in top {DEPTH})")
            if o.declined:
                what += " declined"
        lines.append(f"{what} {q.question}")
        lines.append(f"    expected {q.expected()}")
        lines.append(f"    got      {' | '.join(o.got) or '(nothing)'}")
    s = report.summary()
    if "hit_at_1" in s:
        lines.append(
            f"n={s['n']}  hit@1={s['hit_at_1']:.3f}  hit@3={s['hit_at_3']:.3f}  "
            f"MRR@{DEPTH}={s['mrr']:.3f}  cited hit@1={s['cited_hit_at_1']:.3f}  "
            f"cited hit@3={s['cited_hit_at_3']:.3f}  declined={s['declined']:.3f}"
        )
    else:
        lines.append(f"n={s['n']}  declined={s['declined']:.3f}")
    lines.append(json.dumps(s, ensure_ascii=False))
    return lines
