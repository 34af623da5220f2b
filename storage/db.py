"""Engine, sessions and migrations.

SQLite (the embedded default) runs in WAL mode with a busy timeout so the API's
readers never block the log writer; PostgreSQL is chosen by OPTBOX_DATABASE_URL.
On SQLite the process's write transactions also take turns in asyncio (`SqliteWriteTurns`), and
a Database made with `checkpoint_every_s` copies the WAL into the database file from a task of
its own (`Database.checkpoints`) instead of inside whichever commit crossed SQLite's threshold.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session
from sqlalchemy.util import await_only

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_S = 10
log = logging.getLogger(__name__)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _enable_sqlite_wal(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


_WRITING = "optbox_write_turn"  # in a connection's info while its transaction holds the turn
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class SqliteWriteTurns:
    """One write transaction at a time per engine, queued in asyncio rather than in SQLite.

    SQLite has one writer. A second connection that wants to write waits in SQLite's busy
    handler, which sleeps 1, 2, 5 … then 100 ms between tries and never queues: with twenty
    requests committing at once, some waited 0.5-0.9 s for a lock free most of that time.
    Here a connection takes the turn at its first write statement (when SQLite would take
    its write lock) and gives it back when its transaction ends — commit, rollback, or the
    connection returned, invalidated or closed — so writers go in order without sleeping.
    Readers never wait (WAL). A turn not granted within the busy timeout (a task that writes on
    two connections at once) is not waited for: that write falls back to SQLite's busy handler.
    """

    def __init__(self) -> None:
        self._lock = asyncio.Lock()

    def install(self, engine: AsyncEngine) -> None:
        event.listen(engine.sync_engine, "before_cursor_execute", self._before_execute)
        for name in ("commit", "rollback"):  # just before the DBAPI call; the next writer's first statement follows it
            event.listen(engine.sync_engine, name, self._connection_done)
        event.listen(engine.sync_engine.pool, "reset", self._pool_reset)
        for name in ("checkin", "invalidate", "soft_invalidate", "close"):
            event.listen(engine.sync_engine.pool, name, self._pool_done)

    def _before_execute(self, conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if conn.info.get(_WRITING) or not statement.lstrip()[:7].upper().startswith(_WRITES):
            return
        try:
            await_only(asyncio.wait_for(self._lock.acquire(), SQLITE_BUSY_TIMEOUT_S))
        except TimeoutError:
            log.warning("no write turn within %s s (a task writing on two connections?); SQLite's busy handler decides", SQLITE_BUSY_TIMEOUT_S)
            return
        conn.info[_WRITING] = True

    def _connection_done(self, conn: Any) -> None:
        self._give_back(conn.info)

    def _pool_reset(self, dbapi_connection: Any, connection_record: Any, reset_state: Any) -> None:
        self._pool_done(dbapi_connection, connection_record)

    def _pool_done(self, _dbapi_connection: Any, record: Any = None, *_: Any) -> None:
        if record is not None:
            self._give_back(record.info)

    def _give_back(self, info: dict) -> None:
        if info.pop(_WRITING, False):
            self._lock.release()


def _no_automatic_checkpoints(dbapi_connection, _record) -> None:
    dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")


def create_engine(url: str, *, background_checkpoints: bool = False) -> AsyncEngine:
    if is_sqlite(url):
        Path(make_url(url).database).parent.mkdir(parents=True, exist_ok=True)
        # Connections past pool_size are closed on return, and opening one (a thread, the file, the
        # pragmas) cost requests tens of ms under load: keep enough open for a burst of requests.
        engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S}, pool_size=20, max_overflow=20)
        event.listen(engine.sync_engine, "connect", _enable_sqlite_wal)
        if background_checkpoints:
            event.listen(engine.sync_engine, "connect", _no_automatic_checkpoints)
        SqliteWriteTurns().install(engine)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


class Database:
    """One engine and its session factory; the API holds one for its lifetime."""

    def __init__(self, url: str, *, checkpoint_every_s: float | None = None) -> None:
        self.url = url
        self.checkpoint_every_s = checkpoint_every_s if is_sqlite(url) else None
        self.engine = create_engine(url, background_checkpoints=self.checkpoint_every_s is not None)
        # a class of its own, so session events (storage.catalog_cache) see this database's sessions only
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, sync_session_class=type("OptboxSession", (Session,), {}))
        self._checkpoints_stopped = asyncio.Event()

    async def open_pool(self) -> None:
        """Open the pool's connections now. Opened on demand, the first burst of requests opened them in the
        middle of itself, each a thread start the event loop waits for (25-56 ms in all at the start of bench
        case d, every request in flight waiting with it)."""
        connections = [await self.engine.connect() for _ in range(self.engine.pool.size())]
        for connection in connections:
            await connection.close()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    async def checkpoints(self) -> None:
        """Run for the Database's life (a task): every `checkpoint_every_s`, a PASSIVE checkpoint, which
        waits for no reader or writer. SQLite's own runs inside the commit that crossed 1,000 WAL pages,
        and every writer queued behind that commit waited out the copy and its fsync. Ends after
        `stop_checkpoints`, once a checkpoint under way is done: cancelled inside one, the driver's connection
        was left in a state that hung the pool's dispose."""
        while self.checkpoint_every_s is not None:
            try:
                await asyncio.wait_for(self._checkpoints_stopped.wait(), self.checkpoint_every_s)
                return
            except TimeoutError:
                pass
            try:
                async with self.engine.connect() as connection:
                    await connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            except Exception:  # noqa: BLE001 - the file briefly busy or away: the next pass copies what this one did not
                log.warning("WAL checkpoint failed; retrying", exc_info=True)

    def stop_checkpoints(self) -> None:
        self._checkpoints_stopped.set()

    async def dispose(self) -> None:
        await self.engine.dispose()


def migrate(url: str) -> None:
    """Bring the schema to head. Safe to call at every start."""
    if is_sqlite(url):
        Path(make_url(url).database).parent.mkdir(parents=True, exist_ok=True)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "head")
