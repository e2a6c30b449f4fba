"""Fields of the knowledge base's source files, read the same way by every loader.

The data files spell "none" in several ways (无, 暂无, -, …), and the hand-written YAML files
(curated entries, statute glosses) give text either as one string or as a list.
"""

from __future__ import annotations

from typing import Any

NONE_VALUES = {"", "无", "暂无", "null", "None", "-", "/"}


class CuratedError(ValueError):
    """A hand-written YAML file (a curated entry, a statute's glosses) is malformed or cites a
    source that does not exist."""


def value(raw: Any) -> str | None:
    """A data-file string, or None for the placeholders that mean "none"."""
    if raw is None:
        return None
    text = str(raw).strip()
    return None if text in NONE_VALUES else text


def text_list(value: Any, where: str, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value.strip(),) if value.strip() else ()
    if not isinstance(value, list):
        raise CuratedError(f"{where}: '{name}' must be a list of strings")
    return tuple(str(v).strip() for v in value if str(v).strip())
