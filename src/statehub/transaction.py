"""Several writes of one agent, committed atomically: ``with agent.transaction() as tx``."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any

from statehub.arguments import carried_fences, expected_versions
from statehub.errors import ConflictError
from statehub.model import Entry
from statehub.reducers import Reducer
from statehub.txn import Op, Txn

if TYPE_CHECKING:
    from statehub.hub import Agent

__all__ = ["Transaction"]

_MISSING: Any = object()


class Transaction:
    """Writes buffered by one agent and committed atomically when the block ends.

    Nothing is written if the block raises. The same operations as on
    :class:`Agent` are available; they return nothing, since nothing is committed
    until the end. ``tx.get`` reads committed state and makes the commit
    conditional on it: if another agent changes a key this transaction read, the
    commit raises :class:`ConflictError` and writes nothing.

    After the block, ``tx.revision`` is the commit's revision (``None`` if nothing
    changed) and ``tx.entries`` maps each key written to its new entry (``None``
    if deleted).
    """

    def __init__(self, agent: Agent, label: str | None) -> None:
        self.agent = agent
        self.label = label
        self._writes = agent._writes
        self._ops: list[Op] = []
        self._expect: dict[str, int] = {}
        self._fences: dict[str, int] = {}
        self.revision: int | None = None
        self.entries: dict[str, Entry | None] = {}

    def _require(self, key: str, version: int) -> None:
        known = self._expect.get(key)
        if known is not None and known != version:
            raise ConflictError(key, known, version, "read twice at different versions")
        self._expect[key] = version

    def _add(self, op: Op, expect_version: int | None, fence: int | None = None) -> None:
        for key, version in expected_versions(op.key, expect_version).items():
            self._require(key, version)
        self._fences.update(carried_fences(op.key, fence))
        self._ops.append(op)

    def put(
        self,
        key: str,
        value: Any,
        *,
        expect_version: int | None = None,
        owner: bool | None = None,
        ttl: float | None = None,
        fence: int | None = None,
        label: str | None = None,
    ) -> None:
        """Buffer a put (see :meth:`Agent.put`)."""
        self._add(self._writes.put(key, value, owner, label, ttl), expect_version, fence)

    def merge(
        self,
        key: str,
        patch: Any,
        *,
        expect_version: int | None = None,
        ttl: float | None = None,
        fence: int | None = None,
        label: str | None = None,
    ) -> None:
        """Buffer a JSON Merge Patch (see :meth:`Agent.merge`)."""
        self._add(self._writes.merge(key, patch, label, ttl), expect_version, fence)

    def dispatch(
        self,
        key: str,
        action: Any,
        *,
        reducer: Reducer | str | None = None,
        ttl: float | None = None,
        fence: int | None = None,
        label: str | None = None,
    ) -> None:
        """Buffer a reducer dispatch (see :meth:`Agent.dispatch`)."""
        self._add(self._writes.dispatch(key, action, reducer, label, ttl), None, fence)

    def delete(
        self,
        key: str,
        *,
        expect_version: int | None = None,
        fence: int | None = None,
        label: str | None = None,
    ) -> None:
        """Buffer a delete (see :meth:`Agent.delete`)."""
        self._add(self._writes.delete(key, label), expect_version, fence)

    def get(self, key: str, default: Any = _MISSING) -> Any:
        """Read committed state, and make the commit conditional on it staying so."""
        entry = self.agent.entry(key)
        self._require(key, 0 if entry is None else entry.version)
        if entry is not None:
            return entry.value
        return None if default is _MISSING else default

    def commit(self) -> int | None:
        """Commit the buffered writes now (the ``with`` block does this for you)."""
        hub = self.agent.hub
        txn = Txn(
            self.agent.name, tuple(self._ops), dict(self._expect), self.label, dict(self._fences)
        )
        self._ops, self._expect, self._fences = [], {}, {}
        plan, before = hub.backend.commit(txn, hub.max_value_bytes)
        if plan is not None:
            self.revision = plan.revision
            self.entries = {
                key: None if row is None else plan.entry(key, before[key])
                for key, row in plan.writes.items()
            }
        return self.revision

    def __enter__(self) -> Transaction:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
