"""Alembic environment: the URL comes from hotline settings (or ``-x url=…``)."""

from __future__ import annotations

from alembic import context

from hotline.db import make_engine
from hotline.models import Base
from hotline.settings import get_settings

config = context.config
url = context.get_x_argument(as_dictionary=True).get("url") or config.attributes.get(
    "url"
) or get_settings().db_url()


def run_offline() -> None:
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
