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
    uvicorn.run(create_app(settings), host=settings.gateway_host, port=settings.gateway_port,
                log_level="info")


if __name__ == "__main__":
    main()
