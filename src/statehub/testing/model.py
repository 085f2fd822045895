"""A reference model of a hub: statehub's documented semantics in plain Python.

:class:`ReferenceHub` keeps what a hub should hold — entries, the audit log,
checkpoints, the compaction boundary — as dicts and lists, with no storage, no
concurrency and no cleverness, so that a property-based test can drive a real
backend and this model side by side and compare them after every step
(``tests/test_model_based.py``). It is written from the README and
``docs/decisions.md``, not from statehub's code: merge patches, reducers and
snapshots here are independent implementations, so a shared bug cannot hide.

It covers the single-client behaviour of ``put`` (with ``expect_version`` and
``ttl``), ``merge``, ``dispatch`` with the built-in reducers, ``update``,
``delete``, expiry (a key whose TTL ran out is removed by an ``expire`` change of
``_statehub`` at its own revision, just before the commit that finds it),
checkpoints, rollback, compaction, time travel, privacy of ``agent/<name>/`` and
diffs. Errors are statehub's own classes, so a test can expect the same one.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from statehub.errors import (
    CompactedError,
    ConflictError,
    InvalidArgument,
    ReducerError,
    UnknownCheckpoint,
)

__all__ = [
    "EXPIRER",
    "REDUCERS",
    "ModelChange",
    "ModelEntry",
    "ReferenceHub",
    "reference_merge_patch",
    "same",
]

EXPIRER = "_statehub"
"""The agent every ``expire`` change is attributed to."""

CHECKPOINTS = "_checkpoints/"


def reference_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 section 2, ``MergePatch(Target, Patch)``, transcribed line by line.

    Works on deep copies, so neither argument is changed.
    """
    if isinstance(patch, dict):
        result = copy.deepcopy(target) if isinstance(target, dict) else {}
        for name, value in patch.items():
            if value is None:
                result.pop(name, None)
            else:
                result[name] = reference_merge_patch(result.get(name), value)
        return result
    return copy.deepcopy(patch)


def _union(state: Any, action: Any) -> list[Any]:
    result = list(state or [])
    for item in action:
        if item not in result:
            result.append(item)
    return result


REDUCERS: dict[str, Callable[[Any, Any], Any]] = {
    "append": lambda state, action: [*(state or []), action],
    "extend": lambda state, action: [*(state or []), *action],
    "add": lambda state, action: (state or 0) + action,
    "max": lambda state, action: action if state is None else max(state, action),
    "min": lambda state, action: action if state is None else min(state, action),
    "union": _union,
    "merge": reference_merge_patch,
    "replace": lambda state, action: action,
}
"""The built-in reducers as the README describes them, written again for the model."""


def _reduce(reducer: str, key: str, state: Any, action: Any) -> Any:
    """A built-in reducer's result; its failure raised as statehub raises it."""
    try:
        return REDUCERS[reducer](copy.deepcopy(state), action)
    except Exception as exc:
        raise ReducerError(f"model: reducer {reducer} failed on {key!r}: {exc!r}") from exc


@dataclass
class ModelEntry:
    """A key's state in the model."""

    value: Any
    version: int
    created_rev: int
    modified_rev: int
    updated_by: str
    expires: bool
    expired: bool = False


@dataclass(frozen=True)
class ModelChange:
    """One row of the model's log: the key's value after the change (if present)."""

    revision: int
    key: str
    op: str
    agent: str
    prev_version: int
    version: int
    present: bool
    value: Any


Write = tuple[str, str, bool, Any, bool | None]
"""One key written by a commit: key, op, present after, value, expires (None: kept)."""


class ReferenceHub:
    """What a hub holds, and what each call should do to it (see the module docstring)."""

    def __init__(self) -> None:
        self.entries: dict[str, ModelEntry] = {}
        self.log: list[ModelChange] = []
        self.head = 0
        self.oldest = 0

    # -- commits ---------------------------------------------------------------------

    def _commit(self, agent: str, writes: list[Write]) -> int:
        self.head += 1
        for key, op, present, value, expires in sorted(writes, key=lambda write: write[0]):
            before = self.entries.get(key)
            prev_version = 0 if before is None else before.version
            if present:
                keep = before is not None and before.expires and expires is None
                self.entries[key] = ModelEntry(
                    copy.deepcopy(value),
                    prev_version + 1,
                    self.head if before is None else before.created_rev,
                    self.head,
                    agent,
                    bool(expires) or keep,
                )
            else:
                del self.entries[key]
            version = prev_version + 1 if present else 0
            self.log.append(
                ModelChange(
                    self.head, key, op, agent, prev_version, version, present, copy.deepcopy(value)
                )
            )
        return self.head

    def _sweep(self, key: str) -> None:
        """A commit touching ``key`` first removes it if it expired (its own revision)."""
        entry = self.entries.get(key)
        if entry is not None and entry.expired:
            self._commit(EXPIRER, [(key, "expire", False, None, None)])

    def _current(self, key: str) -> ModelEntry | None:
        self._sweep(key)
        return self.entries.get(key)

    def _check_version(self, key: str, expect_version: int | None) -> None:
        entry = self.entries.get(key)
        actual = 0 if entry is None else entry.version
        if expect_version is not None and expect_version != actual:
            raise ConflictError(key, expect_version, actual)

    def put(
        self,
        agent: str,
        key: str,
        value: Any,
        *,
        expect_version: int | None = None,
        ttl: float | None = None,
    ) -> int:
        """Last write wins (or compare-and-set); a put without ``ttl`` clears the expiry."""
        self._current(key)
        self._check_version(key, expect_version)
        return self._commit(agent, [(key, "put", True, value, ttl is not None)])

    def expire_now(self, key: str) -> None:
        """Mark ``key`` as expired: its TTL ran out (it reads as absent from now on)."""
        self.entries[key].expired = True

    def merge(self, agent: str, key: str, patch: Any, *, expect_version: int | None = None) -> int:
        """RFC 7396 into the current value (absent: ``null``); keeps the expiry."""
        entry = self._current(key)
        self._check_version(key, expect_version)
        merged = reference_merge_patch(None if entry is None else entry.value, patch)
        return self._commit(agent, [(key, "merge", True, merged, None)])

    def dispatch(self, agent: str, key: str, reducer: str, action: Any) -> int:
        """A built-in reducer applied to the current value; keeps the expiry.

        Raises:
            ReducerError: the reducer failed on this state (nothing is committed,
                though an expiry it found still is).
        """
        entry = self._current(key)
        new = _reduce(reducer, key, None if entry is None else entry.value, action)
        return self._commit(agent, [(key, "dispatch", True, new, None)])

    def update(self, agent: str, key: str, fn: Callable[[Any], Any]) -> int:
        """``fn`` of the current value, keeping the key's expiry (like merge and dispatch)."""
        entry = self._current(key)
        new = fn(None if entry is None else copy.deepcopy(entry.value))
        return self._commit(agent, [(key, "update", True, new, None)])

    def delete(self, agent: str, key: str, *, expect_version: int | None = None) -> int | None:
        """Remove ``key``; ``None`` (no commit) if it is absent."""
        entry = self._current(key)
        self._check_version(key, expect_version)
        if entry is None:
            return None
        return self._commit(agent, [(key, "delete", False, None, None)])

    def transaction(
        self, agent: str, ops: list[tuple[str, str, Any]], expect: dict[str, int]
    ) -> int | None:
        """Several writes to distinct keys in one commit, all or nothing.

        Args:
            agent: the acting agent.
            ops: ``(kind, key, argument)``: ``put`` a value, ``merge`` a patch,
                ``dispatch`` with ``append``, ``delete``.
            expect: key -> the version it must have (0: absent) for anything to be
                written.

        Returns:
            The revision, or ``None`` if nothing changed (deleting absent keys).
        """
        for _, key, _ in ops:
            self._current(key)
        for key, version in expect.items():
            self._check_version(key, version)
        writes: list[Write] = []
        for kind, key, argument in ops:
            entry = self.entries.get(key)
            value = None if entry is None else copy.deepcopy(entry.value)
            if kind == "put":
                writes.append((key, "put", True, argument, False))
            elif kind == "merge":
                writes.append((key, "merge", True, reference_merge_patch(value, argument), None))
            elif kind == "dispatch":
                writes.append(
                    (key, "dispatch", True, _reduce("append", key, value, argument), None)
                )
            elif entry is not None:
                writes.append((key, "delete", False, None, None))
        return self._commit(agent, writes) if writes else None

    # -- checkpoints, rollback, compaction --------------------------------------------

    def checkpoints(self) -> dict[str, int]:
        """Live checkpoints: name -> revision."""
        return {
            key.removeprefix(CHECKPOINTS): entry.modified_rev
            for key, entry in self.entries.items()
            if key.startswith(CHECKPOINTS)
        }

    def checkpoint(self, agent: str, name: str) -> int:
        """Name the head: one commit of the reserved row ``_checkpoints/<name>``."""
        if name in self.checkpoints():
            raise InvalidArgument(f"a checkpoint named {name!r} exists already")
        return self._commit(agent, [(CHECKPOINTS + name, "checkpoint", True, {}, False)])

    def delete_checkpoint(self, agent: str, name: str) -> bool:
        """Forget a checkpoint; ``False`` (no commit) if there is none by that name."""
        if name not in self.checkpoints():
            return False
        self._commit(agent, [(CHECKPOINTS + name, "checkpoint-delete", False, None, None)])
        return True

    def resolve(self, at: int | str) -> int:
        """The revision ``at`` names, as ``statehub.timetravel.resolve`` documents it."""
        if isinstance(at, str):
            if at == "head":
                return self.head
            if at not in self.checkpoints():
                raise UnknownCheckpoint(at)
            return self.checkpoints()[at]
        if not 0 <= at <= self.head:
            raise InvalidArgument(f"revision {at} is outside 0..{self.head}")
        if at < self.oldest and at not in self.checkpoints().values():
            raise CompactedError(at, self.oldest)
        return at

    def rollback(self, agent: str, to: int | str, prefix: str = "") -> int | None:
        """Restore what ``agent`` sees under ``prefix`` to revision ``to``, in one commit."""
        revision = self.resolve(to)
        past = self.snapshot_at(revision, agent, prefix)
        present = self.scan(agent, prefix)
        writes: list[Write] = []
        for key in sorted(past.keys() | present.keys()):
            if key not in past:
                writes.append((key, "rollback", False, None, None))
            elif key not in present or not same(past[key], present[key]):
                writes.append((key, "rollback", True, past[key], False))
        return self._commit(agent, writes) if writes else None

    def compact(self, before: int | str) -> None:
        """Move the compaction boundary (reads before it fail, except at checkpoints)."""
        first_kept = self.resolve(before)
        oldest = min(first_kept - 1, self.head - 1)
        if oldest > self.oldest:
            self.oldest = oldest

    # -- reads -----------------------------------------------------------------------

    @staticmethod
    def visible(agent: str | None, key: str) -> bool:
        """Whether ``agent`` (``None``: the hub) sees ``key`` in scans, history and diffs."""
        if key.startswith("_"):
            return False
        if agent is None or not key.startswith("agent/"):
            return True
        return key.split("/")[1] == agent

    def entry(self, agent: str, key: str) -> ModelEntry | None:
        """What ``agent.entry(key)`` should return (an expired key reads as absent)."""
        entry = self.entries.get(key)
        if entry is None or entry.expired or not self.visible(agent, key):
            return None
        return entry

    def scan(self, agent: str | None, prefix: str = "") -> dict[str, Any]:
        """What ``agent.scan(prefix)`` should return."""
        return {
            key: entry.value
            for key, entry in self.entries.items()
            if key.startswith(prefix) and not entry.expired and self.visible(agent, key)
        }

    def value_at(self, key: str, revision: int) -> tuple[bool, Any]:
        """(present, value) of ``key`` as of ``revision``: the log, not the clock."""
        found: tuple[bool, Any] = (False, None)
        for change in self.log:
            if change.revision > revision:
                break
            if change.key == key:
                found = (change.present, change.value)
        return found

    def snapshot_at(self, revision: int, agent: str | None, prefix: str = "") -> dict[str, Any]:
        """``{key: value}`` as of ``revision``, what ``agent`` may see under ``prefix``."""
        snapshot: dict[str, Any] = {}
        for change in self.log:
            if change.revision > revision:
                break
            if not change.key.startswith(prefix) or not self.visible(agent, change.key):
                continue
            if change.present:
                snapshot[change.key] = change.value
            else:
                snapshot.pop(change.key, None)
        return snapshot

    def history(self, agent: str | None) -> list[ModelChange]:
        """The log after the compaction boundary; an agent's view leaves out others' keys.

        The hub's view (``agent=None``) holds statehub's own rows (checkpoints) too.
        """
        return [
            change
            for change in self.log
            if change.revision > self.oldest and (agent is None or self.visible(agent, change.key))
        ]

    def diff(
        self, a: int | str, b: int | str, agent: str | None
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, tuple[Any, Any]]]:
        """(added, removed, changed: key -> (old, new)) between two revisions."""
        old = self.snapshot_at(self.resolve(a), agent)
        new = self.snapshot_at(self.resolve(b), agent)
        added = {key: value for key, value in new.items() if key not in old}
        removed = {key: value for key, value in old.items() if key not in new}
        changed = {
            key: (old[key], value)
            for key, value in new.items()
            if key in old and not same(old[key], value)
        }
        return added, removed, changed


def same(a: Any, b: Any) -> bool:
    """JSON equality that tells ``1``, ``1.0`` and ``True`` apart (dict order aside)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)
