"""The PostgreSQL backend: many machines, many hubs, one database (``statehub[postgres]``).

A commit is planned in Python by the same planner as every other backend, on the
rows it touches, and written by one call of the server-side function
``statehub_apply`` (see :mod:`statehub.backends.postgres_sql`), which locks the hub's
row, checks that every row the plan read is unchanged, and writes the plan under the
hub's next revision. The rows come from a cache of what this process last saw, so a
commit is one round trip when the cache is right; when it is not (another process
wrote), the function says so, the rows are read afresh with the database's clock,
and the commit is planned again: two round trips. While nobody else has committed
since this process last knew every row it keeps, a commit is one plain statement
instead (``FAST_APPLY``), guarded by the head in the hub's row.

Time is the database's: every read for a commit returns ``clock_timestamp()``, the
cached path uses the local clock corrected by the offset measured then, and the
function refuses a plan timed ahead of the database. Watch wakes on LISTEN/NOTIFY;
the log stays the source of truth, so a missed notification delays, never loses.
"""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import orjson

from statehub.backends.base import SWEEP_BATCH, Backend, CommitOutcome, CommitSlot, Sweeper
from statehub.backends.postgres_sql import (
    FAST_APPLY,
    FAST_APPLY_ONE,
    FAST_APPLY_ONE_TYPES,
    FUNCTIONS,
    MIGRATIONS,
    SCHEMA_VERSION,
)
from statehub.errors import BackendError, BackendUnavailable, InvalidArgument, StatehubError
from statehub.exchange import Export, RawChange
from statehub.history import (
    ChangeQuery,
    LogRowAt,
    change_from_row,
    is_removal,
    plan_key_compaction,
)
from statehub.model import Change
from statehub.retry import backoff
from statehub.txn import Plan, Stored, Txn, plan_with_expiry, shift_plan

try:
    import psycopg
    import psycopg_pool

    from statehub.backends.postgres_prepared import PreparedStatement
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "the PostgreSQL backend needs psycopg 3: pip install 'statehub[postgres]'"
    ) from exc

__all__ = ["PostgresBackend"]

T = TypeVar("T")

_ENTRY_COLUMNS = (
    "key, value::text, version, created_rev, modified_rev, updated_by, updated_ts, "
    "expires_ts, owner, patch_bytes"
)
_CHANGE_COLUMNS = (
    "revision, key, op, agent, ts, label, prev_version, version, patch::text, value::text, "
    "cause::text"
)
_READ_FOR_COMMIT = f"""
    SELECT statehub_head(h.id), extract(epoch FROM clock_timestamp())::float8, {_ENTRY_COLUMNS}
    FROM statehub_hubs h
    LEFT JOIN statehub_entries e ON e.hub = h.id AND e.key = ANY(%(keys)s)
    WHERE h.id = %(hub)s
"""
_FAST_APPLY_ONE = PreparedStatement("statehub_fast_apply_one", FAST_APPLY_ONE, FAST_APPLY_ONE_TYPES)
_REPLAN = frozenset({"SH001", "SH002"})
"""SQLSTATEs of ``statehub_apply`` that mean: plan again on fresh rows."""
_CACHE_SIZE = 10_000
"""Rows remembered per backend for one-round-trip commits."""
_RESYNC = 8
"""Commits of one process in a row, nobody else's between, after which its row cache
starts again from what it just wrote (see :class:`_RowCache`)."""
_MAX_CONNECTIONS = 10


def _bytes(text: str | None) -> bytes | None:
    return None if text is None else text.encode()


def _raw_change(row: tuple[Any, ...]) -> RawChange:
    """A fetched log row (JSON columns as text) as stored bytes."""
    revision, key, op, agent, ts, label, prev_version, version, patch, value, cause = row
    return (
        revision,
        key,
        op,
        agent,
        ts,
        label,
        prev_version,
        version,
        _bytes(patch),
        _bytes(value),
        _bytes(cause),
    )


def _stored(row: tuple[Any, ...]) -> Stored:
    key, value, *rest = row
    return Stored(key, value.encode(), *rest)


def _text(data: bytes | None) -> str | None:
    return None if data is None else data.decode()


def _entry_values(row: Stored) -> list[Any]:
    """``row``'s columns as PostgreSQL takes them (the value as JSON text)."""
    key, data, *rest = row.columns()
    return [key, data.decode(), *rest]


def _apply_params(plans: list[Plan]) -> tuple[str, list[str], str]:
    """``statehub_apply``'s writes, deletes and changes for consecutive ``plans``.

    Writes and deletes are each key's final state after all the plans (a key expired
    by the first plan and written by the second is one write); every change row keeps
    its plan's offset from the first revision.
    """
    final: dict[str, Stored | None] = {}
    for plan in plans:
        final.update(plan.writes)
    writes = [_entry_values(row) for row in final.values() if row is not None]
    changes = [
        [
            offset,
            row.key,
            row.op,
            plan.agent,
            row.label,
            row.prev_version,
            row.version,
            _text(row.patch),
            _text(row.value),
            _text(row.cause),
        ]
        for offset, plan in enumerate(plans)
        for row in plan.rows
    ]
    deletes = [key for key, row in final.items() if row is None]
    return orjson.dumps(writes).decode(), deletes, orjson.dumps(changes).decode()


def _fast_applied(
    conn: psycopg.Connection[Any], plans: list[Plan], hub: int, planned: int, now: float
) -> bool:
    """Commit ``plans`` with the guarded statement; whether it wrote them.

    It writes nothing if the hub's head moved past ``planned - 1``; plans that delete
    a row are not tried (``False``).
    """
    plan = plans[0]
    common = {"hub": hub, "planned": planned, "ts": now, "count": len(plans)}
    if len(plans) == 1 and len(plan.rows) == 1:
        row, log = next(iter(plan.writes.values())), plan.rows[0]
        if row is None:
            return False
        params = {
            **common,
            "key": row.key,
            "data": row.data.decode(),
            "version": row.version,
            "created_rev": row.created_rev,
            "agent": row.updated_by,
            "expires_ts": row.expires_ts,
            "owner": row.owner,
            "patch_bytes": row.patch_bytes,
            "op": log.op,
            "label": log.label,
            "prev_version": log.prev_version,
            "patch": _text(log.patch),
            "logged": _text(log.value),
            "cause": _text(log.cause),
        }
        return _FAST_APPLY_ONE.rows(conn, params) > 0
    writes, deletes, changes = _apply_params(plans)
    if deletes:
        return False
    params = {**common, "writes": writes, "changes": changes}
    return conn.execute(FAST_APPLY, params).fetchone() is not None


class _Lost(Exception):
    """The connection dropped while a write was in flight: it may or may not be done."""


class _Changed(Exception):
    """Rows read for a commit changed before it was applied (try under the lock)."""


class _RowCache:
    """What this process last saw of each row (``None``: absent), and the head then.

    Each row is kept with the head it was current at, and an older sighting never
    replaces a newer one (threads race to remember). ``synced`` is a head at which
    every row kept was current: it is set when there is nothing to keep, and moves
    only with this process's own commits that start right after it. So while the
    hub's head is still ``synced``, nobody else has committed and every row here is
    current: a commit planned on them may skip the checks (``FAST_APPLY``). Once
    another writer has committed, ``synced`` stays behind; after ``_RESYNC`` commits
    of this process in a row, nobody else's in between, the rows are dropped but for
    the ones just written, and ``synced`` starts again from there.
    """

    def __init__(self) -> None:
        self._rows: OrderedDict[str, tuple[Stored | None, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.head = 0
        self.synced = -1
        self._last = -1
        self._quiet = 0

    def guess(self, keys: list[str]) -> tuple[dict[str, Stored | None], int] | None:
        """The rows of ``keys`` and ``synced``, if every one of them is kept."""
        with self._lock:
            if not all(key in self._rows for key in keys):
                return None
            return {key: self._rows[key][0] for key in keys}, self.synced

    def remember(self, rows: dict[str, Stored | None], head: int) -> int:
        """Keep ``rows``, current at ``head``; return ``synced``, taken with them."""
        with self._lock:
            if not self._rows:
                self.synced = head
            self._keep(rows, head)
            return self.synced

    def committed(self, plans: list[Plan], first: int) -> None:
        """Keep what ``plans`` wrote, committed from revision ``first`` on."""
        with self._lock:
            if first - 1 != self.synced:
                self._quiet = self._quiet + 1 if first - 1 == self._last else 0
                if self._quiet >= _RESYNC:
                    self._rows.clear()
                    self._quiet = 0
                    self.synced = first - 1
            for plan in plans:
                self._keep(plan.writes, plan.revision)
            self._last = plans[-1].revision
            if first - 1 == self.synced:
                self.synced = self._last

    def _keep(self, rows: dict[str, Stored | None], head: int) -> None:
        self.head = max(self.head, head)
        for key, row in rows.items():
            kept = self._rows.get(key)
            # Seen before the last synced head and not kept since: it may be stale.
            if (kept[1] if kept is not None else self.synced) > head:
                continue
            self._rows[key] = (row, head)
            self._rows.move_to_end(key)
        while len(self._rows) > _CACHE_SIZE:
            self._rows.popitem(last=False)

    def forget(self, keys: Iterable[str]) -> None:
        """Drop ``keys`` (they are read afresh next time)."""
        with self._lock:
            for key in keys:
                self._rows.pop(key, None)


class PostgresBackend(Backend):
    """A hub stored in a PostgreSQL database (many hubs per database)."""

    def __init__(self, dsn: str, hub: str, *, shown_as: str, busy_timeout: float = 30.0) -> None:
        self._shown_as = shown_as
        self._busy_timeout = busy_timeout
        try:
            # One direct connection first: a server that is down or refuses us is
            # reported at once, naming the URL, instead of after a pool's retries.
            with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as first:
                hub_id = self._migrate(first, hub)
        except psycopg.Error as exc:
            raise BackendError(f"cannot connect to {shown_as!r}: {exc}") from exc
        self._pool = psycopg_pool.ConnectionPool(
            dsn,
            min_size=1,
            max_size=_MAX_CONNECTIONS,
            kwargs={"autocommit": True},
            timeout=busy_timeout,
            open=True,
        )
        self._dsn = dsn
        self._cache = _RowCache()
        self._sweep = Sweeper()
        self._clock_offset = 0.0
        self._listener = threading.local()
        self._listeners: list[psycopg.Connection[Any]] = []
        self._listeners_lock = threading.Lock()
        self._spare: list[psycopg.Connection[Any]] = []
        self._spare_since: weakref.WeakKeyDictionary[psycopg.Connection[Any], float] = (
            weakref.WeakKeyDictionary()
        )
        self._spare_lock = threading.Lock()
        self._slot = CommitSlot(shown_as, busy_timeout)
        self._closed = False
        self._hub = hub_id

    # -- connections -------------------------------------------------------------

    def _run(self, work: Callable[[psycopg.Connection[Any]], T], *, retry: bool = True) -> T:
        """Run ``work`` on a pooled connection; driver errors become ``BackendError``.

        With ``retry`` (reads, and writes known not to have happened), a lost
        connection is retried with backoff until the server is back or the hub's
        ``busy_timeout`` has passed, then :class:`BackendUnavailable`.
        """
        deadline = time.monotonic() + self._busy_timeout
        for _ in backoff(base=0.05, cap=1.0, deadline=deadline):
            try:
                conn = self._take()
                try:
                    result = work(conn)
                except BaseException:
                    self._pool.putconn(conn)  # the pool checks it, and drops it if broken
                    raise
                self._give(conn)
                return result
            except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
                lost: Exception = exc
                if not retry:
                    raise _Lost from exc
            except psycopg.Error as exc:
                raise BackendError(f"PostgreSQL error on {self._shown_as!r}: {exc}") from exc
        raise BackendUnavailable(
            f"{self._shown_as!r} was unreachable for {self._busy_timeout} s: {lost}"
        ) from lost

    def _take(self) -> psycopg.Connection[Any]:
        """The spare connection if there is one, else one from the pool."""
        with self._spare_lock:
            if self._spare:
                return self._spare.pop()
        return self._pool.getconn()

    def _give(self, conn: psycopg.Connection[Any]) -> None:
        """Keep ``conn``, which just worked, as the spare, or give it back to the pool.

        Most calls come one at a time from one thread; the spare saves them the pool's
        locks, checks and logging (about a tenth of a commit's client time). At most
        one connection is spare, so a thread waiting on a full pool waits for no more
        than the next call to finish. A connection spare for the pool's
        ``max_lifetime`` goes back to it, which replaces it as it would its own.
        """
        idle = conn.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE
        now = time.monotonic()
        with self._spare_lock:
            if idle and not self._spare and not self._closed:
                since = self._spare_since.setdefault(conn, now)
                if now - since < self._pool.max_lifetime:
                    self._spare.append(conn)
                    return
                del self._spare_since[conn]
        self._pool.putconn(conn)

    def _migrate(self, conn: psycopg.Connection[Any], hub: str) -> int:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('statehub migrations'))")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS statehub_migrations ("
                "version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            row = conn.execute("SELECT coalesce(max(version), 0) FROM statehub_migrations")
            version = row.fetchone()[0]  # type: ignore[index]
            if version > SCHEMA_VERSION:
                raise BackendError(
                    f"{self._shown_as!r} has statehub schema version {version}, newer than "
                    f"this statehub's {SCHEMA_VERSION}: upgrade statehub"
                )
            for number, statements in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in statements:
                    conn.execute(statement)
                conn.execute("INSERT INTO statehub_migrations (version) VALUES (%s)", (number,))
            conn.execute(FUNCTIONS)
            conn.execute(
                "INSERT INTO statehub_hubs (name) VALUES (%s) ON CONFLICT (name) DO NOTHING",
                (hub,),
            )
            found = conn.execute("SELECT id FROM statehub_hubs WHERE name = %s", (hub,))
            hub_id: int = found.fetchone()[0]  # type: ignore[index]
        return hub_id

    # -- the commit primitive ----------------------------------------------------

    def _read_rows(
        self, conn: psycopg.Connection[Any], keys: list[str]
    ) -> tuple[dict[str, Stored | None], int, float, list[Stored]]:
        """Rows of ``keys``, the head, the database's time, and expired rows to sweep."""
        started = time.time()
        rows = conn.execute(_READ_FOR_COMMIT, {"keys": keys, "hub": self._hub}).fetchall()
        head, now = int(rows[0][0]), float(rows[0][1])
        self._clock_offset = now - (started + time.time()) / 2
        due: list[Stored] = []
        if self._sweep.is_due(now):
            cursor = conn.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM statehub_entries "
                "WHERE hub = %s AND expires_ts <= %s ORDER BY expires_ts LIMIT %s",
                (self._hub, now, SWEEP_BATCH),
            )
            due = [_stored(row) for row in cursor]
        before: dict[str, Stored | None] = dict.fromkeys(keys)
        for row in rows:
            if row[2] is not None:
                before[row[2]] = _stored(row[2:])
        for expired in due:
            before.setdefault(expired.key, expired)
        return before, head, now, due

    def commit(self, txn: Txn, max_bytes: int) -> CommitOutcome:
        """Plan ``txn`` on cached rows, then on fresh ones, then under the hub's lock.

        The first two tries are optimistic (one round trip each, the rows checked by
        ``statehub_apply``); if other writers changed the rows both times, the third
        holds the hub's lock while it reads and writes, so it cannot be overtaken:
        under any contention a commit finishes in at most three tries.
        """
        with self._slot:
            return self._commit(txn, max_bytes)

    def _commit(self, txn: Txn, max_bytes: int) -> CommitOutcome:
        keys = txn.keys
        guess = self._cache.guess(keys)
        now = time.time() + self._clock_offset
        if guess is not None and not self._sweep.pending(now):  # sweeps read fresh rows
            rows, synced = guess
            outcome = self._try_commit(
                txn, max_bytes, rows, self._cache.head, now, [], synced, cached=True
            )
            if outcome is not None:
                return outcome
            self._cache.forget(keys)
        before, head, now, due = self._run(lambda conn: self._read_rows(conn, keys))
        synced = self._cache.remember(before, head)
        try:
            outcome = self._try_commit(txn, max_bytes, before, head, now, due, synced)
        except _Changed:
            outcome = None
        if outcome is not None:
            return outcome
        return self._run(lambda conn: self._commit_locked(conn, txn, max_bytes))

    def _try_commit(
        self,
        txn: Txn,
        max_bytes: int,
        before: dict[str, Stored | None],
        head: int,
        now: float,
        due: list[Stored],
        synced: int,
        *,
        cached: bool = False,
    ) -> CommitOutcome | None:
        """Plan and apply on ``before``; ``None`` if those rows turned out stale.

        Rows from the cache may be stale, so a plan that fails or writes nothing on
        them proves nothing: ``None`` then, and the caller reads afresh. Rows read
        just now are trusted: planning errors are the caller's. When ``synced`` is
        the head the plan follows, the rows are known current (see :class:`_RowCache`)
        and the plan is sent as one guarded statement first.
        """
        head = max([head, *(row.modified_rev for row in before.values() if row)])
        try:
            plans, seen, plan = plan_with_expiry(txn, before, head, now, max_bytes, due)
        except StatehubError:
            if cached:
                return None
            raise
        if not plans:
            return None if cached and txn.keys else (None, seen)
        first = self._apply_once(plans, before, head + 1, now, fast=synced == head and not due)
        if first < 0:
            self._cache.forget(before)
            if cached:
                return None
            raise _Changed
        return self._applied(plans, plan, seen, head + 1, first)

    def _applied(
        self,
        plans: list[Plan],
        plan: Plan | None,
        seen: dict[str, Stored | None],
        planned: int,
        first: int,
    ) -> CommitOutcome:
        shifted = [shift_plan(each, planned, first - planned) for each in plans]
        self._cache.committed(shifted, first)
        return (shifted[-1] if plan is not None else None), seen

    def _commit_locked(
        self, conn: psycopg.Connection[Any], txn: Txn, max_bytes: int
    ) -> CommitOutcome:
        """Read, plan and apply while holding the hub's lock: cannot be overtaken."""
        with conn.transaction():
            conn.execute("SELECT statehub_lock(%s)", (self._hub,))
            before, head, now, due = self._read_rows(conn, txn.keys)
            plans, seen, plan = plan_with_expiry(txn, before, head, now, max_bytes, due)
            if not plans:
                return None, seen
            first = self._apply(conn, plans, before, head + 1, now, fast=False)
            if first != head + 1:  # pragma: no cover - the lock rules it out
                raise BackendError(f"commit on {self._shown_as!r} raced while locked")
        return self._applied(plans, plan, seen, head + 1, first)

    def _apply_once(
        self,
        plans: list[Plan],
        before: dict[str, Stored | None],
        planned: int,
        now: float,
        *,
        fast: bool,
    ) -> int:
        """Apply, surviving a dropped connection without ever applying twice.

        If the connection drops mid-call, the log says whether the commit happened
        (its first change row, found by key, time and agent); if not, it is sent again.
        """
        first_plan = plans[0]
        marker = (self._hub, first_plan.rows[0].key, now, first_plan.agent)
        find = (
            "SELECT revision FROM statehub_changes "
            "WHERE hub = %s AND key = %s AND ts = %s AND agent = %s"
        )
        while True:
            try:
                return self._run(
                    lambda conn: self._apply(conn, plans, before, planned, now, fast=fast),
                    retry=False,
                )
            except _Lost:
                found = self._run(lambda conn: conn.execute(find, marker).fetchall())
                if found:
                    revision: int = found[0][0]
                    return revision

    def _apply(
        self,
        conn: psycopg.Connection[Any],
        plans: list[Plan],
        before: dict[str, Stored | None],
        planned: int,
        now: float,
        *,
        fast: bool,
    ) -> int:
        """Commit ``plans``; their first revision, or -1 if the rows they read changed.

        With ``fast``, the guarded statement is tried first (``FAST_APPLY``); if it
        wrote nothing, or without ``fast``, ``statehub_apply`` checks every row.
        """
        if fast and _fast_applied(conn, plans, self._hub, planned, now):
            return planned
        writes, deletes, changes = _apply_params(plans)
        expect = {key: row.modified_rev if row else 0 for key, row in before.items()}
        sql = "SELECT statehub_apply(%s, %s, %s, %s::jsonb, %s, %s::jsonb, %s, %s::jsonb)"
        expected = orjson.dumps(expect).decode()
        params = (self._hub, planned, now, expected, len(plans), writes, deletes, changes)
        try:
            first: int = conn.execute(sql, params).fetchone()[0]  # type: ignore[index]
        except psycopg.DatabaseError as exc:
            if exc.sqlstate in _REPLAN:
                return -1
            raise
        return first

    # -- reads -------------------------------------------------------------------

    def _fetch(self, sql: str, params: Any) -> list[tuple[Any, ...]]:
        return self._run(lambda conn: conn.execute(sql, params).fetchall())

    def load(self, key: str) -> Stored | None:
        """The current row of ``key``."""
        sql = f"SELECT {_ENTRY_COLUMNS} FROM statehub_entries WHERE hub = %s AND key = %s"
        rows = self._fetch(sql, (self._hub, key))
        return _stored(rows[0]) if rows else None

    @staticmethod
    def _key_filter(
        prefix: str | None, key: str | None, visible_to: str | None
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if key is not None:
            clauses.append("key = %s")
            params.append(key)
        if prefix:
            clauses.append("key >= %s AND key < %s")
            params += [prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)]
        if visible_to is not None:
            clauses.append(
                "left(key, 1) <> '_' AND (left(key, 6) <> 'agent/' OR key = %s "
                "OR left(key, %s) = %s)"
            )
            mine = f"agent/{visible_to}/"
            params += [f"agent/{visible_to}", len(mine), mine]
        return "".join(f" AND {clause}" for clause in clauses), params

    def scan(self, prefix: str, visible_to: str | None) -> list[Stored]:
        """Current rows under ``prefix``, in key order."""
        where, params = self._key_filter(prefix, None, visible_to)
        sql = f"SELECT {_ENTRY_COLUMNS} FROM statehub_entries WHERE hub = %s{where} ORDER BY key"
        return [_stored(row) for row in self._fetch(sql, (self._hub, *params))]

    def chain(self, key: str, revision: int) -> Iterable[tuple[str, bytes | None, bytes | None]]:
        """The key's log rows at or before ``revision``, newest first, back to a whole value."""

        def work(conn: psycopg.Connection[Any]) -> list[tuple[str, bytes | None, bytes | None]]:
            found: list[tuple[str, bytes | None, bytes | None]] = []
            with conn.transaction(), conn.cursor(name="statehub_chain") as cursor:
                cursor.itersize = 64
                cursor.execute(
                    "SELECT op, patch::text, value::text FROM statehub_changes "
                    "WHERE hub = %s AND key = %s AND revision <= %s ORDER BY revision DESC",
                    (self._hub, key, revision),
                )
                for op, patch, value in cursor:
                    found.append((op, _bytes(patch), _bytes(value)))
                    if value is not None or is_removal(patch, value):
                        break
            return found

        return self._run(work)

    def changed_keys(self, prefix: str, until: int, visible_to: str | None) -> list[str]:
        """Keys under ``prefix`` changed at or before ``until``."""
        where, params = self._key_filter(prefix, None, visible_to)
        sql = (
            f"SELECT DISTINCT key FROM statehub_changes WHERE hub = %s{where} "
            "AND revision <= %s ORDER BY key"
        )
        return [row[0] for row in self._fetch(sql, (self._hub, *params, until))]

    def changes(self, query: ChangeQuery) -> list[Change]:
        """Log rows matching ``query``, oldest first."""
        where, params = self._key_filter(query.prefix, query.key, query.visible_to)
        for clause, value in (
            (" AND agent = %s", query.agent),
            (" AND revision > %s", query.since),
            (" AND revision <= %s", query.until),
        ):
            if value is not None:
                where += clause
                params.append(value)
        sql = (
            f"SELECT {_CHANGE_COLUMNS} FROM statehub_changes WHERE hub = %s{where} "
            "ORDER BY revision, key"
        )
        if query.limit is not None:
            sql += " LIMIT %s"
            params.append(query.limit)
        return [
            change_from_row(*_raw_change(row)) for row in self._fetch(sql, (self._hub, *params))
        ]

    def raw_changes(self) -> list[RawChange]:
        """Every log row as stored, in revision order."""
        sql = (
            f"SELECT {_CHANGE_COLUMNS} FROM statehub_changes WHERE hub = %s ORDER BY revision, key"
        )
        return [_raw_change(row) for row in self._fetch(sql, (self._hub,))]

    def head(self) -> int:
        """The hub's current revision."""
        head: int = self._fetch("SELECT statehub_head(%s)", (self._hub,))[0][0]
        return head

    def oldest(self) -> int:
        """The oldest readable revision."""
        sql = "SELECT oldest FROM statehub_hubs WHERE id = %s"
        oldest: int = self._fetch(sql, (self._hub,))[0][0]
        return oldest

    def first_revision_since(self, timestamp: float) -> int:
        """The first revision committed at or after ``timestamp``."""
        sql = "SELECT min(revision) FROM statehub_changes WHERE hub = %s AND ts >= %s"
        found = self._fetch(sql, (self._hub, timestamp))[0][0]
        return self.head() + 1 if found is None else int(found)

    # -- maintenance -------------------------------------------------------------

    def compact(self, oldest: int, keep: list[int]) -> int:
        """Drop log rows below ``oldest`` that no kept read needs, in one transaction."""
        hub = self._hub

        def work(conn: psycopg.Connection[Any]) -> int:
            with conn.transaction():
                conn.execute("SELECT statehub_lock(%s)", (hub,))
                rows_by_key: dict[str, list[LogRowAt]] = {}
                cursor = conn.execute(
                    "SELECT key, revision, op, patch::text, value::text FROM statehub_changes "
                    "WHERE hub = %s AND revision <= %s ORDER BY key, revision",
                    (hub, oldest),
                )
                for key, revision, op, patch, value in cursor.fetchall():
                    rows_by_key.setdefault(key, []).append(
                        (revision, op, _bytes(patch), _bytes(value))
                    )
                dropped = 0
                with conn.cursor() as writer:
                    for key, rows in rows_by_key.items():
                        rewrites, drops = plan_key_compaction(rows, oldest, keep)
                        writer.executemany(
                            "UPDATE statehub_changes SET value = %s::json "
                            "WHERE hub = %s AND revision = %s AND key = %s",
                            [(data.decode(), hub, rev, key) for rev, data in rewrites.items()],
                        )
                        writer.executemany(
                            "DELETE FROM statehub_changes WHERE hub = %s AND revision = %s "
                            "AND key = %s",
                            [(hub, revision, key) for revision in drops],
                        )
                        dropped += len(drops)
                conn.execute(
                    "UPDATE statehub_hubs SET oldest = greatest(oldest, %s) WHERE id = %s",
                    (oldest, hub),
                )
            return dropped

        return self._run(work)

    def load_export(self, export: Export) -> None:
        """Load an export's rows and log into this empty hub, in one transaction."""
        hub = self._hub

        def work(conn: psycopg.Connection[Any]) -> None:
            with conn.transaction(), conn.cursor() as cursor:
                conn.execute("SELECT statehub_lock(%s)", (hub,))
                head = conn.execute("SELECT statehub_head(%s)", (hub,)).fetchone()[0]  # type: ignore[index]
                present = conn.execute(
                    "SELECT 1 FROM statehub_entries WHERE hub = %s LIMIT 1", (hub,)
                ).fetchone()
                if head or present:
                    raise InvalidArgument("can only import into an empty hub")
                cursor.executemany(
                    "INSERT INTO statehub_entries (hub, key, value, version, created_rev, "
                    "modified_rev, updated_by, updated_ts, expires_ts, owner, patch_bytes) "
                    "VALUES (%s, %s, %s::json, %s, %s, %s, %s, %s, %s, %s, %s)",
                    [(hub, *_entry_values(row)) for row in export.entries],
                )
                cursor.executemany(
                    "INSERT INTO statehub_changes (hub, revision, key, op, agent, ts, label, "
                    "prev_version, version, patch, value, cause) VALUES "
                    "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s::json, %s::json, %s::json)",
                    [
                        (hub, *change[:8], _text(change[8]), _text(change[9]), _text(change[10]))
                        for change in export.changes
                    ],
                )
                oldest = export.oldest if export.changes else 0
                head = max((change[0] for change in export.changes), default=0)
                conn.execute(
                    "UPDATE statehub_hubs SET oldest = %s, head = %s WHERE id = %s",
                    (oldest, head, hub),
                )

        self._run(work)
        self._cache = _RowCache()

    # -- watching ----------------------------------------------------------------

    def _listening(self) -> psycopg.Connection[Any]:
        """This thread's connection that listens for the hub's commits.

        It listens first, then counts itself as a watcher: commits notify only while
        the hub has one (see ``statehub_watch``), and a commit that saw none was done
        before the count, so the head read after this includes it.
        """
        conn: psycopg.Connection[Any] | None = getattr(self._listener, "conn", None)
        if conn is None or conn.closed:
            conn = psycopg.Connection.connect(self._dsn, autocommit=True)
            conn.execute(f"LISTEN statehub_{int(self._hub)}")
            conn.execute("SELECT statehub_watch(%s, true)", (self._hub,))
            self._listener.conn = conn
            with self._listeners_lock:
                self._listeners.append(conn)
        return conn

    def wait(self, after: int, timeout: float | None) -> int:
        """Block until the head passes ``after``: woken by NOTIFY, checked against the log."""
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            conn = self._listening()
            while True:
                head = self.head()
                if head > after:
                    return head
                remaining = 1.0 if deadline is None else deadline - time.monotonic()
                if remaining <= 0:
                    return head
                # A notification wakes us at once; the 1 s cap bounds a missed one.
                for _ in conn.notifies(timeout=min(remaining, 1.0), stop_after=1):
                    pass
        except psycopg.Error as exc:
            self._listener.conn = None
            raise BackendError(f"watching {self._shown_as!r} failed: {exc}") from exc

    def close(self) -> None:
        """Close the pool and every listening connection."""
        with self._listeners_lock:
            listeners, self._listeners = self._listeners, []
        for conn in listeners:
            # Not counted as a watcher any more; if this fails, the next count will.
            with contextlib.suppress(psycopg.Error):
                conn.execute("SELECT statehub_watch(%s, false)", (self._hub,))
            conn.close()
        with self._spare_lock:
            self._closed = True
            spare, self._spare = self._spare, []
        for conn in spare:
            self._pool.putconn(conn)
        self._pool.close()
