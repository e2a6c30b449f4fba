"""Editing curated entries (``kb/curated/<topic>.yml``) from the console.

The files stay the single source of truth: the console reads them, and a save rewrites
one file. Rules:

- **Same validation as the build.** Required fields and every ``source`` citation are
  checked against the corpus with :class:`~hotline.kb.curated.CitationIndex` (Chinese
  messages for the editor, :mod:`hotline.kb.curated_form`), then the whole candidate file goes through
  :func:`~hotline.kb.curated.parse_curated_file`, the function ``kb build`` uses. A file
  the build would reject is never written.
- **Nothing else in the file changes.** Files are loaded and dumped with ruamel.yaml's
  round-trip mode, so header comments, the other entries and their styles (``>-``
  summaries, ``[a, b]`` keyword lists) are kept byte for byte; unchanged fields of the
  edited entry keep their style too.
- **Atomic.** The new text goes to a temporary file in ``curated/`` that is fsynced and
  renamed over the old one, so a reader (or a crash) sees the old or the new file, never
  half of one. Saves in one process are serialized, and a save based on an outdated copy
  of the entry (someone else saved in between) is refused instead of overwriting it.
- **Who and when.** Every save sets two fields on the entry, which the build ignores:
  ``updated_by`` (``"王管理（admin）"``) and ``updated_at`` (local ISO time,
  ``"2026-05-01T10:00:00+08:00"``). History beyond the last edit is git's job.
- **Where.** New entries go to ``curated/<topic>.yml`` (created when missing). Changing
  an entry's topic keeps it in its file and writes a per-entry ``topic:`` instead (one
  atomic write, no move between files). Ids are fixed once created: feedback, logs and
  the bot's ``kb_entry`` slot refer to them.

The directory is :func:`hotline.kb.paths.kb_dir` (``$HOTLINE_KB_DIR``), or ``kb``.
After a save the process-wide search index is reset; the next search rebuilds it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import LiteralScalarString

from hotline.kb import paths
from hotline.kb.curated import CURATED_DIR, CitationIndex, parse_curated_file
from hotline.kb.curated_form import (
    ID_RE,
    LINE_FIELDS,
    LIST_FIELDS,
    TEXT_FIELDS,
    CuratedEditError,
    CuratedForm,
    check,
    citation_index,
    clean,
)
from hotline.kb.source_fields import CuratedError
from hotline.kb.topics import topic_labels, topic_names

#: Key order of a written entry (existing entries keep theirs; new keys slot in here).
KEY_ORDER = (
    "id", "title", "topic", "summary", "eligibility", "materials", "steps", "time_limit",
    "fees", "department", "location", "contact", "url", "keywords", "source",
    "updated_by", "updated_at",
)
FILE_HEADER = (
    "{label} — curated policy summaries (一次性告知). Every entry must cite a statute\n"
    "article of kb/sources/laws or a service item name of kb/sources/gd_service_items.jsonl\n"
    "in `source`; `python -m hotline kb build` rejects citations that do not exist."
)


@dataclass(frozen=True)
class CuratedRecord:
    """One curated entry for listings."""

    id: str
    topic: str
    topic_zh: str
    title: str
    file: str
    sources: tuple[str, ...]
    updated_by: str | None
    updated_at: str | None


# ----------------------------------------------------------------------------- reading


def _yaml() -> YAML:
    y = YAML()  # round-trip: comments, key order and scalar styles survive a dump
    y.width = 4096  # never fold long lines of new text
    y.indent(mapping=2, sequence=4, offset=2)
    y.preserve_quotes = True
    return y


def curated_dir(kb: Path | None = None) -> Path:
    return (kb or paths.kb_dir()) / CURATED_DIR


def _rows(doc: Any) -> list[Any]:
    rows = doc.get("entries") if isinstance(doc, dict) else doc
    return rows if isinstance(rows, list) else []


def _file_topic(doc: Any, path: Path) -> str:
    if isinstance(doc, dict) and doc.get("topic"):
        return str(doc["topic"])
    return path.stem


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [str(value)]


def _plain(row: Any) -> Any:
    return json.loads(json.dumps(row, ensure_ascii=False, default=str))


def version(row: Any) -> str:
    """A short hash of an entry's content (detects a save based on an outdated copy)."""
    text = json.dumps(_plain(row), ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def list_entries(kb: Path | None = None) -> list[CuratedRecord]:
    """Every curated entry of every file, in file order (unreadable files are skipped)."""
    labels = topic_labels()
    records: list[CuratedRecord] = []
    for path in sorted(curated_dir(kb).glob("*.yml")):
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        file_topic = _file_topic(doc, path)
        for row in _rows(doc):
            if not isinstance(row, dict) or not row.get("id"):
                continue
            topic = str(row.get("topic") or file_topic)
            records.append(CuratedRecord(
                id=str(row["id"]), topic=topic, topic_zh=labels.get(topic, topic),
                title=str(row.get("title") or ""), file=path.name,
                sources=tuple(_as_list(row.get("source"))),
                updated_by=str(row["updated_by"]) if row.get("updated_by") else None,
                updated_at=str(row["updated_at"]) if row.get("updated_at") else None,
            ))
    return records


def _find(folder: Path, entry_id: str) -> tuple[Path, Any, Any] | None:
    """(file, round-trip document, entry mapping) of ``entry_id``, or None."""
    y = _yaml()
    for path in sorted(folder.glob("*.yml")):
        doc = y.load(path.read_text(encoding="utf-8"))
        for row in _rows(doc):
            if isinstance(row, dict) and str(row.get("id")) == entry_id:
                return path, doc, row
    return None


def _form_of(row: Any, file_topic: str) -> CuratedForm:
    values: dict[str, str] = {"id": str(row.get("id") or ""),
                              "topic": str(row.get("topic") or file_topic)}
    for name in LINE_FIELDS + TEXT_FIELDS:
        raw = row.get(name)
        values[name] = "" if raw is None else str(raw).strip()
    for name in LIST_FIELDS:
        values[name] = "\n".join(_as_list(row.get(name)))
    return CuratedForm(**values, base=version(row))


def load_form(entry_id: str, kb: Path | None = None) -> CuratedForm | None:
    """The edit form of an existing entry, or None when there is no such entry."""
    if not ID_RE.match(entry_id or ""):
        return None
    found = _find(curated_dir(kb), entry_id)
    if found is None:
        return None
    path, doc, row = found
    return _form_of(row, _file_topic(doc, path))


# -------------------------------------------------------------------------- writing


def _apply(row: CommentedMap, values: dict[str, Any], file_topic: str) -> None:
    """Set ``values`` on ``row`` in place; unchanged fields keep their YAML style."""
    wanted: dict[str, Any] = {}
    for name in LINE_FIELDS + TEXT_FIELDS:
        wanted[name] = values[name] or None
    for name in LIST_FIELDS:
        wanted[name] = values[name] or None
    wanted["topic"] = values["topic"] if values["topic"] != file_topic else None
    wanted["updated_by"] = values["updated_by"]
    wanted["updated_at"] = values["updated_at"]
    for name, value in wanted.items():
        old = row.get(name)
        if value is None:
            if name in row:
                del row[name]
            continue
        if isinstance(value, list):
            if old is not None and _as_list(old) == value:
                continue
            seq = CommentedSeq(value)
            if name == "keywords":
                seq.fa.set_flow_style()
            value = seq
        elif old is not None and str(old).strip() == value:
            continue
        elif "\n" in value:
            value = LiteralScalarString(value)
        if name in row:
            row[name] = value
        else:
            before = KEY_ORDER[: KEY_ORDER.index(name)]
            keys = list(row.keys())
            pos = max((keys.index(k) + 1 for k in before if k in row), default=len(keys))
            row.insert(pos, name, value)


def _dump(doc: Any) -> str:
    out = io.StringIO()
    _yaml().dump(doc, out)
    return out.getvalue()


def _new_document(topic: str) -> CommentedMap:
    doc = CommentedMap()
    doc["topic"] = topic
    doc["entries"] = CommentedSeq()
    label = topic_labels().get(topic, topic)
    doc.yaml_set_start_comment(FILE_HEADER.format(label=label))
    return doc


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``: temp file in the same directory, fsync, rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _validate_like_build(path: Path, text: str, cites: CitationIndex) -> None:
    """Run the build's own parser on the candidate file (written to a scratch directory)."""
    with tempfile.TemporaryDirectory(prefix="curated-check-") as scratch:
        candidate = Path(scratch) / path.name
        candidate.write_text(text, encoding="utf-8")
        try:
            parse_curated_file(candidate, cites, topic_names())
        except (CuratedError, yaml.YAMLError) as exc:
            raise CuratedEditError(f"该文件未通过知识库校验，未保存：{exc}") from None


def now_local() -> str:
    from hotline.sla import as_local

    return as_local(datetime.now(timezone.utc)).isoformat(timespec="seconds")


_save_lock = threading.Lock()


def save(form: CuratedForm, editor: str, *, create: bool, kb: Path | None = None,
         when: str | None = None) -> str:
    """Validate and write one entry; returns its id. Raises :class:`CuratedEditError`.

    ``create`` adds a new entry (its id must be unused); otherwise the entry ``form.id``
    is replaced, provided ``form.base`` still matches it (when given).
    """
    from hotline.kb import index

    kb = kb or paths.kb_dir()
    folder = curated_dir(kb)
    values = clean(form)
    if not create and not ID_RE.match(values["id"]):
        raise CuratedEditError("条目不存在（可能已被删除）。")
    cites = citation_index(kb)
    check(values, cites)
    values["updated_by"] = editor
    values["updated_at"] = when or now_local()
    with _save_lock:
        found = _find(folder, values["id"])
        if create:
            if found is not None:
                raise CuratedEditError(f"编号 {values['id']} 已被使用，请换一个。")
            path = folder / f"{values['topic']}.yml"
            doc = _yaml().load(path.read_text(encoding="utf-8")) if path.exists() else None
            if doc is None:
                doc = _new_document(values["topic"])
            elif isinstance(doc, dict) and doc.get("entries") is None:
                doc["entries"] = CommentedSeq()
            rows = doc.get("entries") if isinstance(doc, dict) else doc
            if not isinstance(rows, list):
                raise CuratedEditError(f"{path.name} 的格式无法识别，请联系管理员检查文件。")
            row = CommentedMap()
            row["id"] = values["id"]
            rows.append(row)
        else:
            if found is None:
                raise CuratedEditError("条目不存在（可能已被删除）。")
            path, doc, row = found
            if form.base and version(row) != form.base:
                raise CuratedEditError(
                    "该条目在您打开后已被他人修改。请重新打开条目，核对后再保存（您的输入未保存）。")
        _apply(row, values, _file_topic(doc, path))
        text = _dump(doc)
        _validate_like_build(path, text, cites)
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text)
    index.reset_cache()
    return str(values["id"])
