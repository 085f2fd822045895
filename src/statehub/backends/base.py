"""What a storage backend provides: one commit primitive and a handful of reads.

A backend stores rows and log rows; it knows nothing of agents' rights, reducers'
meaning or policy, which live in :mod:`statehub.hub`. Every backend passes the
conformance suite in :mod:`statehub.testing.conformance`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable

from statehub.history import ChangeQuery
from statehub.model import Change
from statehub.txn import Plan, Stored, Txn

__all__ = ["Backend", "CommitOutcome"]

CommitOutcome = tuple[Plan | None, dict[str, Stored | None]]
"""What a commit did (``None``: nothing changed) and the rows it read before."""


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
    def changes(self, query: ChangeQuery) -> list[Change]:
        """Log rows matching ``query``, oldest first."""

    @abstractmethod
    def head(self) -> int:
        """The hub's current revision (0 before the first commit)."""

    @abstractmethod
    def close(self) -> None:
        """Release every resource; further calls may fail."""
