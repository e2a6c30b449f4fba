"""Rasa pipeline component that normalizes message text before tokenization.

Runs first in the pipeline so that training, ``rasa test``, ``rasa shell`` and the REST API
all see the same canonical text: Traditional → Simplified, HTML entities unescaped,
full-width → half-width, whitespace collapsed (see ``hotline.textnorm``).
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from hotline.textnorm import is_traditional, normalize


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False
)
class TextNormalizer(GraphComponent):
    """Rewrites ``message.text`` into its canonical form; remembers the original script."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> TextNormalizer:
        return cls()

    @staticmethod
    def required_packages() -> list[str]:
        return ["opencc"]

    def _normalize(self, message: Message, output: bool) -> None:
        text = message.get(TEXT)
        if not text:
            return
        message.set("script", "traditional" if is_traditional(text) else "simplified", output)
        message.set(TEXT, normalize(text))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for example in training_data.training_examples:
            self._normalize(example, output=False)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._normalize(message, output=True)
        return messages
