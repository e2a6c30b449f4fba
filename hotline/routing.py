"""Routing table: which department handles a topic, and within how many working days.

Why this module exists: a ticket is dispatched the moment it is received (即收即分), so
the department and the time limit must follow from the topic the NLU predicted, with
no one in the loop. The defaults come from the project taxonomy
(``hotline/data/intents.yml``) so that topic names have a single source of truth. Every
city names its bureaus differently and sets its own promised time limits (承诺时限), so a
deployment overrides them with a small YAML file of the same shape::

    tax:
      department: 国家税务总局某某市税务局
      days: 3
    land:
      days: 7          # a partial override keeps the default department

(a top-level ``topics:`` key around that mapping, as in ``intents.yml``, is accepted too).
The settings pass the file's path (``HOTLINE_ROUTING_FILE``, ``Settings.routing_file``);
this module never reads the environment itself, so tests and tools can load any file.

Loads are cached (the file is read once per process and path); nothing is read at import
time. A bad override fails loudly, naming the file and the key, rather than routing
tickets to a misspelt department or with a nonsense deadline.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

INTENTS_FILE = Path(__file__).resolve().parent / "data" / "intents.yml"
"""The project taxonomy (a copy of ``shared/spec/intents.yml``) that gives the defaults."""

OVERRIDE_FIELDS: tuple[str, ...] = ("department", "days")
"""What a deployment may override per topic; names, labels and coverage stay the taxonomy's."""

StrPath = str | os.PathLike[str]


@dataclass(frozen=True)
class Route:
    """Where a ticket on a topic goes and its time limit in working days (工作日)."""

    department: str
    days: int


@dataclass(frozen=True)
class Topic:
    """A topic intent: what enterprises ask about, and who must answer within how long."""

    name: str
    zh: str
    covers: str
    department: str
    days: int

    @property
    def route(self) -> Route:
        return Route(department=self.department, days=self.days)


@dataclass(frozen=True)
class DialogueIntent:
    """A conversational intent (greet, request_human, …); it opens no ticket."""

    name: str
    description: str


@dataclass(frozen=True)
class Taxonomy:
    """The intents the NLU predicts, with the routing of each topic.

    ``topics`` and ``dialogue`` keep the file's order and are read-only, because one
    cached instance is shared by every caller in the process.
    """

    topics: Mapping[str, Topic]
    dialogue: Mapping[str, DialogueIntent]
    sources: tuple[Path, ...] = ()

    @property
    def intent_names(self) -> tuple[str, ...]:
        """Every intent name the NLU model must be able to predict, topics first."""
        return (*self.topics, *self.dialogue)

    def topic(self, name: str) -> Topic:
        """The topic called ``name``; a ValueError that lists the valid names otherwise."""
        try:
            return self.topics[name]
        except (KeyError, TypeError):
            pass
        if name in self.dialogue:
            raise ValueError(
                f"{name!r} is a dialogue intent, not a topic: it has no route"
            ) from None
        raise ValueError(
            f"unknown topic {name!r}; known topics: {', '.join(self.topics)}"
        ) from None

    def route(self, name: str) -> Route:
        return self.topic(name).route


def load_taxonomy(path: StrPath | None = None) -> Taxonomy:
    """The taxonomy with its routing, from ``intents.yml`` and an optional override file.

    ``path`` is the deployment's routing override file (``Settings.routing_file``); None
    gives the defaults. Results are cached per path: edit the file, then restart (or call
    :func:`clear_cache`). Raises ValueError naming the file and the key for an invalid
    override, FileNotFoundError when the file is missing (a configured file that is not
    there is a deployment mistake, not a reason to route with the defaults).
    """
    if path is None:
        return _default_taxonomy()
    return _taxonomy_with_overrides(Path(path).resolve())


def route(topic: str, routing: Taxonomy | StrPath | None = None) -> Route:
    """Department and time limit (working days) for a ticket on ``topic``.

    ``routing`` is a loaded :class:`Taxonomy`, the path of an override file, or None for
    the defaults of ``intents.yml``. An unknown topic raises ValueError: a ticket must
    never be dispatched to nobody.
    """
    taxonomy = routing if isinstance(routing, Taxonomy) else load_taxonomy(routing)
    return taxonomy.route(topic)


def topic_zh(topic: str, routing: Taxonomy | StrPath | None = None) -> str:
    """The topic's Chinese label (``tax`` → its ``zh``); a name that is no topic of the
    taxonomy (one that left it since a ticket was filed) is shown as it is."""
    taxonomy = routing if isinstance(routing, Taxonomy) else load_taxonomy(routing)
    try:
        return taxonomy.topic(topic).zh
    except ValueError:
        return topic


def clear_cache() -> None:
    """Forget loaded files (tests; a deployment that edited its routing file)."""
    _default_taxonomy.cache_clear()
    _taxonomy_with_overrides.cache_clear()


@lru_cache(maxsize=1)
def _default_taxonomy() -> Taxonomy:
    return _read_taxonomy(INTENTS_FILE)


@lru_cache(maxsize=16)
def _taxonomy_with_overrides(path: Path) -> Taxonomy:
    base = _default_taxonomy()
    overrides = _read_overrides(path, base)
    topics = {
        name: replace(topic, **overrides[name]) if name in overrides else topic
        for name, topic in base.topics.items()
    }
    return Taxonomy(
        topics=MappingProxyType(topics),
        dialogue=base.dialogue,
        sources=(*base.sources, path),
    )


def _load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        try:
            return yaml.safe_load(fh)
        except (yaml.YAMLError, ValueError) as exc:  # ValueError: e.g. a date 2025-13-01
            raise ValueError(f"{path}: not valid YAML: {exc}") from exc


def _check_department(path: Path, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{path}: {key}: department must be a non-empty string, got {value!r}")
    return value.strip()


def _check_days(path: Path, key: str, value: Any) -> int:
    # bool is an int in Python; `days: yes` is a typo, not one working day.
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(
            f"{path}: {key}: days must be a whole number of working days > 0, got {value!r}"
        )
    return value


def _read_taxonomy(path: Path) -> Taxonomy:
    data = _load_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("topics"), dict):
        raise ValueError(f"{path}: expected a mapping with a 'topics' mapping")
    topics: dict[str, Topic] = {}
    for name, spec in data["topics"].items():
        key = f"topics.{name}"
        if not isinstance(spec, dict):
            raise ValueError(f"{path}: {key}: expected a mapping, got {spec!r}")
        for text_field in ("zh", "covers"):
            if not isinstance(spec.get(text_field), str):
                raise ValueError(f"{path}: {key}.{text_field}: expected a string")
        topics[str(name)] = Topic(
            name=str(name),
            zh=spec["zh"],
            covers=spec["covers"],
            department=_check_department(path, f"{key}.department", spec.get("department")),
            days=_check_days(path, f"{key}.days", spec.get("days")),
        )
    dialogue_spec = data.get("dialogue") or {}
    if not isinstance(dialogue_spec, dict):
        raise ValueError(f"{path}: dialogue: expected a mapping of intent → description")
    dialogue = {
        str(name): DialogueIntent(name=str(name), description=str(text))
        for name, text in dialogue_spec.items()
    }
    return Taxonomy(
        topics=MappingProxyType(topics),
        dialogue=MappingProxyType(dialogue),
        sources=(path,),
    )


def _read_overrides(path: Path, base: Taxonomy) -> dict[str, dict[str, Any]]:
    data = _load_yaml(path)
    if data is None:  # an empty file overrides nothing
        return {}
    if isinstance(data, dict) and set(data) == {"topics"} and isinstance(data["topics"], dict):
        data = data["topics"]  # the intents.yml shape
    if not isinstance(data, dict):
        raise ValueError(
            f"{path}: expected a mapping of topic → {{department, days}}, got {type(data).__name__}"
        )
    overrides: dict[str, dict[str, Any]] = {}
    for name, spec in data.items():
        if name not in base.topics:
            raise ValueError(
                f"{path}: {name}: unknown topic; known topics: {', '.join(base.topics)}"
            )
        if not isinstance(spec, dict):
            raise ValueError(
                f"{path}: {name}: expected a mapping with department and/or days, got {spec!r}"
            )
        unknown = sorted(str(k) for k in spec if k not in OVERRIDE_FIELDS)
        if unknown:
            raise ValueError(
                f"{path}: {name}.{unknown[0]}: cannot be overridden "
                f"(allowed: {', '.join(OVERRIDE_FIELDS)})"
            )
        fields: dict[str, Any] = {}
        if "department" in spec:
            fields["department"] = _check_department(path, f"{name}.department", spec["department"])
        if "days" in spec:
            fields["days"] = _check_days(path, f"{name}.days", spec["days"])
        overrides[name] = fields
    return overrides
