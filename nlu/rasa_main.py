"""Start Rasa: ``python -m nlu.rasa_main run …`` is ``python -m rasa run …`` with one fix.

Rasa 3.6 checks every reply of the action server against its response schema with
``jsonschema.validate``, which first validates the *schema itself* against the
JSON-Schema meta-schema — on every call. Measured in this environment: 14.0 ms of CPU a
call, of which 13.4 ms is that meta-schema check and 0.22 ms the reply's own check; a
message runs one or two remote actions, and Rasa's whole cost was about 23 ms a message.
:func:`install` makes the check build its validator once (the schema is a constant) and
keeps everything else as Rasa does it: the same schema, the same best-matching error, the
same message appended to it.
"""

from __future__ import annotations

import functools
from typing import Any


@functools.lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema import validators
    from rasa.core.actions.action import RemoteAction

    spec = RemoteAction.action_response_format_spec()
    cls = validators.validator_for(spec)
    cls.check_schema(spec)  # once, where jsonschema.validate does it on every call
    return cls(spec)


def validate_action_result(self: Any, result: dict[str, Any]) -> bool:
    """``RemoteAction._validate_action_result`` with the validator built once."""
    from jsonschema import ValidationError
    from jsonschema.exceptions import best_match
    from rasa.shared.constants import DOCS_BASE_URL

    error = best_match(_validator().iter_errors(result))
    if error is None:
        return True
    if isinstance(error, ValidationError):
        error.message += (
            f". Failed to validate Action server response from API, "
            f"make sure your response from the Action endpoint is valid. "
            f"For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
    raise error


def install() -> None:
    from rasa.core.actions.action import RemoteAction

    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]


def main() -> None:
    install()
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
