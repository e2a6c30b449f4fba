"""The Guangdong service items (``kb/sources/gd_service_items.jsonl``) as entries.

Only lines that are services become entries (:func:`hotline.kb.item_filter.dropped_reason`
says why the others are not). An item's id is derived from its name and department, which do
not move between copies of the catalogue.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from hotline.kb.item_filter import dropped_reason
from hotline.kb.models import Entry
from hotline.kb.source_fields import NONE_VALUES, value
from hotline.kb.topics import item_topic

ITEMS_FILE = Path("sources") / "gd_service_items.jsonl"

_TIME_RE = re.compile(r"^(\d+)\s*\((工作日|自然日|日|天|个月|月|年)\)$")
_ENUM_PREFIX_RE = re.compile(r"^\s*(?:\d+|[一二三四五六七八九十]+)\s*[.、．)）]\s*")


def _time_text(raw: Any) -> str | None:
    """``"7(工作日)"`` → ``"7个工作日"``; other wording is kept as written."""
    text = value(raw)
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
        raw = [] if value(raw) is None else re.split(r"[；;\n]+", raw)
    items: list[str] = []
    for part in raw or []:
        text = _ENUM_PREFIX_RE.sub("", str(part)).strip().rstrip("。；;，,")
        if text and text not in NONE_VALUES and text not in items:
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
    dept = (value(row.get("DEPT_NAME")) or "").strip()
    item_type = value(row.get("matter_type")) or ""
    conditions = value(row.get("accept_standard"))
    materials = parse_materials(row.get("material_intro"))
    location = value(row.get("handle_location"))
    if location:
        location = re.sub(r"^办理地点[:：]\s*", "", location).strip() or None
        if location in NONE_VALUES:
            location = None
    sub = value(row.get("subTaskName"))
    themes = tuple(t for t in (row.get("theme_category") or []) if value(t) and t != "其他")
    serves = tuple(str(s) for s in (row.get("service_object_name") or []) if value(s))
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
        phone=value(row.get("consult_phone")),
        complaint_phone=value(row.get("complain_phone")),
        serves=serves,
        url=value(row.get("URL")),
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
        if dropped_reason(str(r.get("matter_name") or ""), value(r.get("matter_type"))) is None
    ]


def dropped_items(kb: Path) -> list[tuple[str, str]]:
    """(name, reason) of every catalogue line that is not a service, in file order."""
    out: list[tuple[str, str]] = []
    for r in _item_rows(kb):
        name = str(r.get("matter_name") or "")
        why = dropped_reason(name, value(r.get("matter_type")))
        if why is not None:
            out.append((name, why))
    return out
