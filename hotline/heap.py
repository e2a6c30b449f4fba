"""The heap a service built at start, kept out of the garbage collector's full passes.

CPython's cyclic collector stops the process for a full (generation 2) pass over every
object it tracks, and starts one whenever the objects that survived two younger passes since
the last full one exceed a quarter of those it already holds. A service's start builds a large
heap that lives as long as the process (Rasa: its model and TensorFlow's modules, about
480,000 tracked objects; the action server: the knowledge-base index; the gateway: its
application), so each full pass cost 120–410 ms on this 2-core machine (measured with
``gc.callbacks`` during the load harness), every conversation of that process waiting. The
first one fell within the first hundred messages after a start: objects made while loading
were still pending. Under load the objects of requests in flight are promoted and a full pass
came every few hundred messages.

:func:`settle` is called once a service is ready to serve: one full collection of what the
start left over, then ``gc.freeze()``, which moves every surviving object to the permanent
generation that no pass scans. Later full passes scan only what requests made (milliseconds).
Objects that die are still freed by reference counting; only a reference cycle among the
frozen objects would stay (the start's heap has none to lose). Standard library only: the Rasa
environment (Python 3.10) imports it too.
"""

from __future__ import annotations

import gc
import logging
import time

logger = logging.getLogger(__name__)


def settle(service: str) -> int:
    """Collect what starting ``service`` left behind, then freeze the rest; returns how many
    objects were frozen (logged with the time it took)."""
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    logger.info("%s: %d objects of the start kept out of the collector's passes (%.0f ms)",
                service, frozen, (time.perf_counter() - started) * 1000)
    return frozen
