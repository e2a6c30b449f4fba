"""The OpenAPI description of the console's JSON API, for a logged-in session only.

``GET /console/api/openapi.json`` describes the ``/console/api`` routes and nothing else (no
page, no gateway route): whoever integrates a department's system with the API, and the
fuzz tests (``tests/test_fuzz_api.py``), read it there. Like the routes it describes it
needs the console session: no session → 401 with a Chinese ``detail``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.openapi.utils import get_openapi
from fastapi.routing import iter_route_contexts

from console.deps import CurrentActor

PREFIX = "/console/api/"
TITLE = "企业服务热线 · 承办部门工单接口"
DESCRIPTION = (
    "承办部门的工单接口（JSON）：工作清单、签收、状态变更、答复。须先登录控制台；"
    "POST 请求须在 X-CSRF-Token 头中携带会话的安全校验码。出错时返回 JSON，"
    "detail 为中文说明。"
)

router = APIRouter(prefix="/console/api")


def api_schema(routes: list[Any]) -> dict[str, Any]:
    """The OpenAPI document of the JSON routes among ``routes`` (an app's ``routes``)."""
    mine = [c for c in iter_route_contexts(routes) if (c.path or "").startswith(PREFIX)]
    return get_openapi(title=TITLE, version="1", description=DESCRIPTION, routes=mine)


@router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request, actor: CurrentActor) -> dict[str, Any]:
    return api_schema(request.app.routes)
