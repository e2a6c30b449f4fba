"""The console's routers, in one place (:func:`console.web.install` includes them)."""

from __future__ import annotations

import importlib

from fastapi import APIRouter

# Modules that define ``router: APIRouter``; a missing optional page module is an error.
PAGES: tuple[str, ...] = (
    "console.login",
    "console.chats",  # queue, my chats, one chat, live updates
    "console.api.tickets",  # the JSON API: department work list, one ticket, its steps
    "console.tickets_pages",  # the ticket list
    "console.ticket_detail",  # one ticket and its handling steps
    "console.dashboard",  # figures, charts, export
    "console.hot_pages",  # hot issues (热点问题): list, one issue, supervisors' steps
    "console.reports_pages",  # periodic report (定期通报): HTML and PDF
    "console.outbox_pages",  # notifications that gave up: requeue (supervisor, admin)
    "console.kb_pages",  # knowledge base search and curated entries
    "console.users_pages",  # staff accounts (admin)
    "console.api.schema",  # the JSON API's OpenAPI description (logged in)
)


def routers() -> list[APIRouter]:
    return [importlib.import_module(name).router for name in PAGES]
