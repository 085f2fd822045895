"""What a storage backend provides: one commit primitive and a handful of reads.

A backend stores rows and log rows; it knows nothing of agents' rights, reducers'
meaning or policy, which live in :mod:`statehub.hub`. Every backend passes the
conformance suite in :mod:`statehub.testing.conformance`.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable
from types import TracebackType

from statehub.errors import BackendBusy
from statehub.exchange import Export, RawChange
from statehub.history import ChangeQuery
from statehub.model import Change
from statehub.txn import Plan, Stored, Txn, is_expired

__all__ = [
    "SWEEP_BATCH",
    "SWEEP_INTERVAL",
    "Backend",
    "CommitOutcome",
    "CommitSlot",
    "Sweeper",
]

SWEEP_INTERVAL = 0.5
"""Seconds between a backend's sweeps for expired keys beyond those a commit touches."""

SWEEP_BATCH = 64
"""The most expired keys one sweep removes (the rest go in the next ones)."""

CommitOutcome = tuple[Plan | None, dict[str, Stored | None]]
"""What a commit did (``None``: nothing changed) and the rows it read before."""


class Sweeper:
    """Decides when a commit also removes expired keys it does not touch itself.

    Reads treat an expired key as absent at once; the sweep only makes the removal
    a logged ``expire`` change, so doing it every half second is plenty.
    """

    def __init__(self) -> None:
        self._next = 0.0

    @staticmethod
    def expired(now: float, rows: Iterable[Stored]) -> list[Stored]:
        """The :data:`SWEEP_BATCH` of ``rows`` that expired first (ask :meth:`is_due` first)."""
        expired = [row for row in rows if is_expired(row, now)]
        return sorted(expired, key=lambda row: row.expires_ts or 0.0)[:SWEEP_BATCH]

    def pending(self, now: float) -> bool:
        """Whether a sweep is due now (without scheduling the next)."""
        return now >= self._next

    def is_due(self, now: float) -> bool:
        """Whether a sweep is due now (and, if so, the next is scheduled)."""
        if now < self._next:
            return False
        self._next = now + SWEEP_INTERVAL
        return True


class CommitSlot:
    """One commit at a time per hub in this process: the others queue here, not in the store.

    A database serializes one hub's commits anyway (SQLite's write lock, the hub's row
    in PostgreSQL). Threads of one process that race there waste work: on SQLite they
    spin in busy retries, on PostgreSQL each commit makes the others' cached rows stale
    and sends them the long way (decision 71). Waiting in the slot is bounded by the
    hub's ``busy_timeout``, then :class:`~statehub.errors.BackendBusy`: a commit that
    never ends (a reducer blocking, or committing from inside its own commit) is
    reported, not waited on forever.
    """

    def __init__(self, shown_as: str, timeout: float) -> None:
        self._lock = threading.Lock()
        self._shown_as = shown_as
        self._timeout = timeout

    def __enter__(self) -> None:
        if not self._lock.acquire(timeout=self._timeout):
            raise BackendBusy(
                f"another commit of this process held {self._shown_as!r} for over {self._timeout} s"
            )

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._lock.release()


class Backend(ABC):
    """The storage under one hub."""

    @abstractmethod
    def commit(self, txn: Txn, max_bytes: int) -> CommitOutcome:
        """Apply ``txn`` atomically: check its compares, write rows and log, next revision.

        Raises:
            ConflictError: a compare failed; nothing was written.
            AccessDenied: an op touches a key owned by another agent; nothing was written.
            BackendError: the storage failed; nothing was written.
        """

    @abstractmethod
    def load(self, key: str) -> Stored | None:
        """The current row of ``key``, or ``None``."""

    @abstractmethod
    def scan(self, prefix: str, visible_to: str | None) -> list[Stored]:
        """Current rows under ``prefix`` in key order (only what ``visible_to`` may see)."""

    @abstractmethod
    def chain(self, key: str, revision: int) -> Iterable[tuple[str, bytes | None, bytes | None]]:
        """``(op, patch, value)`` of ``key``'s log rows at or before ``revision``, newest first."""

    @abstractmethod
    def changed_keys(self, prefix: str, until: int, visible_to: str | None) -> list[str]:
        """Every key under ``prefix`` with a logged change at or before ``until``, sorted."""

    @abstractmethod
    def changes(self, query: ChangeQuery) -> list[Change]:
        """Log rows matching ``query``, oldest first."""

    @abstractmethod
    def raw_changes(self) -> list[RawChange]:
        """Every log row as stored, in revision order (for export)."""

    @abstractmethod
    def load_export(self, export: Export) -> None:
        """Write an export's rows and log as they are, into this empty hub.

        Raises:
            InvalidArgument: the hub is not empty; nothing was written.
        """

    @abstractmethod
    def first_revision_since(self, timestamp: float) -> int:
        """The first revision committed at or after ``timestamp`` (head + 1 if none)."""

    @abstractmethod
    def oldest(self) -> int:
        """The oldest revision still readable: 0, or where compaction left history."""

    @abstractmethod
    def compact(self, oldest: int, keep: list[int]) -> int:
        """Drop log rows no read at ``oldest`` or later (or at ``keep``) needs; how many.

        Atomic, and ``oldest`` is recorded (see :meth:`oldest`). ``oldest`` is at most
        the head, so the newest change always stays.
        """

    @abstractmethod
    def wait(self, after: int, timeout: float | None) -> int:
        """Block until the head revision is past ``after`` (or ``timeout`` s); the head."""

    @abstractmethod
    def head(self) -> int:
        """The hub's current revision (0 before the first commit)."""

    @abstractmethod
    def close(self) -> None:
        """Release every resource; further calls may fail."""
