"""``python -m actions``: the rasa-sdk action server, logging the gateway's ids.

rasa-sdk's own entry (``python -m rasa_sdk``) installs a coloured text handler and offers no
hook around an action call. This entry takes the same arguments, configures logging from
the settings (``HOTLINE_LOG_FORMAT=json``: one JSON object a line, see
:mod:`hotline.log_context`) and runs each action inside the log scope the gateway opened
for the message — its conversation pseudonym and request id come with the tracker, in the
latest message's metadata — so the action's lines carry the same ids as the gateway's.
Before it serves, it builds what the actions would otherwise build on first use
(:func:`warm`).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from rasa_sdk import utils
from rasa_sdk.endpoint import create_argument_parser, run
from rasa_sdk.executor import ActionExecutor, ActionExecutorRunResult
from sqlalchemy import text

from hotline import heap, log_context, routing
from hotline.db import session_scope
from hotline.kb.search import search
from hotline.settings import get_settings

logger = logging.getLogger("actions.server")


class TracedExecutor(ActionExecutor):
    """Runs each action in the log scope of the message that led to it."""

    async def run(self, action_call: dict[str, Any]) -> ActionExecutorRunResult | None:
        latest = (action_call.get("tracker") or {}).get("latest_message") or {}
        conversation, request_id = log_context.from_rasa(latest.get("metadata"))
        name = action_call.get("next_action")
        with log_context.request(conversation, request_id):
            started = time.perf_counter()
            try:
                result = await super().run(action_call)
            except Exception as exc:  # rasa-sdk answers it; the line says which action
                logger.info("action %s ended with %s", name, type(exc).__name__)
                raise
            logger.info("action %s ran in %.0f ms", name, (time.perf_counter() - started) * 1000)
            return result


#: Questions of several lengths and kinds (a permit, a figure, a complaint letter) searched once
#: before the server answers: the first one after a start loaded the knowledge-base index and
#: its models and took 1.2 s, paid by the first enterprise asking a policy question.
WARM_QUESTIONS = (
    ("营业执照怎么办理", "business_license"),
    ("小微企业的所得税优惠是多少", "tax"),
    ("我们公司去年申请的稳岗补贴到现在还没有到账，社保局说材料已经审核通过了，但是一直"
     "没有拨付，打电话也没人接，请问应该找哪个部门，需要准备什么材料？", "employment"),
)


def warm() -> None:
    """Everything an action reads that is built on first use, built now: the knowledge-base
    index and its models, the routing taxonomy, the database connection pool; then the
    start's heap is kept out of the collector's full passes (:mod:`hotline.heap`)."""
    started = time.perf_counter()
    try:
        taxonomy = routing.load_taxonomy(get_settings().routing_file)
        for question, topic in WARM_QUESTIONS:
            taxonomy.topic(topic)
            search(question, topic=topic, k=3)
        with session_scope() as session:
            session.execute(text("SELECT 1"))
    except Exception:  # a speed-up only: what failed here fails, and is told, in the action
        logger.exception("warming up failed; serving anyway")
    else:
        logger.info("warmed in %.0f ms", (time.perf_counter() - started) * 1000)
    heap.settle("actions")


def main(argv: list[str] | None = None) -> None:
    args = create_argument_parser().parse_args(argv)
    settings = get_settings()
    log_context.configure(settings, service="actions",
                          level=min(args.loglevel, logging.getLevelName(settings.log_level.upper())))
    logging.getLogger("httpx").setLevel(logging.WARNING)
    utils.update_sanic_log_level()
    executor = TracedExecutor()
    executor.register_package(args.actions_module or args.actions or "actions")
    warm()
    run(executor, args.port, args.cors, args.ssl_certificate, args.ssl_keyfile,
        args.ssl_password, args.auto_reload, args.endpoints)


if __name__ == "__main__":
    main()
