"""Turning the copied sources into :class:`~hotline.kb.models.Entry` objects.

Three inputs, all inside the repository (``kb/``), each read by its own module: the statutes
(:mod:`hotline.kb.statutes`, split into articles, with their glosses), the Guangdong service
items (:mod:`hotline.kb.service_items`) and curated policy summaries (:mod:`hotline.kb.curated`)
that operators extend. Ids are derived from content that does not move (law file + article
number, item name + department), so bookmarks, logs and tests survive rebuilds.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from hotline.kb.curated import load_curated
from hotline.kb.models import Entry
from hotline.kb.service_items import load_items
from hotline.kb.statutes import load_laws


@dataclass(frozen=True, slots=True)
class Corpus:
    """All entries plus lookups used to validate citations."""

    entries: tuple[Entry, ...]

    def counts(self) -> dict[str, int]:
        return dict(Counter(e.source for e in self.entries))


def load_corpus(kb: Path) -> Corpus:
    """Every entry of the knowledge base, in a stable order; ids must be unique."""
    laws = load_laws(kb)
    items = load_items(kb)
    curated = load_curated(kb, laws, items)
    entries = tuple(laws + items + curated)
    dup = [i for i, n in Counter(e.id for e in entries).items() if n > 1]
    if dup:
        raise ValueError(f"duplicate knowledge-base ids: {dup[:5]}")
    return Corpus(entries)
