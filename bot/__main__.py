"""``python -m bot``: serve the gateway with uvicorn."""

from __future__ import annotations

import logging

import uvicorn

from bot.app import create_app
from hotline.settings import get_settings


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = get_settings()
    # proxy_headers off: which X-Forwarded-For to believe is decided by HOTLINE_TRUSTED_PROXIES
    # (hotline.client_address), not by uvicorn trusting any local peer.
    uvicorn.run(create_app(settings), host=settings.gateway_host, port=settings.gateway_port,
                log_level="info", proxy_headers=False)


if __name__ == "__main__":
    main()
