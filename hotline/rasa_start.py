"""Start Rasa ready to serve: ``python -m hotline.rasa_start run …`` is
``python -m nlu.rasa_main run …`` (Rasa's own command, its check of the action server's
replies built once) with one step added between loading the model and taking requests.

Rasa loads its model in a listener that runs before its server accepts connections; that
listener is wrapped so that, once the model is loaded, it

- parses messages of several lengths (a greeting, a question, a letter), so that no
  enterprise pays for a code path's first call;
- keeps the heap of the start (the model, TensorFlow's and Rasa's modules: about 480,000
  tracked objects) out of the garbage collector's full passes (:mod:`hotline.heap`). Each full
  pass over it stopped Rasa for 250–410 ms under load; the first came within the first
  hundred messages after a start, which made one 8-chat row of the load harness erratic
  (every chat in flight waited for it).

Runs in the Rasa environment (Python 3.10); imports nothing of the app but :mod:`hotline.heap`.
A model loaded later through Rasa's ``/model`` API is not warmed.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from hotline import heap

logger = logging.getLogger(__name__)

#: Parsed once before Rasa serves: short chat, a question, a long complaint letter.
WARM_MESSAGES = (
    "您好",
    "营业执照怎么办理",
    "我们公司去年申请的稳岗补贴到现在还没有到账，社保局说材料已经审核通过了，但是一直没有"
    "拨付，打电话也没人接。我们是一家做电子元件的小企业，员工八十多人，疫情以后订单少了，"
    "这笔钱对我们很重要。请问应该找哪个部门，还需要准备什么材料？谢谢！",
)


async def warm(agent: Any) -> None:
    """Parse :data:`WARM_MESSAGES` with ``agent`` (NLU only: no tracker, no action)."""
    started = time.perf_counter()
    for text in WARM_MESSAGES:
        await agent.parse_message(text)
    logger.info("Rasa warmed in %.0f ms", (time.perf_counter() - started) * 1000)


def ready_after_load(
    load: Callable[..., Awaitable[Any]],
) -> Callable[..., Awaitable[Any]]:
    """``load`` (Rasa's ``load_agent_on_start``) followed by :func:`warm` and
    :func:`hotline.heap.settle` when it loaded an agent."""

    @functools.wraps(load)
    async def load_and_ready(*args: Any, **kwargs: Any) -> Any:
        agent = await load(*args, **kwargs)
        if agent is not None and agent.is_ready():
            try:
                await warm(agent)
            except Exception:  # a speed-up only: Rasa serves, and a failing parse fails there
                logger.exception("warming Rasa up failed; serving anyway")
        heap.settle("rasa")
        return agent

    return load_and_ready


#: Seconds an idle connection to an endpoint is kept: below the action server's keep-alive
#: (rasa-sdk: 120 s; HAProxy's client side: 1 h), so Rasa never reuses one the other side is
#: closing.
KEEPALIVE_S = 15.0

_connectors: dict[int, Any] = {}  # one pool of connections per event loop


def _connector() -> Any:
    import aiohttp

    loop = asyncio.get_running_loop()
    connector = _connectors.get(id(loop))
    if connector is None or connector.closed:
        connector = aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_S)
        _connectors[id(loop)] = connector
    return connector


def shared_connections(self: Any) -> Any:
    """``EndpointConfig.session`` as Rasa 3.6 builds it (headers, basic auth, its timeout),
    on a pool of connections kept for the event loop instead of one of its own: closing
    the session (Rasa does after each request) leaves the connection for the next one."""
    import aiohttp
    from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT

    auth = (aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"])
            if self.basic_auth else None)
    return aiohttp.ClientSession(headers=self.headers, auth=auth,
                                 timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
                                 connector=_connector(), connector_owner=False)


def session_without_metadata_slot(update: Callable[..., Awaitable[None]]
                                  ) -> Callable[..., Awaitable[None]]:
    """Rasa's ``MessageProcessor._update_tracker_session`` without the message's metadata.

    Given metadata, Rasa 3.6 records it as the ``session_started_metadata`` slot *before*
    ``action_session_start``. Its Redis tracker store splits a conversation at that action,
    so the slot alone became a session of its own: every retrieve split the conversation
    and rebuilt both parts, every save merged them back by comparing each event with every
    other (quadratic in the conversation's length). That cost Rasa 0.5-0.7 ms of CPU a
    message of a 4-message chat, only for the gateway's chats (they send the log ids as
    metadata; the load harness's raw chats send none). No action reads that slot; the
    message's own event keeps its metadata, where the action server reads the log ids."""

    @functools.wraps(update)
    async def update_session(self: Any, tracker: Any, output_channel: Any,
                             metadata: Any = None) -> None:
        await update(self, tracker, output_channel, None)

    return update_session


def remembered_event_types(resolve: Callable[..., Any]) -> Callable[..., Any]:
    """Rasa's ``Event.resolve_by_type``, remembering the class each type name resolved to.

    Rasa 3.6 walks every subclass of ``Event`` (recursively, with an abstractness check for
    each) for every event it reads back: every message reads its conversation's tracker from
    Redis, event by event. The classes do not change once Rasa is loaded; what is not found
    (a default, ``topic``, an error) is not remembered and is resolved as before."""
    found: dict[str, Any] = {}

    def resolve_by_type(type_name: str, default: Any = None) -> Any:
        cls = found.get(type_name)
        if cls is None:
            cls = resolve(type_name, default)
            if cls is not None and getattr(cls, "type_name", None) == type_name:
                found[type_name] = cls
        return cls

    return resolve_by_type


def install() -> None:
    """Rasa's server start, with the step above after the model is loaded, its endpoint
    calls on kept connections, sessions started without a metadata slot and event types
    resolved once."""
    from rasa.core import run
    from rasa.core.processor import MessageProcessor
    from rasa.shared.core.events import Event
    from rasa.utils.endpoints import EndpointConfig

    from nlu import rasa_main

    rasa_main.install()
    run.load_agent_on_start = ready_after_load(run.load_agent_on_start)  # type: ignore[assignment]
    EndpointConfig.session = shared_connections  # type: ignore[method-assign]
    MessageProcessor._update_tracker_session = session_without_metadata_slot(  # type: ignore[method-assign]
        MessageProcessor._update_tracker_session)
    Event.resolve_by_type = staticmethod(  # type: ignore[method-assign]
        remembered_event_types(Event.resolve_by_type))


def main() -> None:
    install()
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
