"""Statutes (``kb/sources/laws/*.md``) as one entry per article, with the glosses of
``kb/glosses/`` (everyday phrasings of an article, indexed with it and never shown).

An article's id is ``law:<file stem>:<article number>``: it does not move when the file is
copied again, so bookmarks, logs and tests survive rebuilds.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import yaml

from hotline.kb.models import Entry
from hotline.kb.numerals import canonical_article
from hotline.kb.source_fields import CuratedError, text_list
from hotline.kb.topics import law_topic

LAWS_DIR = Path("sources") / "laws"
GLOSSES_DIR = Path("glosses")

_ARTICLE_RE = re.compile(
    r"^(第[零〇一二两三四五六七八九十百千]+条(?:之[一二三四五六七八九十]+)?)[\s\u3000]+(.*)$"
)
_DATE_SUFFIX_RE = re.compile(r"\(\d{4}-\d{2}-\d{2}\)$")
_CJK_GAP_RE = re.compile(r"(?<=[\u4e00-\u9fff])[ \u3000]+(?=[\u4e00-\u9fff])")


def law_short_name(stem: str) -> str:
    """``"优化营商环境条例(2019-10-22)"`` → ``"优化营商环境条例"``."""
    return _DATE_SUFFIX_RE.sub("", stem).strip()


def _clean_heading(text: str) -> str:
    """``"第一章　总 则"`` → ``"第一章 总则"`` (the files space headings inconsistently)."""
    text = text.replace("\u3000", " ").strip()
    head, _, rest = text.partition(" ")
    rest = _CJK_GAP_RE.sub("", rest.strip())
    return f"{head} {rest}".strip()


def parse_law(path: Path) -> list[Entry]:
    """Split one statute file into article entries (text includes later paragraphs)."""
    stem = path.stem
    short = law_short_name(stem)
    lines = path.read_text(encoding="utf-8").splitlines()
    if "<!-- INFO END -->" in (line.strip() for line in lines):
        start = next(i for i, line in enumerate(lines) if line.strip() == "<!-- INFO END -->")
        lines = lines[start + 1 :]
    entries: list[Entry] = []
    chapter = section = ""
    number: str | None = None
    paragraphs: list[str] = []
    where = ""

    def flush() -> None:
        if number is None:
            return
        text = "\n".join(paragraphs).strip()
        entries.append(
            Entry(
                id=f"law:{stem}:{number}",
                source="laws",
                topic=law_topic(stem, where, text),
                title=stem,
                summary=text,
                text=text,
                article=number,
                chapter=where or None,
                source_line=f"{short} {number}",
                keywords=(short,),
            )
        )

    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if line.startswith("### "):
            section = _clean_heading(line[4:])
            continue
        if line.startswith("## "):
            chapter, section = _clean_heading(line[3:]), ""
            continue
        if line.startswith("#"):
            continue
        m = _ARTICLE_RE.match(line)
        if m:
            flush()
            number, paragraphs = m.group(1), [m.group(2).strip()]
            where = f"{chapter} {section}".strip()
        elif number is not None:
            paragraphs.append(line)
    flush()
    return entries


def load_glosses(kb: Path, laws: list[Entry]) -> dict[str, tuple[str, ...]]:
    """Law entry id → everyday phrasings (``glosses/<law stem>.yml``).

    Glosses are search aids written for the hotline: the words a business owner uses when
    the article is the answer (进项比销项多 for 进项税额大于销项税额). They are indexed with
    the article and never shown. A gloss for a law or article that does not exist is an
    error, so a renumbered statute cannot silently keep stale glosses.
    """
    ids = {e.id for e in laws}
    out: dict[str, tuple[str, ...]] = {}
    for path in sorted((kb / GLOSSES_DIR).glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict) or not isinstance(data.get("articles"), dict):
            raise CuratedError(f"{path.name}: expected 'law' and an 'articles' mapping")
        stem = str(data.get("law") or path.stem)
        for article, phrases in data["articles"].items():
            key = f"law:{stem}:{canonical_article(str(article)) or article}"
            if key not in ids:
                raise CuratedError(f"{path.name}: {stem} has no {article}")
            words = text_list(phrases, f"{path.name} {article}", "phrases")
            out[key] = tuple(dict.fromkeys(out.get(key, ()) + words))
    return out


def load_laws(kb: Path) -> list[Entry]:
    """Every statute article, with its glosses (if any) after the law's short name."""
    entries: list[Entry] = []
    for path in sorted((kb / LAWS_DIR).glob("*.md")):
        entries.extend(parse_law(path))
    glosses = load_glosses(kb, entries)
    return [
        dataclasses.replace(e, keywords=e.keywords + glosses[e.id]) if e.id in glosses else e
        for e in entries
    ]
