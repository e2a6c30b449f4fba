"""Where the local services run (hotline.local.cpus): each Rasa server on a core of its own
when the machine has one to spare (one server shares it with Redis), every other service on
the rest; nothing pinned when there is none to spare or pinning is off."""

from __future__ import annotations

import os
import shutil

import pytest

from hotline.local import cpus
from hotline.local.stack import Stack
from tests.stack_helpers import Running


@pytest.mark.parametrize("service, rasa_servers, cores, expected", [
    ("rasa", 1, [0, 1], {0}),
    ("gateway", 1, [0, 1], {1}),
    ("actions", 1, [0, 1], {1}),
    ("redis", 1, [0, 1], {0}),  # with the one Rasa server: its blocking client waits there
    ("redis", 1, [3, 5, 7], {3}),
    ("redis", 2, [0, 1, 2, 3], {2, 3}),  # several servers: on none of theirs
    ("rasa", 1, [3, 5, 7], {3}),  # the cores this process may use, not 0..n
    ("gateway", 1, [3, 5, 7], {5, 7}),
    ("rasa1", 2, [0, 1, 2, 3], {0}),
    ("rasa2", 2, [0, 1, 2, 3], {1}),
    ("haproxy", 2, [0, 1, 2, 3], {2, 3}),
    ("rasa3", 2, [0, 1, 2, 3], None),  # no such server: anywhere
    ("rasa", 1, [0], None),  # one core: nothing to spare
    ("gateway", 1, [0], None),
    ("rasa1", 2, [0, 1], None),  # two Rasa servers on two cores: nothing to spare
    ("gateway", 2, [0, 1], None),
])
def test_placement(service: str, rasa_servers: int, cores: list[int],
                   expected: set[int] | None) -> None:
    got = cpus.placement(service, rasa_servers, cores)
    assert got == (frozenset(expected) if expected is not None else None)


def test_pinning_off_or_impossible_pins_nothing(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path) -> None:
    assert cpus.pinned(["rasa", "run"], None) == ["rasa", "run"]
    assert cpus.pinned(["rasa", "run"], frozenset()) == ["rasa", "run"]
    if shutil.which("taskset"):  # util-linux, on every Debian
        argv = cpus.pinned(["rasa", "run"], frozenset({3, 1}))
        assert argv[1:] == ["--cpu-list", "1,3", "rasa", "run"] and argv[0].endswith("taskset")
    monkeypatch.setenv("HOTLINE_PIN_CPUS", "false")
    assert Stack(var_dir=tmp_path).cores_of("rasa") is None


@pytest.mark.skipif(len(cpus.available()) < 2, reason="needs a core to spare beside Rasa")
def test_the_running_stack_gives_rasa_a_core_of_its_own(running: Running) -> None:
    cores = cpus.available()
    pids = {s.name: s.process.pid for s in running.stack.services if s.process is not None}
    placed = {name: os.sched_getaffinity(pid) for name, pid in pids.items()}
    assert placed["rasa"] == placed["redis"] == {cores[0]}
    for name in ("actions", "gateway"):
        assert placed[name] == set(cores[1:]), (name, placed)
    # and every thread Rasa started (event loop, thread pools) is on its core too
    threads = [int(t) for t in os.listdir(f"/proc/{pids['rasa']}/task")]
    assert len(threads) > 1
    assert all(os.sched_getaffinity(t) == {cores[0]} for t in threads)
