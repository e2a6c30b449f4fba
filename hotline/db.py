"""Database engine and sessions (SQLAlchemy 2). Built in factories, never at import."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from hotline.settings import get_settings


def _without_nul(value: Any) -> Any:
    """``value`` with NUL characters taken out of every string in it (same object if none)."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        cleaned = {key: _without_nul(item) for key, item in value.items()}
        return value if all(cleaned[k] is value[k] for k in value) else cleaned
    if isinstance(value, list | tuple):
        items = [_without_nul(item) for item in value]
        if all(new is old for new, old in zip(items, value)):
            return value
        return items if isinstance(value, list) else tuple(items)
    return value


def _strip_nul_characters(engine: Engine) -> None:
    """Text reaches the database without NUL characters, on every backend.

    PostgreSQL cannot store U+0000 in text at all (the driver raises, the request fails);
    SQLite would keep it. Hostile or broken clients send it (a web-chat frame, a form field),
    and it never means anything in a message, a name or a description: it is dropped from
    the parameters of every statement, so both backends store the same text.
    """

    @event.listens_for(engine, "before_cursor_execute", retval=True)
    def _clean(_conn, _cursor, statement, parameters, _context, _executemany):  # type: ignore[no-untyped-def]
        return statement, _without_nul(parameters)


def make_engine(url: str) -> Engine:
    engine = _make_engine(url)
    _strip_nul_characters(engine)
    return engine


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL never corrupts the file and survives a killed process; only a
            # power cut may lose the last commits. It halves a transcript write's time (no
            # fsync per commit). Deployments use PostgreSQL.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def get_engine(url: str | None = None) -> Engine:
    """The shared engine of ``url``, else of the settings' database (as they are now: an
    engine cached for "the settings" would outlive a change of ``HOTLINE_DATABASE_URL``)."""
    return _shared(url or get_settings().db_url())[0]


@lru_cache(maxsize=4)
def _shared(url: str) -> tuple[Engine, sessionmaker[Session]]:
    """One cache for a URL's engine and its session factory: they never part."""
    engine = make_engine(url)
    return engine, sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session committed on success and rolled back on error."""
    session = _shared(url or get_settings().db_url())[1]()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
