"""Rasa's event classes resolved once per type name (hotline.rasa_start.remembered_event_types):
the same answers as Rasa's own lookup, which runs once per name; defaults and errors are
not remembered."""

from __future__ import annotations

import pytest

from hotline.rasa_start import remembered_event_types


class UserUttered:
    type_name = "user"


class ActionExecuted:
    type_name = "action"


class Resolver:
    """Rasa's lookup as far as the memo sees it, counting its calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, type_name: str, default: object = None) -> object:
        self.calls.append(type_name)
        for cls in (UserUttered, ActionExecuted):
            if cls.type_name == type_name:
                return cls
        if type_name == "topic":
            return None
        if default is not None:
            return default
        raise ValueError(f"Unknown event name '{type_name}'.")


def test_each_type_name_is_looked_up_once() -> None:
    rasa = Resolver()
    resolve = remembered_event_types(rasa)
    for _ in range(3):
        assert resolve("user") is UserUttered
        assert resolve("action") is ActionExecuted
    assert rasa.calls == ["user", "action"]


def test_defaults_none_and_errors_are_not_remembered() -> None:
    rasa = Resolver()
    resolve = remembered_event_types(rasa)
    assert resolve("bot", UserUttered) is UserUttered  # a default: asked again next time
    assert resolve("bot", ActionExecuted) is ActionExecuted
    assert resolve("topic") is None
    assert resolve("topic") is None
    with pytest.raises(ValueError, match="Unknown event name"):
        resolve("nonexistent")
    with pytest.raises(ValueError):
        resolve("nonexistent")
    assert rasa.calls == ["bot", "bot", "topic", "topic", "nonexistent", "nonexistent"]
