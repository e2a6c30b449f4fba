"""Data shapes of the knowledge base.

One flat :class:`Entry` serves all three sources (statute articles, Guangdong service
items, curated policy summaries) so that search, evaluation and the chat renderer
handle them alike; fields a source does not have stay empty rather than being
stuffed with placeholders, so a renderer can simply skip them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

SourceKind = Literal["laws", "gd_service_items", "curated"]
SOURCES: tuple[SourceKind, ...] = ("laws", "gd_service_items", "curated")


@dataclass(frozen=True, slots=True)
class Entry:
    """One answerable unit: an article, a service item, or a curated summary.

    ``source_line`` is what an answer cites ("优化营商环境条例 第二十三条" or
    "广东政务服务事项：…"), so operators can check every answer against its origin.
    """

    id: str
    source: SourceKind
    topic: str
    title: str
    summary: str
    text: str = ""
    article: str | None = None
    chapter: str | None = None
    eligibility: str | None = None
    materials: tuple[str, ...] = ()
    steps: tuple[str, ...] = ()
    time_limit: str | None = None
    fees: str | None = None
    department: str | None = None
    location: str | None = None
    phone: str | None = None
    complaint_phone: str | None = None
    serves: tuple[str, ...] = ()
    url: str | None = None
    item_type: str | None = None
    source_line: str = ""
    cites: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entry:
        """Inverse of :meth:`to_dict` (the on-disk index stores entries as JSON)."""
        values = dict(data)
        for name in ("materials", "steps", "serves", "cites", "keywords"):
            values[name] = tuple(values.get(name) or ())
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Hit:
    """A ranked search result; ``entry`` carries everything needed to answer."""

    entry: Entry
    score: float
    rank: int

    def to_json(self) -> dict[str, Any]:
        e = self.entry
        return {
            "rank": self.rank,
            "id": e.id,
            "source": e.source,
            "title": e.title,
            "article": e.article,
            "score": round(self.score, 4),
            "topic": e.topic,
            "department": e.department,
        }


@dataclass(frozen=True, slots=True)
class SearchResult:
    """Ranked hits plus whether the top hit is trustworthy enough to answer from.

    ``confident`` is False for weak or ambiguous matches so the bot can say it is not
    sure (or hand over to a person) instead of quoting an unrelated regulation.
    """

    query: str
    normalized: str
    hits: tuple[Hit, ...] = ()
    confident: bool = False
    coverage: float = 0.0
    message: str | None = None
    tokens: tuple[str, ...] = field(default=())
    missing: tuple[str, ...] = field(default=())  # question words the top entry lacks
    reason: str = ""  # why the top entry answers or not (hotline.kb.decide)

    @property
    def top(self) -> Hit | None:
        return self.hits[0] if self.hits else None

    def to_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "normalized": self.normalized,
            "confident": self.confident,
            "coverage": round(self.coverage, 3),
            "missing": list(self.missing),
            "reason": self.reason,
            "message": self.message,
            "results": [h.to_json() for h in self.hits],
        }
