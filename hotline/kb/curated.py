"""Curated policy summaries (``kb/curated/<topic>.yml``) as entries.

Operators write and extend them (also from the console, :mod:`hotline.kb.curated_edit`);
every entry must cite a statute article or a service item that is in the corpus, which
:class:`CitationIndex` checks, so an answer never quotes a source the hotline does not hold.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import yaml

from hotline.kb.models import Entry
from hotline.kb.numerals import canonical_article
from hotline.kb.source_fields import CuratedError, text_list, value
from hotline.kb.statutes import law_short_name
from hotline.kb.topics import topic_names

CURATED_DIR = Path("curated")
CURATED_REQUIRED = ("id", "title", "summary", "source")


class CitationIndex:
    """Resolves curated ``source`` strings against the statutes and service items."""

    _CITE_RE = re.compile(r"^(.+?)\s*(第\s*[0-9零〇一二两三四五六七八九十百千]+\s*条)$")

    def __init__(self, laws: Iterable[Entry], items: Iterable[Entry]) -> None:
        self._articles: dict[tuple[str, str], Entry] = {}
        for e in laws:
            assert e.article is not None
            for name in (e.title, law_short_name(e.title)):
                self._articles[(name, e.article)] = e
                if name.startswith("中华人民共和国"):
                    self._articles[(name.removeprefix("中华人民共和国"), e.article)] = e
        self._items = {e.title for e in items}

    def resolve(self, cite: str) -> str | None:
        """The canonical citation text, or None if nothing in the corpus matches."""
        cite = " ".join(cite.split())
        m = self._CITE_RE.match(cite)
        if m:
            law = m.group(1).strip().strip("《》").removeprefix("中华人民共和国")
            article = canonical_article(m.group(2).replace(" ", ""))
            entry = self._articles.get((law, article or ""))
            return entry.source_line if entry else None
        name = cite.removeprefix("广东省政务服务事项：").strip()
        return name if name in self._items else None


def parse_curated_file(path: Path, cites: CitationIndex, topics: tuple[str, ...]) -> list[Entry]:
    """Entries of one ``curated/<topic>.yml``; raises :class:`CuratedError` on bad data."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    file_topic = path.stem
    if isinstance(data, dict):
        file_topic = str(data.get("topic") or file_topic)
        rows = data.get("entries") or []
    else:
        rows = data or []
    if not isinstance(rows, list):
        raise CuratedError(f"{path}: expected a list of entries")
    entries: list[Entry] = []
    for i, row in enumerate(rows, 1):
        where = f"{path.name} entry {i}"
        if not isinstance(row, dict):
            raise CuratedError(f"{where}: not a mapping")
        missing = [k for k in CURATED_REQUIRED if not row.get(k)]
        if missing:
            raise CuratedError(f"{where}: missing {', '.join(missing)}")
        topic = str(row.get("topic") or file_topic)
        if topic not in topics:
            raise CuratedError(f"{where}: unknown topic {topic!r}")
        sources = text_list(row["source"], where, "source")
        resolved: list[str] = []
        for cite in sources:
            ok = cites.resolve(cite)
            if ok is None:
                raise CuratedError(f"{where} ({row['id']}): source {cite!r} is not in the corpus")
            resolved.append(ok)
        entries.append(
            Entry(
                id=f"curated:{row['id']}",
                source="curated",
                topic=topic,
                title=str(row["title"]).strip(),
                summary=str(row["summary"]).strip(),
                text="\n".join(
                    [str(row["summary"])]
                    + list(text_list(row.get("steps"), where, "steps"))
                    + list(text_list(row.get("materials"), where, "materials"))
                    + [str(row.get("eligibility") or "")]
                ).strip(),
                eligibility=value(row.get("eligibility")),
                materials=text_list(row.get("materials"), where, "materials"),
                steps=text_list(row.get("steps"), where, "steps"),
                time_limit=value(row.get("time_limit")),
                fees=value(row.get("fees")),
                department=value(row.get("department")),
                location=value(row.get("location")),
                phone=value(row.get("contact")),
                url=value(row.get("url")),
                source_line="；".join(resolved),
                cites=tuple(resolved),
                keywords=text_list(row.get("keywords"), where, "keywords"),
            )
        )
    return entries


def load_curated(kb: Path, laws: list[Entry], items: list[Entry]) -> list[Entry]:
    cites = CitationIndex(laws, items)
    topics = topic_names()
    entries: list[Entry] = []
    for path in sorted((kb / CURATED_DIR).glob("*.yml")):
        entries.extend(parse_curated_file(path, cites, topics))
    return entries
