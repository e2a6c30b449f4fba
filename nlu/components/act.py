"""Rasa pipeline component: is a topic message a consult (咨询) or an appeal (诉求)?

Trained on the intent-level metadata of the topic training files (``metadata: {act: …}``).
At inference it adds ``act`` to the parse result and an ``act`` entity, so the dialogue can
answer a consult from the knowledge base and propose a ticket for an appeal.
"""

from __future__ import annotations

import logging
from typing import Any

import joblib
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    METADATA,
    METADATA_INTENT,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from hotline.letters import strip_frame

logger = logging.getLogger(__name__)
ACTS = ("consult", "appeal")
_FILE = "act_model.joblib"


def _act_of(example: Message) -> str | None:
    metadata = example.get(METADATA) or {}
    intent_meta = metadata.get(METADATA_INTENT) or {}
    act = intent_meta.get("act") if isinstance(intent_meta, dict) else None
    return act if act in ACTS else None


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True
)
class ActClassifier(GraphComponent):
    """Char n-gram logistic regression over topic messages labelled consult/appeal."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"C": 4.0, "max_ngram": 3}

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: Pipeline | None = None,
        topics: frozenset[str] = frozenset(),
    ) -> None:
        self._config = config
        self._storage = model_storage
        self._resource = resource
        self._model = model
        self._topics = topics

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> ActClassifier:
        return cls(config, model_storage, resource)

    @staticmethod
    def required_packages() -> list[str]:
        return ["sklearn"]

    def train(self, training_data: TrainingData) -> Resource:
        texts, labels, topics = [], [], set()
        for example in training_data.intent_examples:
            act = _act_of(example)
            if act is None:
                continue
            texts.append(strip_frame(example.get(TEXT)))
            labels.append(act)
            topics.add(example.get(INTENT))
        if len(set(labels)) < 2:
            logger.warning("ActClassifier: no consult/appeal metadata in training data")
            self._model = None
        else:
            self._model = Pipeline(
                [
                    (
                        "tfidf",
                        TfidfVectorizer(
                            analyzer="char",
                            ngram_range=(1, self._config["max_ngram"]),
                            sublinear_tf=True,
                        ),
                    ),
                    ("clf", LogisticRegression(C=self._config["C"], max_iter=2000)),
                ]
            )
            self._model.fit(texts, labels)
        self._topics = frozenset(topics)
        with self._storage.write_to(self._resource) as directory:
            joblib.dump({"model": self._model, "topics": sorted(self._topics)}, directory / _FILE)
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> ActClassifier:
        try:
            with model_storage.read_from(resource) as directory:
                saved = joblib.load(directory / _FILE)
        except (ValueError, FileNotFoundError):
            logger.warning("ActClassifier: no trained model found, act will be missing")
            return cls(config, model_storage, resource)
        return cls(config, model_storage, resource, saved["model"], frozenset(saved["topics"]))

    def process(self, messages: list[Message]) -> list[Message]:
        if self._model is None:
            return messages
        for message in messages:
            intent = (message.get(INTENT) or {}).get("name")
            text = message.get(TEXT)
            if intent not in self._topics or not text:
                continue
            proba = self._model.predict_proba([strip_frame(text)])[0]
            best = int(proba.argmax())
            act = str(self._model.classes_[best])
            message.set("act", {"name": act, "confidence": float(proba[best])}, add_to_output=True)
            entities = list(message.get(ENTITIES, []))
            entities.append(
                {
                    "entity": "act",
                    "value": act,
                    "start": 0,
                    "end": len(text),
                    "confidence_entity": float(proba[best]),
                    "extractor": "ActClassifier",
                }
            )
            message.set(ENTITIES, entities, add_to_output=True)
        return messages
