"""A scripted stand-in for Rasa's REST channel, for gateway tests that need no model.

The real Rasa server is exercised by tests/test_stack_e2e.py; here the gateway's own
behaviour (rendering, buttons, failures) is tested quickly and deterministically.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

Reply = Callable[[str, str], list[dict[str, Any]]]


def default_reply(sender: str, message: str) -> list[dict[str, Any]]:
    if message.startswith("/"):
        return [{"recipient_id": sender, "text": f"收到按钮：{message}"}]
    if "按钮" in message:
        return [
            {
                "recipient_id": sender,
                "text": "请选择：",
                "buttons": [
                    {"title": "提交诉求", "payload": "/open_ticket"},
                    {"title": "查询进度", "payload": '/check_ticket{"ticket_id": "T20261122-0042", "note": "一个很长的参数让按钮数据超过六十四字节"}'},
                ],
            }
        ]
    if "html" in message:
        return [{"recipient_id": sender, "custom": {"html": "<b>开办企业</b>\n1. 申请书 &lt;原件&gt;"}}]
    return [{"recipient_id": sender, "text": f"您说的是：{message}"}]


class RasaStandIn:
    def __init__(self, reply: Reply = default_reply) -> None:
        self.reply = reply
        self.received: list[dict[str, Any]] = []
        self.down = False
        #: Seconds to wait before answering a message containing the key (a slow Rasa).
        self.delays: dict[str, float] = {}
        self.answered: list[str] = []  # messages in the order their answers left

    def app(self) -> Starlette:
        async def webhook(request: Request) -> Response:
            if self.down:
                return Response(status_code=503)
            payload = await request.json()
            self.received.append(payload)
            for key, seconds in self.delays.items():
                if key in payload["message"]:
                    await asyncio.sleep(seconds)
            self.answered.append(payload["message"])
            return JSONResponse(self.reply(payload["sender"], payload["message"]))

        return Starlette(routes=[Route("/webhooks/rest/webhook", webhook, methods=["POST"])])
