"""Turning the copied sources into :class:`~hotline.kb.models.Entry` objects.

Three inputs, all inside the repository (``kb/``): the statutes (``sources/laws/*.md``,
split into articles), the Guangdong service items (``sources/gd_service_items.jsonl``)
and curated policy summaries (``curated/<topic>.yml``) that operators extend. Ids are
derived from content that does not move (law file + article number, item name +
department), so bookmarks, logs and tests survive rebuilds.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hotline.kb.item_filter import dropped_reason
from hotline.kb.models import Entry
from hotline.kb.numerals import canonical_article
from hotline.kb.topics import item_topic, law_topic, topic_names

LAWS_DIR = Path("sources") / "laws"
ITEMS_FILE = Path("sources") / "gd_service_items.jsonl"
CURATED_DIR = Path("curated")
GLOSSES_DIR = Path("glosses")

_ARTICLE_RE = re.compile(
    r"^(第[零〇一二两三四五六七八九十百千]+条(?:之[一二三四五六七八九十]+)?)[\s\u3000]+(.*)$"
)
_DATE_SUFFIX_RE = re.compile(r"\(\d{4}-\d{2}-\d{2}\)$")
_CJK_GAP_RE = re.compile(r"(?<=[\u4e00-\u9fff])[ \u3000]+(?=[\u4e00-\u9fff])")
_TIME_RE = re.compile(r"^(\d+)\s*\((工作日|自然日|日|天|个月|月|年)\)$")
_ENUM_PREFIX_RE = re.compile(r"^\s*(?:\d+|[一二三四五六七八九十]+)\s*[.、．)）]\s*")
_NONE_VALUES = {"", "无", "暂无", "null", "None", "-", "/"}

CURATED_REQUIRED = ("id", "title", "summary", "source")


class CuratedError(ValueError):
    """A curated YAML entry is malformed or cites a source that does not exist."""


@dataclass(frozen=True, slots=True)
class Corpus:
    """All entries plus lookups used to validate citations."""

    entries: tuple[Entry, ...]

    def counts(self) -> dict[str, int]:
        return dict(Counter(e.source for e in self.entries))


def law_short_name(stem: str) -> str:
    """``"优化营商环境条例(2019-10-22)"`` → ``"优化营商环境条例"``."""
    return _DATE_SUFFIX_RE.sub("", stem).strip()


def _clean_heading(text: str) -> str:
    """``"第一章　总 则"`` → ``"第一章 总则"`` (the files space headings inconsistently)."""
    text = text.replace("\u3000", " ").strip()
    head, _, rest = text.partition(" ")
    rest = _CJK_GAP_RE.sub("", rest.strip())
    return f"{head} {rest}".strip()


def _value(raw: Any) -> str | None:
    """A data-file string, or None for the placeholders that mean "none"."""
    if raw is None:
        return None
    text = str(raw).strip()
    return None if text in _NONE_VALUES else text


# --------------------------------------------------------------------------- statutes


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
            words = _text_list(phrases, f"{path.name} {article}", "phrases")
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


# ---------------------------------------------------------------------- service items


def _time_text(raw: Any) -> str | None:
    """``"7(工作日)"`` → ``"7个工作日"``; other wording is kept as written."""
    text = _value(raw)
    if text is None:
        return None
    m = _TIME_RE.match(text)
    if not m:
        return text
    n, unit = m.groups()
    unit = {"工作日": "个工作日", "自然日": "个自然日", "日": "日", "天": "天", "月": "个月"}.get(
        unit, unit
    )
    return f"{n}{unit}"


def _time_limit(promised: Any, legal: Any) -> str | None:
    p, lg = _time_text(promised), _time_text(legal)
    if p and lg and p != lg:
        return f"承诺{p}（法定{lg}）"
    if p:
        return f"承诺{p}"
    if lg:
        return f"法定{lg}"
    return None


def parse_materials(raw: Any) -> tuple[str, ...]:
    """The ``material_intro`` list (or "无") as clean, de-duplicated item strings."""
    if isinstance(raw, str):
        raw = [] if _value(raw) is None else re.split(r"[；;\n]+", raw)
    items: list[str] = []
    for part in raw or []:
        text = _ENUM_PREFIX_RE.sub("", str(part)).strip().rstrip("。；;，,")
        if text and text not in _NONE_VALUES and text not in items:
            items.append(text)
    return tuple(items)


def _item_key(row: dict[str, Any]) -> str:
    return f"{row.get('matter_name', '')}|{row.get('DEPT_NAME', '')}"


def item_id(row: dict[str, Any], duplicated: bool) -> str:
    """``item:`` + sha1(matter_name|department)[:12]; same-named sub-items add TASK_CODE."""
    key = _item_key(row)
    if duplicated:
        key += f"|{row.get('TASK_CODE', '')}"
    return "item:" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:12]


def item_entry(row: dict[str, Any], duplicated: bool = False) -> Entry:
    name = str(row.get("matter_name") or "").strip()
    dept = (_value(row.get("DEPT_NAME")) or "").strip()
    item_type = _value(row.get("matter_type")) or ""
    conditions = _value(row.get("accept_standard"))
    materials = parse_materials(row.get("material_intro"))
    location = _value(row.get("handle_location"))
    if location:
        location = re.sub(r"^办理地点[:：]\s*", "", location).strip() or None
        if location in _NONE_VALUES:
            location = None
    sub = _value(row.get("subTaskName"))
    themes = tuple(t for t in (row.get("theme_category") or []) if _value(t) and t != "其他")
    serves = tuple(str(s) for s in (row.get("service_object_name") or []) if _value(s))
    what = f"{item_type}事项" if item_type else "政务服务事项"
    summary = f"「{name}」是{dept or '广东省有关部门'}的{what}"
    if sub and sub != name:
        summary += f"（{sub}）"
    summary += "。"
    text_parts = [
        name,
        sub or "",
        dept,
        item_type,
        conditions or "",
        "；".join(materials),
        " ".join(themes),
    ]
    return Entry(
        id=item_id(row, duplicated),
        source="gd_service_items",
        topic=item_topic(name, dept, item_type, conditions or ""),
        title=name,
        summary=summary,
        text="\n".join(p for p in text_parts if p),
        eligibility=conditions,
        materials=materials,
        time_limit=_time_limit(row.get("handle_time_limit"), row.get("handle_time")),
        department=dept or None,
        location=location,
        phone=_value(row.get("consult_phone")),
        complaint_phone=_value(row.get("complain_phone")),
        serves=serves,
        url=_value(row.get("URL")),
        item_type=item_type or None,
        source_line=f"广东省政务服务事项：{name}（{dept}）"
        if dept
        else f"广东省政务服务事项：{name}",
        keywords=themes,
    )


def _item_rows(kb: Path) -> list[dict[str, Any]]:
    path = kb / ITEMS_FILE
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def load_items(kb: Path) -> list[Entry]:
    """Service items that are services (see :mod:`hotline.kb.item_filter`)."""
    rows = _item_rows(kb)
    keys = Counter(_item_key(r) for r in rows)
    return [
        item_entry(r, duplicated=keys[_item_key(r)] > 1)
        for r in rows
        if dropped_reason(str(r.get("matter_name") or ""), _value(r.get("matter_type"))) is None
    ]


def dropped_items(kb: Path) -> list[tuple[str, str]]:
    """(name, reason) of every catalogue line that is not a service, in file order."""
    out: list[tuple[str, str]] = []
    for r in _item_rows(kb):
        name = str(r.get("matter_name") or "")
        why = dropped_reason(name, _value(r.get("matter_type")))
        if why is not None:
            out.append((name, why))
    return out


# ------------------------------------------------------------------------- curated


def _text_list(value: Any, where: str, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value.strip(),) if value.strip() else ()
    if not isinstance(value, list):
        raise CuratedError(f"{where}: '{name}' must be a list of strings")
    return tuple(str(v).strip() for v in value if str(v).strip())


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
        sources = _text_list(row["source"], where, "source")
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
                    + list(_text_list(row.get("steps"), where, "steps"))
                    + list(_text_list(row.get("materials"), where, "materials"))
                    + [str(row.get("eligibility") or "")]
                ).strip(),
                eligibility=_value(row.get("eligibility")),
                materials=_text_list(row.get("materials"), where, "materials"),
                steps=_text_list(row.get("steps"), where, "steps"),
                time_limit=_value(row.get("time_limit")),
                fees=_value(row.get("fees")),
                department=_value(row.get("department")),
                location=_value(row.get("location")),
                phone=_value(row.get("contact")),
                url=_value(row.get("url")),
                source_line="；".join(resolved),
                cites=tuple(resolved),
                keywords=_text_list(row.get("keywords"), where, "keywords"),
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
