"""The in-memory backend: same semantics as the others, thread-safe, no I/O.

``memory://`` gives each :func:`statehub.open` call its own store, gone when the
process ends. One lock serializes commits, which is what gives revisions their total
order; reads take the same lock briefly.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Iterable
from typing import Final

from statehub.backends.base import Backend, CommitOutcome, Sweeper
from statehub.errors import InvalidArgument
from statehub.exchange import Export, RawChange
from statehub.history import ChangeQuery, change_from_row, plan_key_compaction
from statehub.keys import is_visible
from statehub.model import Change
from statehub.txn import Plan, Stored, Txn, plan_with_expiry

__all__ = ["MemoryBackend"]


# The log holds each row as a RawChange tuple (revision, key, op, agent, ts, label,
# prev_version, version, patch, value, cause). A tuple of strings, numbers and bytes
# is untracked by the garbage collector after its first pass, so a long log costs
# the collections nothing (objects with slots would be traversed at every full one).
_REVISION: Final = 0
_KEY: Final = 1
_OP: Final = 2
_AGENT: Final = 3
_TS: Final = 4
_PATCH: Final = 8
_VALUE: Final = 9


def _revision(logged: RawChange) -> int:
    return logged[_REVISION]


def _with_value(logged: RawChange, value: bytes | None) -> RawChange:
    """``logged`` holding the whole ``value`` (compaction rewrites a patch row so)."""
    return (*logged[:_VALUE], value, *logged[_VALUE + 1 :])  # type: ignore[return-value]


def _matches(query: ChangeQuery, logged: RawChange) -> bool:
    key = logged[_KEY]
    return (
        (query.key is None or key == query.key)
        and (query.prefix is None or key.startswith(query.prefix))
        and (query.agent is None or logged[_AGENT] == query.agent)
        and (query.until is None or logged[_REVISION] <= query.until)
        and (query.visible_to is None or is_visible(query.visible_to, key))
    )


class MemoryBackend(Backend):
    """A hub held in this process's memory."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._sweep = Sweeper()
        self._expiring: set[str] = set()
        """Keys that have an expiry: what a sweep looks at."""
        self._rows: dict[str, Stored] = {}
        self._log: list[RawChange] = []
        self._by_key: dict[str, list[RawChange]] = {}
        self._head = 0
        self._oldest = 0
        self._waiting = 0
        """Threads in :meth:`wait`: a commit wakes them only if there are any."""

    def commit(self, txn: Txn, max_bytes: int) -> CommitOutcome:
        """Apply ``txn`` under the store's lock."""
        rows = self._rows
        with self._lock:
            now = time.time()
            before = {key: rows.get(key) for key in txn.keys}
            due: Iterable[Stored] = ()
            if self._expiring and self._sweep.is_due(now):
                due = self._sweep.expired(now, (rows[key] for key in self._expiring))
            plans, before, plan = plan_with_expiry(txn, before, self._head, now, max_bytes, due)
            for each in plans:
                self._persist(each)
            if plans and self._waiting:
                self._changed.notify_all()
            return plan, before

    def _persist(self, plan: Plan) -> None:
        rows, expiring, by_key = self._rows, self._expiring, self._by_key
        for key, stored in plan.writes.items():
            if stored is None:
                del rows[key]
            else:
                rows[key] = stored
            if stored is not None and stored.expires_ts is not None:
                expiring.add(key)
            elif expiring:
                expiring.discard(key)
        revision, agent, timestamp = plan.revision, plan.agent, plan.timestamp
        for row in plan.rows:
            logged = (
                revision,
                row.key,
                row.op,
                agent,
                timestamp,
                row.label,
                row.prev_version,
                row.version,
                row.patch,
                row.value,
                row.cause,
            )
            self._log.append(logged)
            history = by_key.get(row.key)
            if history is None:
                by_key[row.key] = [logged]
            else:
                history.append(logged)
        self._head = revision

    def raw_changes(self) -> list[RawChange]:
        """Every log row as stored, in revision order."""
        with self._lock:
            return list(self._log)

    def load_export(self, export: Export) -> None:
        """Load an export's rows and log into this empty hub."""
        with self._changed:
            if self._head or self._rows:
                raise InvalidArgument("can only import into an empty hub")
            self._rows = {row.key: row for row in export.entries}
            self._expiring = {row.key for row in export.entries if row.expires_ts is not None}
            for logged in export.changes:
                self._log.append(logged)
                self._by_key.setdefault(logged[_KEY], []).append(logged)
            self._head = export.revision if export.changes else 0
            self._oldest = export.oldest if export.changes else 0
            self._changed.notify_all()

    def first_revision_since(self, timestamp: float) -> int:
        """The first revision committed at or after ``timestamp``."""
        with self._lock:
            found = (item[_REVISION] for item in self._log if item[_TS] >= timestamp)
            return next(found, self._head + 1)

    def oldest(self) -> int:
        """The oldest readable revision."""
        return self._oldest

    def compact(self, oldest: int, keep: list[int]) -> int:
        """Drop log rows below ``oldest`` that no kept read needs."""
        with self._lock:
            dropped = 0
            for key, logged in list(self._by_key.items()):
                old = [item for item in logged if item[_REVISION] <= oldest]
                if not old:
                    continue
                rows = [(i[_REVISION], i[_OP], i[_PATCH], i[_VALUE]) for i in old]
                rewrites, drops = plan_key_compaction(rows, oldest, keep)
                gone = set(drops)
                kept = [
                    _with_value(item, rewrites[item[_REVISION]])
                    if item[_REVISION] in rewrites
                    else item
                    for item in logged
                    if item[_REVISION] not in gone
                ]
                dropped += len(logged) - len(kept)
                if kept:
                    self._by_key[key] = kept
                else:
                    del self._by_key[key]
            # A revision may log several keys, so rows are told apart by (revision, key).
            alive = {
                (item[_REVISION], item[_KEY]): item
                for logged in self._by_key.values()
                for item in logged
            }
            self._log = [
                alive[item[_REVISION], item[_KEY]]
                for item in self._log
                if (item[_REVISION], item[_KEY]) in alive
            ]
            self._oldest = max(self._oldest, oldest)
            return dropped

    def wait(self, after: int, timeout: float | None) -> int:
        """Block until the head passes ``after`` or ``timeout`` seconds pass."""
        with self._changed:
            self._waiting += 1
            try:
                self._changed.wait_for(lambda: self._head > after, timeout)
            finally:
                self._waiting -= 1
            return self._head

    def load(self, key: str) -> Stored | None:
        """The current row of ``key``."""
        return self._rows.get(key)

    def scan(self, prefix: str, visible_to: str | None) -> list[Stored]:
        """Current rows under ``prefix``, in key order."""
        with self._lock:
            found = [
                stored
                for key, stored in self._rows.items()
                if key.startswith(prefix) and (visible_to is None or is_visible(visible_to, key))
            ]
        return sorted(found, key=lambda stored: stored.key)

    def chain(self, key: str, revision: int) -> Iterable[tuple[str, bytes | None, bytes | None]]:
        """The key's log rows at or before ``revision``, newest first."""
        with self._lock:
            logged = list(self._by_key.get(key, ()))
        end = bisect.bisect_right(logged, revision, key=_revision)
        return ((item[_OP], item[_PATCH], item[_VALUE]) for item in reversed(logged[:end]))

    def changed_keys(self, prefix: str, until: int, visible_to: str | None) -> list[str]:
        """Keys under ``prefix`` changed at or before ``until``."""
        with self._lock:
            return sorted(
                key
                for key, logged in self._by_key.items()
                if key.startswith(prefix)
                and logged[0][_REVISION] <= until
                and (visible_to is None or is_visible(visible_to, key))
            )

    def changes(self, query: ChangeQuery) -> list[Change]:
        """Log rows matching ``query``, oldest first."""
        with self._lock:
            source = self._by_key.get(query.key, []) if query.key is not None else self._log
            start = 0
            if query.since is not None:
                start = bisect.bisect_right(source, query.since, key=_revision)
            found: list[Change] = []
            for logged in source[start:]:
                if query.limit is not None and len(found) >= query.limit:
                    break
                if query.until is not None and logged[_REVISION] > query.until:
                    break
                if _matches(query, logged):
                    found.append(change_from_row(*logged))
        return found

    def head(self) -> int:
        """The current revision."""
        return self._head

    def close(self) -> None:
        """Drop the store."""
        with self._lock:
            self._rows.clear()
            self._log.clear()
            self._by_key.clear()
            self._expiring.clear()
