"""Rasa pipeline component that keeps only entities whose value is really valid.

A USCC (统一社会信用代码) must pass its check digit (python-stdnum); a phone number is
reduced to its digits (and an extension dash for landlines). Runs after the extractors.
"""

from __future__ import annotations

import re
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES
from rasa.shared.nlu.training_data.message import Message
from stdnum.cn import uscc

_NON_DIGIT = re.compile(r"[^0-9]")


def canonical_phone(raw: str) -> str | None:
    """Mobile → 11 digits; landline → ``area-number``; anything else → None."""
    digits = _NON_DIGIT.sub("", raw)
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if len(digits) == 11 and digits.startswith("1") and digits[1] in "3456789":
        return digits
    if digits.startswith("0") and 10 <= len(digits) <= 12:
        area = 3 if digits[1] in "12" else 4
        return f"{digits[:area]}-{digits[area:]}"
    return None


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False
)
class EntityValidator(GraphComponent):
    """Drops invalid USCCs and phones, canonicalises the values of valid ones."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> EntityValidator:
        return cls()

    @staticmethod
    def required_packages() -> list[str]:
        return ["stdnum"]

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            kept = []
            for entity in message.get(ENTITIES, []):
                name, value = entity.get("entity"), str(entity.get("value", ""))
                if name == "uscc":
                    value = value.upper()
                    if not uscc.is_valid(value):
                        continue
                    entity["value"] = value
                elif name == "phone":
                    phone = canonical_phone(value)
                    if phone is None:
                        continue
                    entity["value"] = phone
                elif name == "ticket_id":
                    entity["value"] = value.upper()
                kept.append(entity)
            # DIET and the regex extractor may both find the same span: keep one.
            unique: dict[tuple[str, int, int], dict[str, Any]] = {}
            for entity in kept:
                key = (entity["entity"], entity.get("start", -1), entity.get("end", -1))
                if key not in unique or entity.get("extractor") == "RegexEntityExtractor":
                    unique[key] = entity
            message.set(ENTITIES, list(unique.values()), add_to_output=True)
        return messages
