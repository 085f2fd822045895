"""The embedded backend: one SQLite file, safe for many threads and processes at once.

The discipline (after python-diskcache): autocommit connections (``isolation_level
=None``) so that statehub alone opens and ends transactions; one connection per
thread, dropped after a ``fork``; WAL, so readers never wait for the writer; and
every commit inside ``BEGIN IMMEDIATE``, which takes the write lock up front so a
commit never fails half-way on a lock upgrade.

SQLite's own busy handler is unfair (a waiter sleeps longer and longer while a
busy writer takes the lock again and again, then gives up with "database is
locked"), so the busy timeout is 0 and statehub retries ``BEGIN IMMEDIATE`` itself
with full-jitter backoff capped at a few milliseconds: every waiter keeps polling
often, and the total wait is bounded by the hub's ``busy_timeout``, after which
:class:`~statehub.errors.BackendBusy` is raised. Users never see "database is locked".

Durability: ``synchronous=NORMAL`` by default, which in WAL mode survives a crash of
any process (a power loss may lose the last commits); ``?sync=full`` survives power
loss too, at a cost (see benchmarks/RESULTS.md).
"""

from __future__ import annotations

import functools
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from statehub.backends.base import SWEEP_BATCH, Backend, CommitOutcome, CommitSlot, Sweeper
from statehub.errors import BackendBusy, BackendError, InvalidArgument
from statehub.exchange import Export, RawChange
from statehub.history import (
    ChangeQuery,
    LogRowAt,
    change_from_row,
    is_removal,
    plan_key_compaction,
)
from statehub.model import Change
from statehub.packing import pack, unpack
from statehub.retry import backoff
from statehub.txn import Plan, Stored, Txn, plan_with_expiry

__all__ = ["MAX_IDLE_CONNECTIONS", "SCHEMA_VERSION", "SqliteBackend"]

T = TypeVar("T")

_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE hubs (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created_ts REAL NOT NULL
        )""",
        """CREATE TABLE entries (
            hub INTEGER NOT NULL,
            key TEXT NOT NULL,
            value BLOB NOT NULL,
            version INTEGER NOT NULL,
            created_rev INTEGER NOT NULL,
            modified_rev INTEGER NOT NULL,
            updated_by TEXT NOT NULL,
            updated_ts REAL NOT NULL,
            expires_ts REAL,
            owner TEXT,
            patch_bytes INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (hub, key)
        ) WITHOUT ROWID""",
        """CREATE TABLE changes (
            hub INTEGER NOT NULL,
            revision INTEGER NOT NULL,
            key TEXT NOT NULL,
            op TEXT NOT NULL,
            agent TEXT NOT NULL,
            ts REAL NOT NULL,
            label TEXT,
            prev_version INTEGER NOT NULL,
            version INTEGER NOT NULL,
            patch BLOB,
            value BLOB,
            cause BLOB,
            PRIMARY KEY (hub, revision, key)
        ) WITHOUT ROWID""",
        "CREATE INDEX changes_by_key ON changes (hub, key, revision)",
    ),
    (
        "CREATE INDEX entries_by_expiry ON entries (hub, expires_ts) WHERE expires_ts IS NOT NULL",
        "ALTER TABLE hubs ADD COLUMN compacted_before INTEGER NOT NULL DEFAULT 0",
    ),
    # Log payloads may be packed (statehub.packing) from here on: no statement, but an
    # older statehub must refuse the file instead of reading packed bytes as JSON.
    (),
)
"""Numbered migrations: entry ``n`` takes the schema from version ``n`` to ``n + 1``."""

SCHEMA_VERSION = len(_MIGRATIONS)
"""The schema version this release writes (``PRAGMA user_version``)."""

_ENTRY_COLUMNS = (
    "key, value, version, created_rev, modified_rev, updated_by, updated_ts, "
    "expires_ts, owner, patch_bytes"
)
_CHANGE_COLUMNS = "revision, key, op, agent, ts, label, prev_version, version, patch, value, cause"
_UPSERT = f"""INSERT INTO entries (hub, {_ENTRY_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)
    ON CONFLICT (hub, key) DO UPDATE SET value = excluded.value, version = excluded.version,
    created_rev = excluded.created_rev, modified_rev = excluded.modified_rev,
    updated_by = excluded.updated_by, updated_ts = excluded.updated_ts,
    expires_ts = excluded.expires_ts, owner = excluded.owner,
    patch_bytes = excluded.patch_bytes"""
_INSERT_CHANGE = f"INSERT INTO changes (hub, {_CHANGE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
_HEAD = "SELECT coalesce(max(revision), 0) FROM changes WHERE hub = ?"
_READ_FOR_COMMIT = (
    "SELECT head.revision, {columns} FROM (SELECT coalesce(max(revision), 0) AS revision "
    "FROM changes WHERE hub = ?) AS head LEFT JOIN entries ON hub = ? AND key IN ({{marks}})"
).format(columns=", ".join(f"entries.{name.strip()}" for name in _ENTRY_COLUMNS.split(",")))
"""The head revision and the rows a commit reads, in one statement."""
_MAX_PARAMS = 500
"""Keys per ``IN (...)`` query, well under SQLite's bound-parameter limit."""
_SYNC_LEVELS = {"normal": "NORMAL", "full": "FULL"}

MAX_IDLE_CONNECTIONS = 4
"""Connections a backend keeps open while idle; more are opened while threads need
them at once, and closed when they are given back beyond this."""
_BUSY_CODES = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class _Busy(Exception):
    """Another connection holds the lock this attempt needed (retry after a pause)."""


def _is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _BUSY_CODES


def _prefix_bounds(prefix: str) -> tuple[str, str | None]:
    """``(low, high)`` such that ``low <= key < high`` iff key starts with ``prefix``."""
    if not prefix:
        return "", None
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


@functools.lru_cache(maxsize=64)
def _read_sql(count: int) -> str:
    """:data:`_READ_FOR_COMMIT` for ``count`` keys (made once per count)."""
    return _READ_FOR_COMMIT.format(marks=",".join("?" * count))


def _entry_params(hub: int, row: Stored) -> tuple[Any, ...]:
    """The parameters of :data:`_UPSERT` for ``row``."""
    return (hub, *row.columns())


def _execute(conn: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """Run ``sql`` once per row: ``execute`` for one (cheaper), ``executemany`` for more."""
    if len(rows) == 1:
        conn.execute(sql, rows[0])
    elif rows:
        conn.executemany(sql, rows)


def _packed(change: RawChange) -> RawChange:
    """A log row as stored: its patch, value and cause packed (see :mod:`statehub.packing`)."""
    return (*change[:8], pack(change[8]), pack(change[9]), pack(change[10]))


def _unpacked(row: tuple[Any, ...]) -> RawChange:
    """A stored log row (``_CHANGE_COLUMNS``) with its JSON payloads unpacked."""
    return (*row[:8], unpack(row[8]), unpack(row[9]), unpack(row[10]))


def _stored(row: tuple[Any, ...]) -> Stored:
    return Stored(*row)


class SqliteBackend(Backend):
    """A hub stored in a SQLite file (many hubs may share one file)."""

    def __init__(
        self, path: str, hub: str, *, sync: str = "normal", busy_timeout: float = 30.0
    ) -> None:
        if sync not in _SYNC_LEVELS:
            raise InvalidArgument(f"sync must be one of {sorted(_SYNC_LEVELS)}, not {sync!r}")
        self._path = path
        self._sync = _SYNC_LEVELS[sync]
        self._busy_timeout = busy_timeout
        self._idle: list[sqlite3.Connection] = []
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._slot = CommitSlot(self._path, busy_timeout)
        self._pid = os.getpid()
        self._closed = False
        self._sweep = Sweeper()
        self._hub = self._run(lambda conn: self._migrate(conn, hub), write=False)

    # -- connections -------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        """A new connection; raises ``sqlite3.Error`` (busy while another opens the file)."""
        conn = sqlite3.connect(self._path, timeout=0, isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA synchronous={self._sync}")
        except BaseException:
            conn.close()
            raise
        with self._all_lock:
            self._all.append(conn)
        return conn

    def _checkout(self) -> sqlite3.Connection:
        """An idle connection (the one used last: its cache is warm), or a new one.

        Connections are pooled, not kept per thread: a caller that runs each call on
        a new short-lived thread (LangGraph does) would otherwise leave a connection,
        and its file descriptors, behind with every thread.
        """
        if self._closed:
            raise BackendError("the SQLite backend is closed")
        with self._all_lock:
            pid = os.getpid()
            if pid != self._pid:
                # After fork the parent's connections must not be used (nor closed) here.
                self._pid, self._idle, self._all = pid, [], []
            if self._idle:
                return self._idle.pop()
        return self._connect()

    def _checkin(self, conn: sqlite3.Connection) -> None:
        """Give ``conn`` back: kept idle, up to :data:`MAX_IDLE_CONNECTIONS`, else closed."""
        with self._all_lock:
            if not self._closed and len(self._idle) < MAX_IDLE_CONNECTIONS:
                self._idle.append(conn)
                return
            if conn in self._all:
                self._all.remove(conn)
        conn.close()

    def _run(self, work: Callable[[sqlite3.Connection], T], *, write: bool = True) -> T:
        """Run ``work`` on this thread's connection, retrying while the file is busy.

        With ``write``, ``work`` runs inside ``BEGIN IMMEDIATE`` and is committed
        when it returns, rolled back when it raises.
        """
        try:
            return self._attempt(work, write)
        except _Busy:
            pass
        deadline = time.monotonic() + self._busy_timeout
        for attempt in backoff(base=0.0005, cap=0.004, deadline=deadline):
            if attempt == 0:
                continue  # the first attempt was the one above
            try:
                return self._attempt(work, write)
            except _Busy:
                continue
        raise BackendBusy(
            f"could not get the write lock on {self._path!r} within {self._busy_timeout} s"
        )

    def _attempt(self, work: Callable[[sqlite3.Connection], T], write: bool) -> T:
        """One try of :meth:`_run`; raises ``_Busy`` if the file is locked."""
        try:
            conn = self._checkout()
        except sqlite3.Error as exc:
            raise self._failure(exc) from exc
        try:
            return self._attempt_on(conn, work, write)
        finally:
            self._checkin(conn)

    def _failure(self, exc: sqlite3.Error) -> Exception:
        """What a driver error becomes: ``_Busy`` (retried) or a ``BackendError``."""
        if _is_busy(exc):
            return _Busy()
        return BackendError(f"SQLite error on {self._path!r}: {exc}")

    def _attempt_on(
        self, conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], T], write: bool
    ) -> T:
        try:
            if not write:
                return work(conn)
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._failure(exc) from exc
        try:
            result = work(conn)
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise BackendError(f"SQLite error on {self._path!r}: {exc}") from exc
            raise
        return result

    def _migrate(self, conn: sqlite3.Connection, hub: str) -> int:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise BackendError(
                    f"{self._path!r} has schema version {version}, newer than this "
                    f"statehub's {SCHEMA_VERSION}: upgrade statehub"
                )
            for statements in _MIGRATIONS[version:]:
                for statement in statements:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute(
                "INSERT OR IGNORE INTO hubs (name, created_ts) VALUES (?, ?)", (hub, time.time())
            )
            hub_id: int = conn.execute("SELECT id FROM hubs WHERE name = ?", (hub,)).fetchone()[0]
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return hub_id

    # -- the commit primitive ----------------------------------------------------

    def _load_in(self, conn: sqlite3.Connection, key: str) -> Stored | None:
        row = conn.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE hub = ? AND key = ?", (self._hub, key)
        ).fetchone()
        return None if row is None else _stored(row)

    def _read_for_commit(
        self, conn: sqlite3.Connection, keys: list[str]
    ) -> tuple[int, dict[str, Stored | None]]:
        """The head and the rows of ``keys``: one query per 500 keys (usually one)."""
        found: dict[str, Stored | None] = dict.fromkeys(keys)
        head = 0
        for start in range(0, max(len(keys), 1), _MAX_PARAMS):
            chunk = keys[start : start + _MAX_PARAMS]
            for row in conn.execute(_read_sql(len(chunk)), (self._hub, self._hub, *chunk)):
                head = row[0]
                if row[1] is not None:
                    found[row[1]] = _stored(row[1:])
        return head, found

    def _due_for_sweep(self, conn: sqlite3.Connection, now: float) -> list[Stored]:
        if not self._sweep.is_due(now):
            return []
        sql = (
            f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE hub = ? AND expires_ts <= ? "
            "ORDER BY expires_ts LIMIT ?"
        )
        return [_stored(row) for row in conn.execute(sql, (self._hub, now, SWEEP_BATCH))]

    def _write_plan(self, conn: sqlite3.Connection, plan: Plan) -> None:
        hub = self._hub
        upserts = [_entry_params(hub, row) for row in plan.writes.values() if row is not None]
        deletes = [(hub, key) for key, row in plan.writes.items() if row is None]
        changes = [
            (
                hub,
                plan.revision,
                row.key,
                row.op,
                plan.agent,
                plan.timestamp,
                row.label,
                row.prev_version,
                row.version,
                pack(row.patch),
                pack(row.value),
                pack(row.cause),
            )
            for row in plan.rows
        ]
        _execute(conn, _UPSERT, upserts)
        if deletes:
            _execute(conn, "DELETE FROM entries WHERE hub = ? AND key = ?", deletes)
        _execute(conn, _INSERT_CHANGE, changes)

    def commit(self, txn: Txn, max_bytes: int) -> CommitOutcome:
        """Apply ``txn`` inside ``BEGIN IMMEDIATE``."""

        def work(conn: sqlite3.Connection) -> CommitOutcome:
            now = time.time()
            head, before = self._read_for_commit(conn, txn.keys)
            due = self._due_for_sweep(conn, now)
            plans, before, plan = plan_with_expiry(txn, before, head, now, max_bytes, due)
            for each in plans:
                self._write_plan(conn, each)
            return plan, before

        with self._slot:
            return self._run(work)

    # -- reads -------------------------------------------------------------------

    def load(self, key: str) -> Stored | None:
        """The current row of ``key``."""
        return self._run(lambda conn: self._load_in(conn, key), write=False)

    def scan(self, prefix: str, visible_to: str | None) -> list[Stored]:
        """Current rows under ``prefix``, in key order."""
        where, params = self._key_filter(prefix, None, visible_to)
        sql = f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE hub = ?{where} ORDER BY key"
        rows = self._run(
            lambda conn: conn.execute(sql, (self._hub, *params)).fetchall(), write=False
        )
        return [_stored(row) for row in rows]

    def chain(self, key: str, revision: int) -> Iterable[tuple[str, bytes | None, bytes | None]]:
        """The key's log rows at or before ``revision``, newest first, back to a whole value."""
        sql = (
            "SELECT op, patch, value FROM changes WHERE hub = ? AND key = ? AND revision <= ? "
            "ORDER BY revision DESC"
        )

        def work(conn: sqlite3.Connection) -> list[tuple[str, bytes | None, bytes | None]]:
            found = []
            cursor = conn.execute(sql, (self._hub, key, revision))
            try:
                for op, patch, value in cursor:
                    found.append((op, unpack(patch), unpack(value)))
                    if value is not None or is_removal(patch, value):
                        break
            finally:
                cursor.close()
            return found

        return self._run(work, write=False)

    @staticmethod
    def _key_filter(
        prefix: str | None, key: str | None, visible_to: str | None
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if key is not None:
            clauses.append("key = ?")
            params.append(key)
        if prefix:
            low, high = _prefix_bounds(prefix)
            clauses.append("key >= ? AND key < ?")
            params += [low, high]
        if visible_to is not None:
            # Agent names hold no GLOB metacharacters (see statehub.keys).
            clauses.append(
                "key NOT GLOB '_*' AND (key NOT GLOB 'agent/*' OR key = ? OR key GLOB ?)"
            )
            params += [f"agent/{visible_to}", f"agent/{visible_to}/*"]
        return "".join(f" AND {clause}" for clause in clauses), params

    def changed_keys(self, prefix: str, until: int, visible_to: str | None) -> list[str]:
        """Keys under ``prefix`` changed at or before ``until``."""
        where, params = self._key_filter(prefix, None, visible_to)
        sql = (
            f"SELECT DISTINCT key FROM changes WHERE hub = ?{where} AND revision <= ? ORDER BY key"
        )
        rows = self._run(
            lambda conn: conn.execute(sql, (self._hub, *params, until)).fetchall(), write=False
        )
        return [row[0] for row in rows]

    def changes(self, query: ChangeQuery) -> list[Change]:
        """Log rows matching ``query``, oldest first."""
        where, params = self._key_filter(query.prefix, query.key, query.visible_to)
        if query.agent is not None:
            where += " AND agent = ?"
            params.append(query.agent)
        if query.since is not None:
            where += " AND revision > ?"
            params.append(query.since)
        if query.until is not None:
            where += " AND revision <= ?"
            params.append(query.until)
        sql = f"SELECT {_CHANGE_COLUMNS} FROM changes WHERE hub = ?{where} ORDER BY revision, key"
        if query.limit is not None:
            sql += " LIMIT ?"
            params.append(query.limit)
        rows = self._run(
            lambda conn: conn.execute(sql, (self._hub, *params)).fetchall(), write=False
        )
        return [change_from_row(*_unpacked(row)) for row in rows]

    def raw_changes(self) -> list[RawChange]:
        """Every log row in revision order, its payloads unpacked (as other backends keep them)."""
        sql = f"SELECT {_CHANGE_COLUMNS} FROM changes WHERE hub = ? ORDER BY revision, key"
        rows = self._run(lambda conn: conn.execute(sql, (self._hub,)).fetchall(), write=False)
        return [_unpacked(row) for row in rows]

    def load_export(self, export: Export) -> None:
        """Load an export's rows and log into this empty hub, in one transaction."""
        hub = self._hub

        def work(conn: sqlite3.Connection) -> None:
            if (
                conn.execute("SELECT 1 FROM entries WHERE hub = ? LIMIT 1", (hub,)).fetchone()
                or (conn.execute(_HEAD, (hub,)).fetchone()[0])
            ):
                raise InvalidArgument("can only import into an empty hub")
            conn.executemany(_UPSERT, [_entry_params(hub, row) for row in export.entries])
            conn.executemany(_INSERT_CHANGE, [(hub, *_packed(change)) for change in export.changes])
            oldest = export.oldest if export.changes else 0
            conn.execute("UPDATE hubs SET compacted_before = ? WHERE id = ?", (oldest, hub))

        self._run(work)

    def first_revision_since(self, timestamp: float) -> int:
        """The first revision committed at or after ``timestamp``."""
        sql = "SELECT min(revision) FROM changes WHERE hub = ? AND ts >= ?"
        row = self._run(
            lambda conn: conn.execute(sql, (self._hub, timestamp)).fetchone(), write=False
        )
        return self.head() + 1 if row[0] is None else int(row[0])

    def oldest(self) -> int:
        """The oldest readable revision (recorded by compaction)."""
        sql = "SELECT compacted_before FROM hubs WHERE id = ?"
        row = self._run(lambda conn: conn.execute(sql, (self._hub,)).fetchone(), write=False)
        oldest: int = row[0]
        return oldest

    def compact(self, oldest: int, keep: list[int]) -> int:
        """Drop log rows below ``oldest`` that no kept read needs, in one transaction."""
        hub = self._hub

        def work(conn: sqlite3.Connection) -> int:
            rows_by_key: dict[str, list[LogRowAt]] = {}
            cursor = conn.execute(
                "SELECT key, revision, op, patch, value FROM changes "
                "WHERE hub = ? AND revision <= ? ORDER BY key, revision",
                (hub, oldest),
            )
            for key, revision, op, patch, value in cursor:
                rows_by_key.setdefault(key, []).append((revision, op, unpack(patch), unpack(value)))
            dropped = 0
            for key, rows in rows_by_key.items():
                rewrites, drops = plan_key_compaction(rows, oldest, keep)
                conn.executemany(
                    "UPDATE changes SET value = ? WHERE hub = ? AND revision = ? AND key = ?",
                    [(pack(value), hub, revision, key) for revision, value in rewrites.items()],
                )
                conn.executemany(
                    "DELETE FROM changes WHERE hub = ? AND revision = ? AND key = ?",
                    [(hub, revision, key) for revision in drops],
                )
                dropped += len(drops)
            conn.execute(
                "UPDATE hubs SET compacted_before = max(compacted_before, ?) WHERE id = ?",
                (oldest, hub),
            )
            return dropped

        return self._run(work)

    def wait(self, after: int, timeout: float | None) -> int:
        """Poll the head until it passes ``after``: every 1 ms at first, then up to 10 ms.

        Another process's commit has no way to wake this one, and polling the head is
        one index seek, so a short poll keeps watch latency in milliseconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.001
        while True:
            head = self.head()
            if head > after:
                return head
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return head
                delay = min(delay, remaining)
            time.sleep(delay)
            delay = min(delay * 1.5, 0.01)

    def head(self) -> int:
        """The hub's current revision."""
        # Every commit logs at least one change, and compaction keeps the newest,
        # so the head is the log's largest revision: no counter row to rewrite.
        row = self._run(lambda conn: conn.execute(_HEAD, (self._hub,)).fetchone(), write=False)
        revision: int = row[0]
        return revision

    def close(self) -> None:
        """Close every connection this backend opened."""
        self._closed = True
        with self._all_lock:
            connections, self._all, self._idle = self._all, [], []
        for conn in connections:
            conn.close()
