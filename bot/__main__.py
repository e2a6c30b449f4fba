"""``python -m bot``: serve the gateway with uvicorn."""

from __future__ import annotations

import logging

import uvicorn

from bot.app import create_app
from hotline import log_context
from hotline.settings import get_settings


def main() -> None:
    settings = get_settings()
    # Text or JSON lines (HOTLINE_LOG_FORMAT), each naming its conversation and request.
    log_context.configure(settings, service="gateway", level=settings.log_level.upper())
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # proxy_headers off: which X-Forwarded-For to believe is decided by HOTLINE_TRUSTED_PROXIES
    # (hotline.client_address), not by uvicorn trusting any local peer.
    uvicorn.run(create_app(settings, settle_heap=True), host=settings.gateway_host,
                port=settings.gateway_port, log_level="info", proxy_headers=False,
                log_config=None)  # uvicorn's lines go through the root handler above


if __name__ == "__main__":
    main()
