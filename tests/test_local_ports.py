"""Ports handed to the local stack's services stay out of the kernel's ephemeral range, where
an outgoing connection could take one before the service binds it."""

from __future__ import annotations

import socket

import pytest

from hotline.local import stack


def test_free_ports_are_below_the_ephemeral_range_and_bindable() -> None:
    lo, _ = stack._ephemeral_range()
    ports = {stack.free_port() for _ in range(20)}
    assert len(ports) > 15  # spread, so parallel stacks rarely meet
    for port in ports:
        assert stack._LOWEST_PORT <= port < lo
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


def test_a_port_taken_is_not_handed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        taken = held.getsockname()[1]
        picks = iter([taken - stack._LOWEST_PORT, 0])
        monkeypatch.setattr(stack, "_ephemeral_range", lambda: (max(taken + 1, 21001), 65000))
        monkeypatch.setattr(stack.secrets, "randbelow", lambda _n: next(picks))
        assert stack.free_port() == stack._LOWEST_PORT
