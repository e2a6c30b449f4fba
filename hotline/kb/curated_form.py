"""The console's edit form of a curated entry, and its validation.

A form is every field as a string (lists one item per line); :func:`clean` turns it into the
values a save writes and :func:`check` applies the build's rules to them — required fields,
a known topic, every ``source`` found by the build's
:class:`~hotline.kb.curated.CitationIndex` — with Chinese messages for the editor
(:class:`CuratedEditError`). Writing the file is :mod:`hotline.kb.curated_edit`'s job.
"""

from __future__ import annotations

import re
import threading
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from hotline.kb import paths
from hotline.kb.curated import CitationIndex
from hotline.kb.service_items import load_items
from hotline.kb.statutes import load_laws
from hotline.kb.topics import topic_names

ID_RE = re.compile(r"^[a-z][a-z0-9_]{1,59}$")
RESERVED_IDS = {"new"}  # /console/kb/curated/new is the creation form
#: Single-line text fields, multi-line text fields, list fields (one item per line).
LINE_FIELDS = ("title", "time_limit", "fees", "department", "location", "contact", "url")
TEXT_FIELDS = ("summary", "eligibility")
LIST_FIELDS = ("materials", "steps", "keywords", "source")
LIMITS = {"line": 300, "title": 100, "text": 4000, "items": 60}
LABELS = {
    "id": "编号", "topic": "主题", "title": "标题", "summary": "摘要", "eligibility": "办理条件",
    "materials": "所需材料", "steps": "办理步骤", "time_limit": "办理时限", "fees": "收费",
    "department": "办理部门", "location": "办理地点", "contact": "咨询方式",
    "url": "网上办理地址", "keywords": "检索关键词", "source": "依据",
}
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_KEYWORD_SPLIT_RE = re.compile(r"[\n,，、;；]+")


class CuratedEditError(ValueError):
    """The edit cannot be saved; ``str(error)`` is a Chinese sentence for the editor."""


@dataclass
class CuratedForm:
    """An entry as the edit form shows it: every field a string (lists one item per line).

    ``base`` is the version of the entry the form was opened from ("" for a new entry).
    """

    id: str = ""
    topic: str = ""
    title: str = ""
    summary: str = ""
    eligibility: str = ""
    materials: str = ""
    steps: str = ""
    time_limit: str = ""
    fees: str = ""
    department: str = ""
    location: str = ""
    contact: str = ""
    url: str = ""
    keywords: str = ""
    source: str = ""
    base: str = ""

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _clean_text(raw: str) -> str:
    text = (raw or "").replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return _CONTROL_RE.sub("", text).strip()


def clean(form: CuratedForm) -> dict[str, Any]:
    """Cleaned values (str or list of str) of the form; Chinese errors for bad ones."""
    values: dict[str, Any] = {"id": _clean_text(form.id).lower(),
                              "topic": _clean_text(form.topic)}
    for name in LINE_FIELDS:
        text = " ".join(_clean_text(getattr(form, name)).split())
        limit = LIMITS["title"] if name == "title" else LIMITS["line"]
        if len(text) > limit:
            raise CuratedEditError(f"「{LABELS[name]}」最多 {limit} 个字。")
        values[name] = text
    for name in TEXT_FIELDS:
        text = "\n".join(line.strip() for line in _clean_text(getattr(form, name)).split("\n"))
        text = re.sub(r"\n{3,}", "\n\n", text)
        if len(text) > LIMITS["text"]:
            raise CuratedEditError(f"「{LABELS[name]}」最多 {LIMITS['text']} 个字。")
        values[name] = text
    for name in LIST_FIELDS:
        raw = _clean_text(getattr(form, name))
        parts = _KEYWORD_SPLIT_RE.split(raw) if name == "keywords" else raw.split("\n")
        items: list[str] = []
        for part in parts:
            item = " ".join(part.split())
            if item and item not in items:
                items.append(item)
        if len(items) > LIMITS["items"]:
            raise CuratedEditError(f"「{LABELS[name]}」最多 {LIMITS['items']} 项。")
        if any(len(item) > LIMITS["line"] for item in items):
            raise CuratedEditError(f"「{LABELS[name]}」每项最多 {LIMITS['line']} 个字。")
        values[name] = items
    return values


def check(values: dict[str, Any], cites: CitationIndex) -> None:
    entry_id = values["id"]
    if not ID_RE.match(entry_id) or entry_id in RESERVED_IDS:
        raise CuratedEditError(
            "编号只能用小写英文字母、数字和下划线，以字母开头，2–60 位（如 open_restaurant）。")
    if values["topic"] not in topic_names():
        raise CuratedEditError("请选择主题。")
    for name in ("title", "summary"):
        if not values[name]:
            raise CuratedEditError(f"请填写「{LABELS[name]}」。")
    if not values["source"]:
        raise CuratedEditError(
            "请填写「依据」：每条政策指引都必须引用法规条文或广东省政务服务事项，每行一条。")
    for cite in values["source"]:
        if cites.resolve(cite) is None:
            raise CuratedEditError(
                f"依据「{cite}」在知识库的法规条文和政务服务事项中找不到。请写成“法规名称 第X条”"
                "（如：市场主体登记管理条例 第十六条），或政务服务事项的完整名称。")
    if values["url"] and not re.match(r"^https?://", values["url"]):
        raise CuratedEditError("「网上办理地址」须以 http:// 或 https:// 开头。")


_cites_lock = threading.Lock()
_cites_cache: tuple[tuple[Any, ...], CitationIndex] | None = None


def _sources_key(kb: Path) -> tuple[Any, ...]:
    files = sorted(p for p in (kb / "sources").rglob("*") if p.is_file())
    return (str(kb.resolve()),) + tuple(
        (str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)


def citation_index(kb: Path | None = None) -> CitationIndex:
    """The build's citation resolver for ``kb`` (cached until a source file changes)."""
    global _cites_cache
    kb = kb or paths.kb_dir()
    key = _sources_key(kb)
    with _cites_lock:
        if _cites_cache is None or _cites_cache[0] != key:
            _cites_cache = (key, CitationIndex(load_laws(kb), load_items(kb)))
        return _cites_cache[1]
