"""The architecture's rules, checked on the source (issue 13): the core imports no adapter, the
console and the gateway don't import each other (but for the gateway mounting the console
app), and no production module grows past 400 lines.

Imports are read with ``ast`` (lazy imports inside functions count), so a rule broken in a
function body fails here as well as one at the top of a file.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "console", "hotline", "actions")
MAX_LINES = 400
# The one allowed crossing between the two adapters: the gateway serves the console app.
MOUNT = {("bot/app.py", "console.web"), ("bot/app.py", "console.context")}


def _modules() -> Iterator[Path]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def _imports(path: Path) -> Iterator[str]:
    """Absolute names ``path`` imports (relative imports resolved)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                module = ".".join(parts[: len(parts) - node.level]
                                  + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # ``from console import web`` imports console.web: each name, under its module.
            yield from (f"{module}.{alias.name}" for alias in node.names)


def _crossings() -> set[tuple[str, str]]:
    edges = set()
    for path in _modules():
        rel = path.relative_to(ROOT).as_posix()
        own = rel.split("/")[0]
        for name in _imports(path):
            top = name.split(".")[0]
            if top in PACKAGES and top != own:
                edges.add((rel, name))
    return edges


def test_the_core_imports_no_adapter() -> None:
    wrong = sorted((src, name) for src, name in _crossings()
                   if src.startswith("hotline/") and name.split(".")[0] != "hotline")
    assert wrong == []


def test_the_gateway_and_the_console_only_meet_where_the_console_is_mounted() -> None:
    between = {(src, name) for src, name in _crossings()
               if {src.split("/")[0], name.split(".")[0]} == {"bot", "console"}}
    allowed = {(src, name) for src, name in between
               if any(src == where and (name == what or name.startswith(what + "."))
                      for where, what in MOUNT)}
    assert between == allowed, sorted(between - allowed)


def test_actions_use_the_core_not_the_adapters() -> None:
    wrong = sorted((src, name) for src, name in _crossings()
                   if src.startswith("actions/") and name.split(".")[0] in ("bot", "console"))
    assert wrong == []


@pytest.mark.parametrize("package", PACKAGES)
def test_no_production_module_is_over_400_lines(package: str) -> None:
    long = {path.relative_to(ROOT).as_posix(): n for path in _modules()
            if path.relative_to(ROOT).parts[0] == package
            and (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}
