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
from dataclasses import replace

from statehub.backends.base import Backend, CommitOutcome, Sweeper
from statehub.errors import InvalidArgument
from statehub.exchange import Export, RawChange
from statehub.history import ChangeQuery, change_from_row, plan_key_compaction
from statehub.keys import is_visible
from statehub.model import Change
from statehub.txn import LogRow, Plan, Stored, Txn, plan_with_expiry

__all__ = ["MemoryBackend"]


class _Logged:
    """One log row with its revision, agent and time."""

    __slots__ = ("agent", "revision", "row", "timestamp")

    def __init__(self, revision: int, agent: str, timestamp: float, row: LogRow) -> None:
        self.revision = revision
        self.agent = agent
        self.timestamp = timestamp
        self.row = row

    def to_change(self) -> Change:
        row = self.row
        return change_from_row(
            self.revision,
            row.key,
            row.op,
            self.agent,
            self.timestamp,
            row.label,
            row.prev_version,
            row.version,
            row.patch,
            row.value,
            row.cause,
        )


def _matches(query: ChangeQuery, logged: _Logged) -> bool:
    key = logged.row.key
    return (
        (query.key is None or key == query.key)
        and (query.prefix is None or key.startswith(query.prefix))
        and (query.agent is None or logged.agent == query.agent)
        and (query.until is None or logged.revision <= query.until)
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
        self._log: list[_Logged] = []
        self._by_key: dict[str, list[_Logged]] = {}
        self._head = 0
        self._oldest = 0

    def commit(self, txn: Txn, max_bytes: int) -> CommitOutcome:
        """Apply ``txn`` under the store's lock."""
        with self._changed:
            now = time.time()
            before = {key: self._rows.get(key) for key in txn.keys}
            due = self._sweep.due(now, (self._rows[key] for key in self._expiring))
            plans, before, plan = plan_with_expiry(txn, before, self._head, now, max_bytes, due)
            for each in plans:
                self._persist(each)
            if plans:
                self._changed.notify_all()
            return plan, before

    def _persist(self, plan: Plan) -> None:
        rows = self._rows
        for key, stored in plan.writes.items():
            if stored is None:
                del rows[key]
            else:
                rows[key] = stored
            if stored is not None and stored.expires_ts is not None:
                self._expiring.add(key)
            else:
                self._expiring.discard(key)
        for row in plan.rows:
            logged = _Logged(plan.revision, plan.agent, plan.timestamp, row)
            self._log.append(logged)
            self._by_key.setdefault(row.key, []).append(logged)
        self._head = plan.revision

    def raw_changes(self) -> list[RawChange]:
        """Every log row as stored, in revision order."""
        with self._lock:
            return [
                (
                    item.revision,
                    item.row.key,
                    item.row.op,
                    item.agent,
                    item.timestamp,
                    item.row.label,
                    item.row.prev_version,
                    item.row.version,
                    item.row.patch,
                    item.row.value,
                    item.row.cause,
                )
                for item in self._log
            ]

    def load_export(self, export: Export) -> None:
        """Load an export's rows and log into this empty hub."""
        with self._changed:
            if self._head or self._rows:
                raise InvalidArgument("can only import into an empty hub")
            self._rows = {row.key: row for row in export.entries}
            self._expiring = {row.key for row in export.entries if row.expires_ts is not None}
            for (
                revision,
                key,
                op,
                agent,
                ts,
                label,
                prev,
                version,
                patch,
                value,
                cause,
            ) in export.changes:
                row = LogRow(key, op, label, prev, version, patch, value, cause)
                logged = _Logged(revision, agent, ts, row)
                self._log.append(logged)
                self._by_key.setdefault(key, []).append(logged)
            self._head = export.revision if export.changes else 0
            self._oldest = export.oldest if export.changes else 0
            self._changed.notify_all()

    def first_revision_since(self, timestamp: float) -> int:
        """The first revision committed at or after ``timestamp``."""
        with self._lock:
            found = (item.revision for item in self._log if item.timestamp >= timestamp)
            return next(found, self._head + 1)

    def oldest(self) -> int:
        """The oldest readable revision."""
        return self._oldest

    def compact(self, oldest: int, keep: list[int]) -> int:
        """Drop log rows below ``oldest`` that no kept read needs."""
        with self._lock:
            dropped = 0
            for key, logged in list(self._by_key.items()):
                old = [item for item in logged if item.revision <= oldest]
                if not old:
                    continue
                rows = [(i.revision, i.row.op, i.row.patch, i.row.value) for i in old]
                rewrites, drops = plan_key_compaction(rows, oldest, keep)
                gone = set(drops)
                for item in old:
                    if item.revision in rewrites:
                        item.row = replace(item.row, value=rewrites[item.revision])
                kept = [item for item in logged if item.revision not in gone]
                dropped += len(logged) - len(kept)
                if kept:
                    self._by_key[key] = kept
                else:
                    del self._by_key[key]
            alive = {id(item) for logged in self._by_key.values() for item in logged}
            self._log = [item for item in self._log if id(item) in alive]
            self._oldest = max(self._oldest, oldest)
            return dropped

    def wait(self, after: int, timeout: float | None) -> int:
        """Block until the head passes ``after`` or ``timeout`` seconds pass."""
        with self._changed:
            self._changed.wait_for(lambda: self._head > after, timeout)
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
        end = bisect.bisect_right(logged, revision, key=lambda item: item.revision)
        return ((item.row.op, item.row.patch, item.row.value) for item in reversed(logged[:end]))

    def changed_keys(self, prefix: str, until: int, visible_to: str | None) -> list[str]:
        """Keys under ``prefix`` changed at or before ``until``."""
        with self._lock:
            return sorted(
                key
                for key, logged in self._by_key.items()
                if key.startswith(prefix)
                and logged[0].revision <= until
                and (visible_to is None or is_visible(visible_to, key))
            )

    def changes(self, query: ChangeQuery) -> list[Change]:
        """Log rows matching ``query``, oldest first."""
        with self._lock:
            source = self._by_key.get(query.key, []) if query.key is not None else self._log
            start = 0
            if query.since is not None:
                start = bisect.bisect_right(source, query.since, key=lambda item: item.revision)
            found: list[Change] = []
            for logged in source[start:]:
                if query.limit is not None and len(found) >= query.limit:
                    break
                if query.until is not None and logged.revision > query.until:
                    break
                if _matches(query, logged):
                    found.append(logged.to_change())
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
