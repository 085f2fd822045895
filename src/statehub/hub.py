"""The public API: a :class:`Hub` and the :class:`Agent` handles that act on it.

Every write goes through one primitive, ``Backend.commit(Txn)``; this module turns
each call into a ``Txn`` and applies the policy that lives above storage: key
grammar, private scopes, value encoding, reducer lookup, retries.

>>> import statehub
>>> with statehub.open("memory://") as hub:
...     coordinator = hub.agent("coordinator")
...     entry = coordinator.put("global/task_status", "in_progress")
...     (entry.version, coordinator.get("global/task_status"))
(1, 'in_progress')
"""

from __future__ import annotations

import os
import time
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any

import orjson

from statehub import timetravel
from statehub.arguments import (
    carried_fences,
    check_int,
    check_label,
    check_seconds,
    check_ttl,
    expected_versions,
)
from statehub.backends.base import Backend
from statehub.codec import decode, encode, encode_meta
from statehub.diff import Diff, diff_snapshots
from statehub.errors import (
    ConflictError,
    HubClosed,
    InvalidArgument,
    LockedError,
    ReducerError,
)
from statehub.exchange import Progress, build_export
from statehub.history import ChangeQuery, value_from_chain
from statehub.keys import check_access, validate_agent_name, validate_key, validate_prefix
from statehub.lease import Lease
from statehub.local import LocalMemory
from statehub.locks import LOCK_SCOPE, LockState, lock_key
from statehub.mailbox import (
    DEFAULT_RECEIVE_LIMIT,
    DEFAULT_VISIBILITY_TIMEOUT,
    Mailbox,
    Message,
    Recipients,
)
from statehub.model import Change, Checkpoint, Entry
from statehub.reducers import Reducer
from statehub.retry import backoff
from statehub.tasks import Tasks
from statehub.transaction import Transaction
from statehub.txn import (
    DELETE,
    DISPATCH,
    LOCK,
    PUT,
    RENEW,
    UNLOCK,
    Op,
    Stored,
    Txn,
    is_expired,
)
from statehub.url import HubURL
from statehub.writes import ReducerRegistry, Writes, with_initial

__all__ = [
    "DEFAULT_UPDATE_RETRIES",
    "OPTIMISTIC_UPDATES",
    "Agent",
    "Hub",
]

DEFAULT_UPDATE_RETRIES = 100
"""How many times :meth:`Agent.update` tries before giving up with ``ConflictError``."""

OPTIMISTIC_UPDATES = 8
"""Conflicts :meth:`Agent.update` accepts before it applies ``fn`` inside the commit."""

_NONE: Mapping[str, int] = MappingProxyType({})
"""No compares, no fences: one shared empty mapping (a write builds no dicts for them)."""


class Hub:
    """One shared state space: open it with :func:`statehub.open`, act through agents.

    A hub is safe to share between threads; each process opens its own.
    """

    def __init__(self, backend: Backend, url: HubURL, *, max_value_bytes: int) -> None:
        self._backend: Backend | None = backend
        self._url = url
        self.max_value_bytes = max_value_bytes
        self._reducers = ReducerRegistry()

    @property
    def url(self) -> str:
        """The hub's URL, password masked."""
        return self._url.text

    @property
    def name(self) -> str:
        """The hub's name within its storage (the URL's ``?hub=``)."""
        return self._url.hub

    @property
    def backend(self) -> Backend:
        """The storage backend (raises :class:`HubClosed` once the hub is closed)."""
        if self._backend is None:
            raise HubClosed(f"hub {self.url!r} is closed")
        return self._backend

    def agent(self, name: str) -> Agent:
        """A handle that acts as agent ``name``: every write is attributed to it.

        >>> import statehub
        >>> statehub.open("memory://").agent("writer").name
        'writer'
        """
        return Agent(self, validate_agent_name(name))

    def register_reducer(self, key: str, reducer: Reducer, *, initial: Any = None) -> None:
        """Make ``dispatch`` on ``key`` apply ``reducer(state, action) -> state``.

        Args:
            key: a key, or a pattern where ``*`` stands for one segment
                (``"task/*/log"``).
            reducer: a pure function; built-ins are in :mod:`statehub.reducers`.
            initial: the state the reducer sees while the key does not exist.

        Reducers are registered per hub object, in each process that dispatches; reading
        the past never needs them (the log stores effects, not just actions).
        """
        if not callable(reducer):
            raise InvalidArgument(f"reducer must be callable, not {type(reducer).__name__}")
        if initial is not None:
            reducer = with_initial(reducer, initial)
        self._reducers.register(key, reducer)

    def reducer_for(self, key: str) -> Reducer | None:
        """The reducer registered for ``key`` (exactly or by pattern), or ``None``."""
        return self._reducers.find(key)

    @property
    def revision(self) -> int:
        """The head revision: +1 for every committed transaction, 0 for a new hub."""
        return self.backend.head()

    def history(
        self,
        key: str | None = None,
        prefix: str | None = None,
        agent: str | None = None,
        since: int | None = None,
        until: int | None = None,
        limit: int | None = None,
    ) -> list[Change]:
        """The audit log of the whole hub, oldest first (every agent's keys included).

        Args:
            key: only changes to this key.
            prefix: only changes to keys starting with this.
            agent: only changes made by this agent.
            since: only revisions after this one (exclusive).
            until: only revisions up to this one (inclusive).
            limit: at most this many changes.
        """
        return self._history(key, prefix, agent, since, until, limit, visible_to=None)

    def checkpoints(self) -> list[Checkpoint]:
        """Every checkpoint, oldest first: name, revision, agent, time."""
        return timetravel.checkpoints(self.backend)

    def locks(self) -> list[LockState]:
        """Every lock still held (not expired): key, holder, fence, expiry."""
        now = time.time()
        found = (
            LockState.decode(row.key.removeprefix(LOCK_SCOPE), row.data)
            for row in self.backend.scan(LOCK_SCOPE, None)
        )
        return [lock for lock in found if lock is not None and lock.active(now)]

    def diff(self, a: int | str, b: int | str = "head", *, prefix: str = "") -> Diff:
        """What changed between revisions (or checkpoints) ``a`` and ``b``, every key.

        >>> import statehub
        >>> hub = statehub.open("memory://")
        >>> agent = hub.agent("writer")
        >>> _ = agent.put("global/doc", {"title": "Draft"})
        >>> _ = agent.checkpoint("before-edit")
        >>> _ = agent.put("global/doc", {"title": "Final"})
        >>> hub.diff("before-edit", "head").render()
        ['~ global/doc', '    ~ /title → "Final"']
        """
        return self._diff(a, b, validate_prefix(prefix), None)

    def _diff(self, a: int | str, b: int | str, prefix: str, visible_to: str | None) -> Diff:
        backend = self.backend
        first, second = timetravel.resolve(backend, a), timetravel.resolve(backend, b)
        old = timetravel.snapshot_at(backend, prefix, first, visible_to)
        new = timetravel.snapshot_at(backend, prefix, second, visible_to)
        return diff_snapshots(first, old, second, new, prefix)

    def watch(
        self, prefix: str = "", *, since: int | None = None, timeout: float | None = None
    ) -> Iterator[Change]:
        """Yield each change under ``prefix`` after revision ``since``, as it is committed.

        See :meth:`Agent.watch`; this one sees every key, statehub's own included.
        """
        query = self._change_query(None, validate_prefix(prefix), None, since, None, None, None)
        return timetravel.watch(self.backend, query, timeout)

    def wait_for(self, revision: int, timeout: float | None = None) -> bool:
        """Block until the head reaches ``revision``; ``False`` if ``timeout`` passed first."""
        wanted = check_int("revision", revision)
        deadline = None if timeout is None else time.monotonic() + check_seconds("timeout", timeout)
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if self.backend.wait(wanted - 1, remaining) >= wanted:
                return True
            if remaining is not None and remaining <= 0:
                return False

    def _change_query(
        self,
        key: str | None,
        prefix: str | None,
        agent: str | None,
        since: int | None,
        until: int | None,
        limit: int | None,
        visible_to: str | None,
    ) -> ChangeQuery:
        return ChangeQuery(
            key=None if key is None else validate_key(key, reserved=visible_to is None),
            prefix=None if prefix is None else validate_prefix(prefix),
            agent=None if agent is None else validate_agent_name(agent),
            since=None if since is None else check_int("since", since),
            until=None if until is None else check_int("until", until),
            limit=None if limit is None else check_int("limit", limit),
            visible_to=visible_to,
        )

    def _history(
        self,
        key: str | None,
        prefix: str | None,
        agent: str | None,
        since: int | None,
        until: int | None,
        limit: int | None,
        *,
        visible_to: str | None,
    ) -> list[Change]:
        query = self._change_query(key, prefix, agent, since, until, limit, visible_to)
        since = timetravel.since_after_compaction(self.backend, query.since)
        return self.backend.changes(replace(query, since=since))

    def compact(self, before: int | str | None = None, *, older_than: float | None = None) -> int:
        """Drop history older than revision (or checkpoint) ``before``, or than an age.

        Every change from ``before`` on stays listed and watchable, reads at
        ``before - 1`` and later keep working, and so do reads at every live
        checkpoint; reading or watching from anywhere older raises
        :class:`CompactedError` naming the oldest revision available. The newest
        change always stays.

        Args:
            before: the oldest revision whose change stays in the log.
            older_than: instead, drop changes committed more than this many seconds ago.

        Returns:
            How many change rows were dropped.
        """
        backend = self.backend
        if (before is None) == (older_than is None):
            raise InvalidArgument("compact takes one of before= and older_than=")
        if before is not None:
            first_kept = timetravel.resolve(backend, before)
        else:
            cutoff = time.time() - check_seconds("older_than", older_than)
            first_kept = backend.first_revision_since(cutoff)
        oldest = min(first_kept - 1, backend.head() - 1)
        if oldest <= backend.oldest():
            return 0
        keep = [checkpoint.revision for checkpoint in self.checkpoints()]
        return backend.compact(oldest, keep)

    def export(
        self,
        path: str | os.PathLike[str],
        *,
        history: bool = False,
        progress: Progress | None = None,
    ) -> int:
        """Write the hub to a JSON file (see :mod:`statehub.exchange`); returns its revision.

        Args:
            path: the file to write (replaced atomically).
            history: also write the whole log and statehub's own rows (checkpoints,
                locks), so that an import reproduces revisions and history exactly.
            progress: told ``(rows done, rows in all)`` as the document is built.
        """
        backend = self.backend
        revision = backend.head()
        rows = backend.scan("", None)
        if not history:
            now = time.time()
            rows = [row for row in rows if not row.key.startswith("_") and not is_expired(row, now)]
        document = build_export(
            self.name,
            revision,
            backend.oldest(),
            time.time(),
            rows,
            backend.raw_changes() if history else None,
            progress,
        )
        target = Path(path)
        partial = target.with_name(target.name + ".partial")
        partial.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
        partial.replace(target)
        return revision

    @property
    def oldest_revision(self) -> int:
        """The oldest revision still readable (0 until compaction drops history)."""
        return self.backend.oldest()

    def close(self) -> None:
        """Release the storage; the hub and its agents cannot be used afterwards."""
        if self._backend is not None:
            self._backend.close()
            self._backend = None

    def __enter__(self) -> Hub:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<statehub.Hub {self.url!r}>"


class Agent:
    """Acts on a hub as one named agent; every write is attributed to it.

    Get one with :meth:`Hub.agent`. Handles are cheap, and safe to share between
    threads.
    """

    def __init__(self, hub: Hub, name: str) -> None:
        self.hub = hub
        self.name = name
        self._writes = Writes(hub, name)

    def __repr__(self) -> str:
        return f"<statehub.Agent {self.name!r} on {self.hub.url!r}>"

    @property
    def tasks(self) -> Tasks:
        """This agent's task operations: create, claim, progress, complete, fail, list."""
        return Tasks(self)

    # -- writes ------------------------------------------------------------------

    def _commit_one(
        self,
        op: Op,
        expect: Mapping[str, int],
        fence: int | None = None,
        unchanged_since: Mapping[str, int] = _NONE,
    ) -> Entry | None:
        hub = self.hub
        fences = _NONE if fence is None else carried_fences(op.key, fence)
        txn = Txn(self.name, (op,), expect, None, fences, unchanged_since)
        plan, before = hub.backend.commit(txn, hub.max_value_bytes)
        previous = before[op.key]
        if plan is None:
            return previous.to_entry() if previous is not None else None
        return plan.entry(op.key, previous)

    def _commit_entry(
        self,
        op: Op,
        expect: Mapping[str, int],
        fence: int | None = None,
        unchanged_since: Mapping[str, int] = _NONE,
    ) -> Entry:
        entry = self._commit_one(op, expect, fence, unchanged_since)
        assert entry is not None  # every op but delete leaves the key present
        return entry

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
    ) -> Entry:
        """Write ``value`` to ``key``: last write wins, unless ``expect_version`` is given.

        Args:
            key: the key.
            value: any JSON value (copied: changing it later does not change the store).
            expect_version: write only if the key is at this version (0: only if it
                does not exist), else raise :class:`ConflictError`.
            owner: ``True`` makes this agent the key's owner (only it may write the key
                from then on); ``False`` gives ownership up; ``None`` keeps it as is.
            ttl: seconds until the key expires (reads as absent, then is removed by a
                logged ``expire`` change); without it the key never expires.
            fence: the fencing token of this agent's lease on the key (``lock``): the
                write is refused with ``StaleFenceError`` if the lease was lost.
            label: a short tag recorded in the history.

        Returns:
            The new entry; ``entry.replaced`` is the one it overwrote, if any.

        Raises:
            ConflictError: ``expect_version`` did not match (carries both versions).
            AccessDenied: another agent's private key, or a key owned by another.
            InvalidKey, InvalidValue, ValueTooLarge, InvalidArgument: bad input;
                nothing was written.

        >>> import statehub
        >>> writer = statehub.open("memory://").agent("writer")
        >>> writer.put("global/doc", "draft").version
        1
        >>> writer.put("global/doc", "final", expect_version=1).replaced.value
        'draft'
        """
        op = self._writes.put(key, value, owner, label, ttl)
        expect = _NONE if expect_version is None else expected_versions(key, expect_version)
        return self._commit_entry(op, expect, fence)

    def merge(
        self,
        key: str,
        patch: Any,
        *,
        expect_version: int | None = None,
        ttl: float | None = None,
        fence: int | None = None,
        label: str | None = None,
    ) -> Entry:
        """Apply an RFC 7396 JSON Merge Patch to ``key``'s value, inside the commit.

        Concurrent merges of different fields never lose one another; ``None``
        members delete fields.

        >>> import statehub
        >>> hub = statehub.open("memory://")
        >>> _ = hub.agent("researcher").merge("global/report", {"research": "done"})
        >>> hub.agent("writer").merge("global/report", {"draft": "Written"}).value
        {'research': 'done', 'draft': 'Written'}
        """
        op = self._writes.merge(key, patch, label, ttl)
        return self._commit_entry(op, expected_versions(key, expect_version), fence)

    def dispatch(
        self,
        key: str,
        action: Any,
        *,
        reducer: Reducer | str | None = None,
        ttl: float | None = None,
        fence: int | None = None,
        label: str | None = None,
    ) -> Entry:
        """Apply a reducer ``(state, action) -> state`` to ``key``, inside the commit.

        Args:
            key: the key.
            action: any JSON value; a dict's ``"type"`` becomes the change's label.
            reducer: ``None`` for the one registered on the key, a built-in's name
                (``"append"``), or a function.
            ttl: seconds until the key expires (see :meth:`put`); kept as is if omitted.
            fence: the fencing token of this agent's lease on the key (see :meth:`put`).
            label: a tag for the history, instead of the action's type.

        Raises:
            UnknownReducer: no reducer is registered for the key.
            ReducerError: the reducer raised or returned a non-JSON value; nothing
                was written.

        >>> import statehub
        >>> agent = statehub.open("memory://").agent("coordinator")
        >>> agent.dispatch("global/log", "started", reducer="append").value
        ['started']
        """
        op = self._writes.dispatch(key, action, reducer, label, ttl)
        return self._commit_entry(op, {}, fence)

    def delete(
        self,
        key: str,
        *,
        expect_version: int | None = None,
        fence: int | None = None,
        label: str | None = None,
    ) -> Entry | None:
        """Delete ``key``; returns the entry deleted, or ``None`` if it did not exist."""
        op = self._writes.delete(key, label)
        return self._commit_one(op, expected_versions(key, expect_version), fence)

    def update(
        self,
        key: str,
        fn: Callable[[Any], Any],
        *,
        default: Any = None,
        retries: int = DEFAULT_UPDATE_RETRIES,
        label: str | None = None,
    ) -> Entry:
        """Read ``key``, compute ``fn(value)``, and write it if nobody wrote in between.

        On a conflict the read-compute-write is retried after a jittered exponential
        backoff. A writer that keeps losing to others would starve, so after
        :data:`OPTIMISTIC_UPDATES` conflicts ``fn`` is applied inside the commit
        instead, to the value read there, which cannot conflict (on backends that
        cannot run Python inside a commit, the optimistic retries go on up to
        ``retries`` attempts). ``fn`` may therefore run more than once and should have
        no side effects; it gets a copy of the value (``default`` when the key does
        not exist).

        Raises:
            ConflictError: still conflicting after ``retries`` attempts.

        >>> import statehub
        >>> agent = statehub.open("memory://").agent("counter")
        >>> agent.update("global/counter", lambda v: (v or 0) + 1).value
        1
        """
        check_int("retries", retries, minimum=1)
        conflict: ConflictError | None = None
        for attempt in backoff(base=0.0005, cap=0.01, attempts=retries):
            if attempt >= OPTIMISTIC_UPDATES:
                return self._update_in_commit(key, fn, default, label)
            current = self.entry(key)
            value = fn(default if current is None else current.value)
            op = self._writes.replace(key, value, label)
            # Compare the revision that last changed the key, not just its version: a
            # key deleted and created again since the read is back at version 1 (ABA).
            version, revision = (
                (0, 0) if current is None else (current.version, current.modified_rev)
            )
            try:
                return self._commit_entry(op, {key: version}, unchanged_since={key: revision})
            except ConflictError as exc:
                conflict = exc
        assert conflict is not None
        raise ConflictError(
            conflict.key, conflict.expected, conflict.actual, f"gave up after {retries} attempts"
        )

    def _update_in_commit(
        self, key: str, fn: Callable[[Any], Any], default: Any, label: str | None
    ) -> Entry:
        def apply(state: Any, _: Any) -> Any:
            return fn(default if state is None else state)

        apply.__name__ = getattr(fn, "__name__", "update")
        op = Op(DISPATCH, self._writes.key(key), reducer=apply, label=label, logged_as="update")
        try:
            return self._commit_entry(op, {})
        except ReducerError as exc:
            # The optimistic path lets fn's own error (or InvalidValue) through: so here.
            raise (exc.__cause__ or exc) from None

    def transaction(self, *, label: str | None = None) -> Transaction:
        """Group several writes into one atomic commit (one revision).

        >>> import statehub
        >>> agent = statehub.open("memory://").agent("planner")
        >>> with agent.transaction() as tx:
        ...     tx.put("global/plan", ["research", "write"])
        ...     tx.merge("global/status", {"plan": "ready"})
        >>> tx.revision, agent.get("global/status")
        (1, {'plan': 'ready'})
        """
        return Transaction(self, check_label(label))

    # -- reads -------------------------------------------------------------------

    def _current(self, key: str) -> Stored | None:
        self._writes.key(key)
        stored = self.hub.backend.load(key)
        return None if is_expired(stored, time.time()) else stored

    def _prefix(self, prefix: str) -> str:
        validate_prefix(prefix)
        if prefix.startswith("agent/") and prefix.count("/") >= 2:
            check_access(self.name, prefix)
        return prefix

    def entry(self, key: str) -> Entry | None:
        """The current entry of ``key`` (value and metadata), or ``None``."""
        stored = self._current(key)
        return None if stored is None else stored.to_entry()

    def get(self, key: str, default: Any = None, *, at: int | str | None = None) -> Any:
        """The value of ``key`` (a copy), or ``default`` if it does not exist.

        Args:
            key: the key.
            default: returned when the key does not exist (at that revision).
            at: read the value as it was at this revision, or at this checkpoint
                (by name): time travel.

        >>> import statehub
        >>> agent = statehub.open("memory://").agent("a")
        >>> _ = agent.put("global/doc", "v1"); _ = agent.put("global/doc", "v2")
        >>> agent.get("global/doc"), agent.get("global/doc", at=1)
        ('v2', 'v1')
        """
        if at is None:
            stored = self._current(key)
            return default if stored is None else decode(stored.data)
        self._writes.key(key)
        revision = timetravel.resolve(self.hub.backend, at)
        found, value = value_from_chain(self.hub.backend.chain(key, revision))
        return value if found else default

    def scan(self, prefix: str = "", *, at: int | str | None = None) -> dict[str, Any]:
        """A snapshot of every key under ``prefix`` this agent may see: key -> value.

        With ``at`` (a revision or checkpoint name), the snapshot as of then.
        """
        backend = self.hub.backend
        if at is None:
            return timetravel.snapshot(backend, self._prefix(prefix), self.name)
        revision = timetravel.resolve(backend, at)
        return timetravel.snapshot_at(backend, self._prefix(prefix), revision, self.name)

    def entries(self, prefix: str = "") -> list[Entry]:
        """Like :meth:`scan`, but whole entries, in key order."""
        now = time.time()
        rows = self.hub.backend.scan(self._prefix(prefix), self.name)
        return [row.to_entry() for row in rows if not is_expired(row, now)]

    def history(
        self,
        key: str | None = None,
        prefix: str | None = None,
        agent: str | None = None,
        since: int | None = None,
        until: int | None = None,
        limit: int | None = None,
    ) -> list[Change]:
        """The audit log as this agent may see it (no other agent's private keys)."""
        if key is not None:
            self._writes.key(key)
        if prefix is not None:
            self._prefix(prefix)
        return self.hub._history(key, prefix, agent, since, until, limit, visible_to=self.name)

    def watch(
        self, prefix: str = "", *, since: int | None = None, timeout: float | None = None
    ) -> Iterator[Change]:
        """Yield each change under ``prefix`` after revision ``since``, as it is committed.

        Gap-free and in revision order, across processes; resumable from any
        revision. Without ``since``, starts at the head. Ends after ``timeout``
        seconds without a change (never, with ``None``). Only keys this agent may see.
        """
        query = self.hub._change_query(
            None, self._prefix(prefix), None, since, None, None, self.name
        )
        return timetravel.watch(self.hub.backend, query, timeout)

    def wait_for(self, revision: int, timeout: float | None = None) -> bool:
        """Block until the hub's head reaches ``revision`` (read-after-write across agents).

        Returns ``True`` once it has, ``False`` if ``timeout`` seconds passed first.
        """
        return self.hub.wait_for(revision, timeout)

    # -- locks, checkpoints, rollback --------------------------------------------

    def lock(self, key: str, ttl: float = 30.0, *, wait: float | None = None) -> Lease:
        """Take a lease on ``key``: until it ends, only this agent may write the key.

        Args:
            key: the key to lock (it need not exist).
            ttl: seconds until the lease ends by itself, unless renewed.
            wait: seconds to keep trying while another agent holds the lock
                (default: fail at once).

        Returns:
            The lease; its ``fence`` guards later writes (``put(..., fence=...)``).

        Raises:
            LockedError: held by another agent (after ``wait``), with holder and expiry.
        """
        self._writes.key(key)
        lease_ttl = check_ttl(ttl)
        deadline = None if wait is None else time.monotonic() + check_seconds("wait", wait)
        locked: LockedError | None = None
        attempts = None if deadline is not None else 1
        for _ in backoff(base=0.005, cap=0.1, deadline=deadline, attempts=attempts):
            try:
                stored = self._lease_op(Op(LOCK, lock_key(key), ttl=lease_ttl))
            except LockedError as exc:
                locked = exc
                continue
            assert stored is not None
            state = LockState.decode(key, stored.data)
            assert state is not None
            return Lease(self, key, state.fence, state.expires_ts)
        assert locked is not None
        raise locked

    def _lease_op(self, op: Op) -> Stored | None:
        plan, _ = self.hub.backend.commit(Txn(self.name, (op,)), self.hub.max_value_bytes)
        assert plan is not None
        return plan.writes[op.key]

    def _renew(self, key: str, fence: int, ttl: float) -> float:
        stored = self._lease_op(Op(RENEW, lock_key(key), ttl=check_ttl(ttl), fence=fence))
        state = LockState.decode(key, stored.data if stored is not None else None)
        assert state is not None
        return state.expires_ts

    def _unlock(self, key: str, fence: int) -> None:
        self._lease_op(Op(UNLOCK, lock_key(key), fence=fence))

    def checkpoint(self, name: str) -> Checkpoint:
        """Name the current revision, so it can be read, diffed and rolled back to.

        Costs O(1): one small row, whatever the size of the hub.

        Raises:
            InvalidArgument: a checkpoint of that name exists already.
        """
        key = timetravel.checkpoint_key(name)
        op = Op(PUT, key, encode_meta({}), logged_as="checkpoint", label=name)
        try:
            plan, _ = self.hub.backend.commit(
                Txn(self.name, (op,), {key: 0}), self.hub.max_value_bytes
            )
        except ConflictError:
            raise InvalidArgument(f"a checkpoint named {name!r} exists already") from None
        assert plan is not None
        return Checkpoint(name, plan.revision, self.name, plan.timestamp)

    def delete_checkpoint(self, name: str) -> bool:
        """Forget a checkpoint (compaction may then drop what only it needed)."""
        op = Op(DELETE, timetravel.checkpoint_key(name), logged_as="checkpoint-delete", label=name)
        plan, _ = self.hub.backend.commit(Txn(self.name, (op,)), self.hub.max_value_bytes)
        return plan is not None

    def rollback(self, to: int | str, *, prefix: str = "") -> int | None:
        """Restore every key under ``prefix`` to its value at ``to``, in one new commit.

        Keys created since are deleted, changed ones restored; history is kept (the
        rollback is a change like any other). All or nothing: if a key is locked or
        owned by another agent, or changes while the rollback is prepared, it raises
        and writes nothing.

        Returns:
            The rollback's revision, or ``None`` if nothing differed.
        """
        backend = self.hub.backend
        revision = timetravel.resolve(backend, to)
        now = time.time()
        rows = backend.scan(self._prefix(prefix), self.name)
        current = {row.key: row for row in rows if not is_expired(row, now)}
        past = timetravel.snapshot_at(backend, prefix, revision, self.name)
        present = {key: decode(row.data) for key, row in current.items()}
        diff = diff_snapshots(revision, past, backend.head(), present, prefix)
        cause = {"rollback": to, "revision": revision}
        ops: list[Op] = []
        for key in sorted({*diff.added, *diff.removed, *diff.changed}):
            if key in diff.added:
                ops.append(Op(DELETE, key, logged_as="rollback", cause=cause))
            else:
                old = diff.removed[key] if key in diff.removed else diff.changed[key].old
                data = encode(key, old, self.hub.max_value_bytes)
                ops.append(Op(PUT, key, data, logged_as="rollback", cause=cause))
        if not ops:
            return None
        expect = {op.key: current[op.key].version if op.key in current else 0 for op in ops}
        label = to if isinstance(to, str) else f"revision {to}"
        plan, _ = backend.commit(
            Txn(self.name, tuple(ops), expect, label=f"rollback to {label}"),
            self.hub.max_value_bytes,
        )
        return None if plan is None else plan.revision

    def diff(self, a: int | str, b: int | str = "head", *, prefix: str = "") -> Diff:
        """What changed between revisions (or checkpoints) ``a`` and ``b`` under ``prefix``."""
        return self.hub._diff(a, b, self._prefix(prefix), self.name)

    # -- messages and memory (statehub.mailbox, statehub.local) --------------------

    @typing.overload
    def send(self, to: str, body: Any) -> Message: ...
    @typing.overload
    def send(self, to: Recipients, body: Any) -> list[Message]: ...
    def send(self, to: str | Recipients, body: Any) -> Message | list[Message]:
        """Send ``body`` (JSON) to the inbox of agent ``to``, or of each agent in a list.

        One commit by this agent; the message survives restarts until acknowledged.
        Returns the sender's copy (a list of them, one per recipient, for a list).

        >>> import statehub
        >>> hub = statehub.open("memory://")
        >>> hub.agent("coordinator").send("researcher", {"task": "Research AI"}).recipient
        'researcher'
        """
        sent = Mailbox(self).send(to, body)
        return sent[0] if isinstance(to, str) else sent

    @typing.overload
    def send_update(self, to: str, key: str, value: Any) -> Message: ...
    @typing.overload
    def send_update(self, to: Recipients, key: str, value: Any) -> list[Message]: ...
    def send_update(self, to: str | Recipients, key: str, value: Any) -> Message | list[Message]:
        """Send an update (kind ``"update"``) setting ``key`` to ``value`` in ``to``'s view.

        >>> import statehub
        >>> hub = statehub.open("memory://")
        >>> _ = hub.agent("researcher").send_update("writer", "findings", "5 key trends")
        >>> hub.agent("writer").view()
        {'findings': '5 key trends'}
        """
        sent = Mailbox(self).send_update(to, key, value)
        return sent[0] if isinstance(to, str) else sent

    def receive(
        self,
        *,
        limit: int = DEFAULT_RECEIVE_LIMIT,
        wait: float | None = None,
        visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT,
    ) -> list[Message]:
        """Take up to ``limit`` messages from this agent's inbox, in the order they were sent.

        Each is in flight until acknowledged (:meth:`ack`) or until
        ``visibility_timeout`` seconds pass, after which it is delivered again (at
        least once). Updates it returns are applied to :meth:`view` already.

        Args:
            limit: the most messages to return.
            wait: seconds to block while the inbox has nothing to deliver (default:
                return at once); returns as soon as a message arrives.
            visibility_timeout: seconds before an unacknowledged message is delivered
                again.

        >>> import statehub
        >>> hub = statehub.open("memory://")
        >>> _ = hub.agent("coordinator").send("researcher", "hello")
        >>> [(m.sender, m.body) for m in hub.agent("researcher").receive(wait=5)]
        [('coordinator', 'hello')]
        """
        return Mailbox(self).receive(limit, wait, visibility_timeout)

    def ack(self, message: Message | str) -> bool:
        """Acknowledge a received message (or message id): it is deleted, never delivered again.

        Returns ``False`` if the message was delivered again since this delivery (its
        visibility timeout ran out): that newer delivery is the one to acknowledge.
        """
        return Mailbox(self).ack(message)

    def view(self) -> dict[str, Any]:
        """This agent's view: ``{key: value}`` built from the updates sent to it, in order.

        Updates still waiting in the inbox are applied first, in one commit by this
        agent, and leave the inbox (see :mod:`statehub.mailbox`).
        """
        return Mailbox(self).view()

    @property
    def local(self) -> LocalMemory:
        """This agent's private memory and tool-call log (see :mod:`statehub.local`)."""
        return LocalMemory(self)
