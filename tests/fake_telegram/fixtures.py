"""The pytest fixtures. The suite's ``conftest.py`` imports them from :mod:`tests.fake_telegram`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .fake import FakeTelegram


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    """A running :class:`FakeTelegram` (default token) for one test."""
    with FakeTelegram() as fake:
        yield fake
        errors = fake.server_errors
    if errors:
        pytest.fail("FakeTelegram internal errors:\n" + "\n".join(errors))


@pytest.fixture
def fake_telegram_factory() -> Iterator[Callable[..., FakeTelegram]]:
    """``make(**FakeTelegram kwargs) -> FakeTelegram`` (started); all stopped at teardown."""
    created: list[FakeTelegram] = []

    def make(**kwargs: Any) -> FakeTelegram:
        fake = FakeTelegram(**kwargs).start()
        created.append(fake)
        return fake

    yield make
    for fake in created:
        fake.stop()
