"""Rasa entity extractor for what rules find exactly: districts, companies, amounts.

DIET guessed these from a few hundred examples and, on real letters, returned nonsense
(``district`` = 局长, 老婆, ！; ``ticket_id`` = 市). Here a district is only a name from the list
of China's administrative divisions (``hotline/data/divisions.csv``, with provenance), a
company only a registered-form name (place prefix kept) ending in 有限公司 / 厂 / 合作社 …,
an amount only a number with a unit of money. ``ticket_id``, ``uscc`` and ``phone`` come
from ``RegexEntityExtractor`` (``nlu/regexes.yml``); nothing learns them.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from hotline.company_names import COMPANY_IN_TEXT

DIVISIONS = Path(__file__).resolve().parents[2] / "hotline" / "data" / "divisions.csv"
_AMOUNT = re.compile(
    r"(?:\d+(?:[.,]\d+)*|[零一二两三四五六七八九十百千]+)(?:多)?\s*(?:万|亿|千)?(?:多)?\s*(?:元|块钱|块)"
    r"|(?:\d+(?:\.\d+)?|[一二两三四五六七八九十百千]+)(?:多)?\s*(?:万|亿)(?![\u4e00-\u9fff]{0,1}(?:人|户|件|平|亩|吨|个|家|次))"
)


@lru_cache(maxsize=1)
def division_names() -> frozenset[str]:
    names = set()
    for line in DIVISIONS.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or "," not in line:
            continue
        name = line.split(",", 1)[1].strip()
        if len(name) >= 2:
            names.add(name)
    return frozenset(names)


@lru_cache(maxsize=1)
def _division_pattern() -> re.Pattern[str]:
    names = sorted(division_names(), key=len, reverse=True)  # longest first: 南山区 before 南山
    return re.compile("|".join(map(re.escape, names)))


def _entity(name: str, value: str, start: int, end: int) -> dict[str, Any]:
    return {"entity": name, "value": value, "start": start, "end": end,
            "confidence_entity": 1.0, "extractor": "RuleEntityExtractor"}


_STRONG_FORM = re.compile(r"(?:有限公司|有限责任公司|合作社)(?:（[^（）]*）|\([^()]*\))?$")
_NOT_IN_A_NAME = re.compile(r"[说想把去了要给让被这那么吗呢吧]|我们|他们|不")


def _is_registered_name(name: str) -> bool:
    """In free text only a name in registered form counts: a place prefix, or a strong
    organisational form (有限公司, 合作社), and no words of a sentence around it."""
    if _NOT_IN_A_NAME.search(name):
        return False
    starts_with_place = any(name.startswith(p) for p in _places_of(name))
    return starts_with_place or (bool(_STRONG_FORM.search(name)) and len(name) >= 6)


def _places_of(name: str) -> list[str]:
    return [m.group(0) for m in _division_pattern().finditer(name[:12]) if m.start() == 0]


def find_entities(text: str) -> list[dict[str, Any]]:
    found = [_entity("district", m.group(0), m.start(), m.end())
             for m in _division_pattern().finditer(text)]
    found += [_entity("company", m.group("name"), m.start("name"), m.end("name"))
              for m in COMPANY_IN_TEXT.finditer(text) if _is_registered_name(m.group("name"))]
    found += [_entity("amount", m.group(0).strip(), m.start(), m.end())
              for m in _AMOUNT.finditer(text)]
    return found


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class RuleEntityExtractor(GraphComponent):
    """Adds district, company and amount entities found by exact rules."""

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> RuleEntityExtractor:
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            if not text:
                continue
            entities = list(message.get(ENTITIES, [])) + find_entities(text)
            message.set(ENTITIES, entities, add_to_output=True)
        return messages
