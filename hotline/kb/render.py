"""An entry as Telegram messages (HTML parse mode): the 一次性告知 answer.

Everything from the data is escaped with :func:`html.escape` — item names and statute
text contain ``<``/``>``/``&`` (《》 is safe, but pasted data is not trusted). Telegram
caps a message at 4096 characters; chunks stay at or below ``MAX_CHUNK`` and break
only between lines, so no tag or entity is ever cut in half.
"""

from __future__ import annotations

import html

from hotline.kb.aspects import Aspect
from hotline.kb.models import Entry

MAX_CHUNK = 3500


def _e(text: str) -> str:
    return html.escape(text, quote=False)


def _split_long(prefix: str, raw: str, limit: int) -> list[str]:
    """``prefix`` + escaped ``raw`` as lines of at most ``limit`` characters each."""
    lines: list[str] = []
    current = prefix
    for ch in raw:
        piece = _e(ch)
        if len(current) + len(piece) > limit:
            lines.append(current)
            current = ""
        current += piece
    if current:
        lines.append(current)
    return lines


def _line(label: str, value: str | None, limit: int) -> list[str]:
    if not value:
        return []
    return _split_long(f"{_e(label)}：" if label else "", value, limit)


def answer_lines(entry: Entry, limit: int = MAX_CHUNK) -> list[str]:
    """The answer as HTML lines (each already escaped and at most ``limit`` long)."""
    lines: list[str] = []
    title = entry.title + (f" {entry.article}" if entry.article else "")
    for part in _split_long("", title, limit - len("<b></b>")):
        lines.append(f"<b>{part}</b>")
    if entry.chapter:
        lines += _split_long("", entry.chapter, limit)
    lines += _split_long("", entry.summary, limit)
    lines += _line("办理条件", entry.eligibility, limit)
    if entry.materials:
        lines.append("")
        lines.append("<b>所需材料</b>")
        for i, item in enumerate(entry.materials, 1):
            lines += _split_long(f"{i}. ", item, limit)
    if entry.steps:
        lines.append("")
        lines.append("<b>办理步骤</b>")
        for i, step in enumerate(entry.steps, 1):
            lines += _split_long(f"{i}. ", step, limit)
    details = (
        _line("办理时限", entry.time_limit, limit)
        + _line("收费", entry.fees, limit)
        + _line("办理部门", entry.department, limit)
        + _line("办理地点", entry.location, limit)
        + _line("咨询电话", entry.phone, limit)
        + _line("投诉电话", entry.complaint_phone, limit)
        + _line("网上办理", entry.url, limit)
    )
    if details:
        lines.append("")
        lines += details
    if entry.source_line:
        lines.append("")
        lines += _line("来源", entry.source_line, limit)
    return lines


def chunk_lines(lines: list[str], limit: int = MAX_CHUNK) -> list[str]:
    """Join lines into messages of at most ``limit`` characters, breaking between lines."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        extra = len(line) + (1 if current else 0)
        if current and size + extra > limit:
            chunks.append("\n".join(current).strip("\n"))
            current, size = [], 0
            extra = len(line)
        if not current and not line:
            continue  # no chunk starts with a blank line
        current.append(line)
        size += extra
    if current:
        chunks.append("\n".join(current).strip("\n"))
    return [c for c in chunks if c]


def _aspect_lines(entry: Entry, aspect: Aspect, limit: int) -> list[str]:
    lines = [f"<b>{_e(aspect.label)}</b>"]
    if aspect.name in ("materials", "steps"):
        items = entry.materials if aspect.name == "materials" else entry.steps
        for i, item in enumerate(items, 1):
            lines += _split_long(f"{i}. ", item, limit)
    else:
        value = entry.phone if aspect.name == "phone" else getattr(entry, aspect.name)
        lines += _split_long("", str(value), limit)
    return lines


def focused_lines(entry: Entry, aspects: list[Aspect], limit: int = MAX_CHUNK,
                  summary: bool = False) -> list[str]:
    """The asked parts of an entry first (title, each part, department, source); with
    ``summary``, the entry's summary after the title (the question also asked something
    no part holds)."""
    lines: list[str] = []
    title = entry.title + (f" {entry.article}" if entry.article else "")
    for part in _split_long("", title, limit - len("<b></b>")):
        lines.append(f"<b>{part}</b>")
    if summary and entry.summary:
        lines += _split_long("", entry.summary, limit)
    for aspect in aspects:
        lines.append("")
        lines += _aspect_lines(entry, aspect, limit)
    names = {a.name for a in aspects}
    if "department" not in names and entry.department:
        lines.append("")
        lines += _line("办理部门", entry.department, limit)
    if entry.source_line:
        lines.append("")
        lines += _line("来源", entry.source_line, limit)
    return lines


def render_focused(entry: Entry, aspects: list[Aspect], limit: int = MAX_CHUNK,
                   summary: bool = False) -> list[str]:
    """Telegram HTML chunks answering only the asked parts (the full list is a tap away)."""
    return chunk_lines(focused_lines(entry, aspects, limit, summary), limit)


def render_answer(entry: Entry, limit: int = MAX_CHUNK) -> list[str]:
    """Telegram HTML chunks for ``entry``: title, summary, materials, time limit, where, source."""
    return chunk_lines(answer_lines(entry, limit), limit)
