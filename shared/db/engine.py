"""Engines for SQLite (embedded) and Postgres (distributed), and the schema migration."""

from __future__ import annotations

import contextlib
import fcntl
import threading
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
_PG_MIGRATION_LOCK = 7_311_624  # any constant: one advisory lock id for our migrations


def create_engine_for(url: str) -> Engine:
    """An engine tuned for its backend; nothing connects until first use."""
    if make_url(url).get_backend_name() == "sqlite":
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # pre-ping: a Postgres restart must not leave dead connections in the pool
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


@contextlib.contextmanager
def transaction(engine: Engine, connection: Connection | None = None) -> Iterator[Connection]:
    """The caller's transaction when given (to commit several changes as one), else a new one."""
    if connection is not None:
        yield connection
        return
    with engine.begin() as own:
        yield own


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class _Migrated:
    """The databases this process has brought to the newest revision (they stay there)."""

    def __init__(self) -> None:
        self._urls: set[str] = set()
        self._lock = threading.Lock()

    def ensure(self, engine: Engine) -> None:
        url = engine.url.render_as_string(hide_password=False)
        with self._lock:  # held while migrating: a second caller waits, then skips
            if url not in self._urls:
                migrate(engine)
                self._urls.add(url)


# Alembic's check costs a script scan and a query; a process opens several runtimes (each
# scheduler, each API worker thread's first use), so each database is migrated once.
migrate_once = _Migrated().ensure


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; safe when several processes start at once."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with _migration_lock(engine), engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            try:
                yield
            finally:
                connection.execute(
                    sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK}
                )
                connection.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield
        return
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    with open(f"{database}.migrate.lock", "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
