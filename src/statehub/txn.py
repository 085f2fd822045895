"""The one write primitive: a :class:`Txn` of compares and ops, planned purely.

Every write — put, compare-and-set, merge, reducer dispatch, delete — becomes a
``Txn``. A backend reads the current rows of the keys it touches (inside its own
write lock), hands them to :func:`plan_commit`, and persists the :class:`Plan` it
returns: the new rows, and one log row per changed key. Planning is pure, so every
backend commits with exactly the same semantics.

The log stores each change's *effect* as an RFC 6902 JSON Patch from the previous
value, and also the whole value whenever the patches logged since the last whole
value would outweigh it: appending to a list n times costs O(n) bytes, and reading
the past replays patches from the nearest whole value, without any user code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from statehub.codec import decode, encode, encode_meta
from statehub.errors import (
    AccessDenied,
    ConflictError,
    InvalidValue,
    LockedError,
    ReducerError,
    StaleFenceError,
)
from statehub.locks import LOCK_SCOPE, LockState, check_write, lock_key
from statehub.merge import merge_patch
from statehub.model import Entry, EntryBuilder
from statehub.patch import make_patch

__all__ = [
    "SYSTEM_AGENT",
    "LogRow",
    "Op",
    "Plan",
    "Stored",
    "Txn",
    "is_expired",
    "plan_commit",
    "plan_with_expiry",
    "run_reducer",
    "shift_plan",
]

PUT = "put"
DELETE = "delete"
MERGE = "merge"
DISPATCH = "dispatch"
LOCK = "lock"
RENEW = "renew"
UNLOCK = "unlock"
EXPIRE = "expire"
USER_WRITES = frozenset({PUT, DELETE, MERGE, DISPATCH})
"""Op kinds that write a user key, and so must respect the key's lock."""

SYSTEM_AGENT = "_statehub"
"""The agent statehub's own changes (expiry) are attributed to: no user can take the name."""

_CONTAINER_STARTS = (ord("{"), ord("["))

SMALL_VALUE_BYTES = 256
"""Values smaller than this are logged whole: a patch would save next to nothing."""


@dataclass(slots=True)
class Op:
    """One operation on one key.

    Attributes:
        kind: ``put``, ``delete``, ``merge`` or ``dispatch``.
        key: the key, already validated and access-checked.
        data: for ``put``, the encoded value.
        operand: for ``merge`` the patch, for ``dispatch`` the action (private copies).
        reducer: for ``dispatch``, the ``(state, action) -> state`` function.
        cause: the JSON logged as the change's cause.
        label: a short tag for the log.
        owner: ``True`` takes ownership of the key, ``False`` gives it up, ``None`` keeps it.
        logged_as: the op name written to the log, when it is not ``kind`` (``update``).
        ttl: seconds until the key expires (``put``: none if not given; other ops keep
            the key's expiry unless given); for ``lock`` and ``renew``, the lease.
        fence: for ``renew`` and ``unlock``, the lease's fence.
    """

    kind: str
    key: str
    data: bytes | None = None
    operand: Any = None
    reducer: Callable[[Any, Any], Any] | None = None
    cause: Any = None
    label: str | None = None
    owner: bool | None = None
    logged_as: str | None = None
    ttl: float | None = None
    fence: int | None = None


@dataclass(slots=True)
class Txn:
    """Ops applied atomically by ``agent``, after every compare in ``expect`` holds.

    Attributes:
        agent: the acting agent (every change is attributed to it).
        ops: the ops, applied in order (several may touch one key).
        expect: key -> the version it must have (0: absent) for the commit to go on.
        label: a tag for every change of the commit, unless an op has its own.
        fences: key -> the fence the writer carries for it (see :mod:`statehub.locks`).
        unchanged_since: key -> the revision that last changed it (its ``modified_rev``;
            0: absent), for a read-modify-write that must not be fooled by a key
            deleted and created again, which restarts its version (ABA).
    """

    agent: str
    ops: tuple[Op, ...]
    expect: Mapping[str, int] = field(default_factory=dict)
    label: str | None = None
    fences: Mapping[str, int] = field(default_factory=dict)
    unchanged_since: Mapping[str, int] = field(default_factory=dict)

    @property
    def keys(self) -> list[str]:
        """Every row the commit reads: its keys and their lock rows, each once."""
        keys: dict[str, None] = dict.fromkeys(self.expect) if self.expect else {}
        if self.unchanged_since:
            keys.update(dict.fromkeys(self.unchanged_since))
        for op in self.ops:
            keys[op.key] = None
            if op.kind in USER_WRITES:
                keys[lock_key(op.key)] = None
        return list(keys)


@dataclass(slots=True)
class Stored:
    """A key's current row, as a backend holds it (the value still encoded)."""

    key: str
    data: bytes
    version: int
    created_rev: int
    modified_rev: int
    updated_by: str
    updated_ts: float
    expires_ts: float | None = None
    owner: str | None = None
    patch_bytes: int = 0

    def columns(self) -> tuple[Any, ...]:
        """The row's fields in storage column order (``key``, ``data``, ``version``, ...)."""
        return (
            self.key,
            self.data,
            self.version,
            self.created_rev,
            self.modified_rev,
            self.updated_by,
            self.updated_ts,
            self.expires_ts,
            self.owner,
            self.patch_bytes,
        )

    def to_entry(self, replaced: Entry | None = None) -> Entry:
        """The public :class:`Entry` of this row (its value decoded on first use)."""
        return EntryBuilder(
            self.key,
            self.data,
            self.version,
            self.created_rev,
            self.modified_rev,
            self.updated_by,
            self.updated_ts,
            self.expires_ts,
            self.owner,
            replaced,
        ).build()


@dataclass(slots=True)
class LogRow:
    """One change row to append to the log.

    ``patch`` is the effect (``None``: a whole-value change, or a removal); ``value`` is
    the whole value after it, where the log keeps a base for replay (``None`` on most
    patch rows, and on removals).
    """

    key: str
    op: str
    label: str | None
    prev_version: int
    version: int
    patch: bytes | None
    value: bytes | None
    cause: bytes | None


@dataclass(slots=True)
class Plan:
    """What a commit writes: new rows (``None``: delete) and log rows, at ``revision``."""

    revision: int
    timestamp: float
    agent: str
    writes: dict[str, Stored | None]
    rows: list[LogRow]

    def entry(self, key: str, before: Stored | None) -> Entry | None:
        """The public result for ``key``: its new entry, saying what it replaced."""
        after = self.writes.get(key)
        replaced = before.to_entry() if before is not None else None
        return after.to_entry(replaced) if after is not None else replaced


class _Working:
    """A key's state while the ops of one commit are applied to it."""

    __slots__ = ("before", "causes", "data", "expires_ts", "label", "op", "owner")

    def __init__(self, before: Stored | None) -> None:
        self.before = before
        self.data: bytes | None = None
        self.owner: str | None = None
        self.expires_ts: float | None = None
        if before is not None:
            self.data, self.owner, self.expires_ts = before.data, before.owner, before.expires_ts
        self.causes: list[Any] = []
        self.op = PUT
        self.label: str | None = None

    def value(self) -> Any:
        return None if self.data is None else decode(self.data)


class _Commit:
    """What every op of one commit needs to know."""

    __slots__ = ("agent", "before", "fences", "max_bytes", "revision", "timestamp")

    def __init__(
        self,
        txn: Txn,
        before: Mapping[str, Stored | None],
        revision: int,
        timestamp: float,
        max_bytes: int,
    ) -> None:
        self.agent = txn.agent
        self.fences = txn.fences
        self.before = before
        self.revision = revision
        self.timestamp = timestamp
        self.max_bytes = max_bytes


def _check_writable(key: str, work: _Working, commit: _Commit) -> None:
    """Raise unless the commit's agent may write ``key``: its lock, then its owner."""
    agent = commit.agent
    lock_row = commit.before.get(lock_key(key))
    lock = LockState.decode(key, lock_row.data) if lock_row is not None else None
    check_write(key, lock, agent, commit.fences.get(key), commit.timestamp)
    if work.owner is not None and work.owner != agent:
        raise AccessDenied(key, agent, f"the key is owned by {work.owner!r}", owner=work.owner)


def _apply(op: Op, work: _Working, commit: _Commit) -> None:
    kind = op.kind
    if kind in USER_WRITES:
        _check_writable(op.key, work, commit)
    if kind == PUT:
        work.data = op.data
        work.expires_ts = None
    elif kind in (DELETE, EXPIRE):
        work.data = None
    elif kind == MERGE:
        work.data = encode(op.key, merge_patch(work.value(), op.operand), commit.max_bytes)
    elif kind == DISPATCH:
        work.data = run_reducer(op, work.value(), commit.max_bytes)
    else:
        work.data = _lease(op, work, commit)
    if op.ttl is not None and work.data is not None and kind in USER_WRITES:
        work.expires_ts = commit.timestamp + op.ttl
    if work.data is None or op.owner is False:
        work.owner = None
    elif op.owner:
        work.owner = commit.agent
    work.op = op.logged_as or kind
    work.label = op.label or work.label
    if op.cause is not None:
        work.causes.append(op.cause)


def _lease(op: Op, work: _Working, commit: _Commit) -> bytes | None:
    """Take, renew or release the lease whose row is ``op.key``."""
    locked_key = op.key.removeprefix("_locks/")
    agent, now = commit.agent, commit.timestamp
    current = LockState.decode(locked_key, work.data)
    if op.kind == LOCK:
        if current is not None and current.active(now) and current.holder != agent:
            raise LockedError(locked_key, current.holder, current.expires_ts)
        assert op.ttl is not None
        return LockState(locked_key, agent, commit.revision, now + op.ttl).encode()
    assert op.fence is not None
    if current is None:
        raise StaleFenceError(locked_key, op.fence, None)
    current.check_fence(agent, op.fence)
    if op.kind == UNLOCK:
        return None
    assert op.ttl is not None
    return LockState(locked_key, agent, current.fence, now + op.ttl).encode()


def run_reducer(op: Op, state: Any, max_bytes: int) -> bytes:
    """The encoded result of ``op``'s reducer on ``state`` (errors wrapped in ReducerError)."""
    assert op.reducer is not None
    name = getattr(op.reducer, "__name__", repr(op.reducer))
    try:
        result = op.reducer(state, op.operand)
    except Exception as exc:
        raise ReducerError(f"reducer {name} failed on {op.key!r}: {exc!r}") from exc
    try:
        return encode(op.key, result, max_bytes)
    except InvalidValue as exc:
        raise ReducerError(
            f"reducer {name} returned a non-JSON value for {op.key!r}: {exc}"
        ) from exc


def _effect(before: Stored, data: bytes) -> tuple[bytes | None, bytes | None, int]:
    """What to log for ``before`` -> ``data``: (patch, whole value, patch bytes since).

    The patch is the change's effect, for the audit log; the whole value is a base to
    replay patches from, logged whenever the patches since the last one would
    outweigh it (so replaying a read costs at most about the value's size). A small
    or non-container value is logged whole only: a patch would say no more.
    """
    if len(data) < SMALL_VALUE_BYTES or before.data[:1] != data[:1]:
        return None, data, 0
    if data[0] not in _CONTAINER_STARTS:
        return None, data, 0
    patch = encode_meta(make_patch(decode(before.data), decode(data)))
    if len(patch) >= len(data):
        return None, data, 0
    total = before.patch_bytes + len(patch)
    if total > len(data):
        return patch, data, 0
    return patch, None, total


def _check_compares(txn: Txn, before: Mapping[str, Stored | None]) -> None:
    """Raise ``ConflictError`` unless every compare of ``txn`` holds on ``before``."""
    for key, expected in txn.expect.items():
        current = before.get(key)
        actual = current.version if current is not None else 0
        if actual != expected:
            raise ConflictError(key, expected, actual)
    for key, modified_rev in txn.unchanged_since.items():
        current = before.get(key)
        if (current.modified_rev if current is not None else 0) != modified_rev:
            actual = current.version if current is not None else 0
            detail = f"changed since revision {modified_rev}" if modified_rev else "created"
            raise ConflictError(key, actual, actual, detail)


def plan_commit(
    txn: Txn,
    before: Mapping[str, Stored | None],
    revision: int,
    timestamp: float,
    max_bytes: int,
) -> Plan | None:
    """Check ``txn``'s compares against ``before`` and compute what it writes.

    Args:
        txn: the transaction.
        before: the current row of every key in ``txn.keys`` (``None``: absent).
        revision: the revision this commit gets if it changes anything.
        timestamp: the commit time, seconds since the epoch.
        max_bytes: the largest encoded value accepted.

    Returns:
        The plan, or ``None`` when the commit changes nothing (e.g. deleting an
        absent key): no revision is used then.

    Raises:
        ConflictError: a compare failed.
        AccessDenied: a key is owned by another agent.
        ReducerError: a reducer raised or returned something that is not JSON.
    """
    if txn.expect or txn.unchanged_since:
        _check_compares(txn, before)
    commit = _Commit(txn, before, revision, timestamp, max_bytes)
    working: dict[str, _Working] = {}
    for op in txn.ops:
        work = working.get(op.key)
        if work is None:
            work = working[op.key] = _Working(before.get(op.key))
        _apply(op, work, commit)
    writes: dict[str, Stored | None] = {}
    rows: list[LogRow] = []
    for key, work in sorted(working.items()) if len(working) > 1 else working.items():
        prev = work.before
        label = work.label or txn.label
        cause = None
        if work.causes:
            cause = encode_meta(work.causes[0] if len(work.causes) == 1 else work.causes)
        data = work.data
        if data is None:
            if prev is None:
                continue
            writes[key] = None
            rows.append(LogRow(key, work.op, label, prev.version, 0, None, None, cause))
            continue
        if prev is not None:
            patch, full, patch_bytes = _effect(prev, data)
            prev_version, created_rev = prev.version, prev.created_rev
        else:
            patch, full, patch_bytes = None, data, 0
            prev_version, created_rev = 0, revision
        version = prev_version + 1
        writes[key] = Stored(
            key,
            data,
            version,
            created_rev,
            revision,
            txn.agent,
            timestamp,
            work.expires_ts,
            work.owner,
            patch_bytes,
        )
        rows.append(LogRow(key, work.op, label, prev_version, version, patch, full, cause))
    if not rows:
        return None
    return Plan(revision, timestamp, txn.agent, writes, rows)


def is_expired(stored: Stored | None, now: float) -> bool:
    """Whether ``stored`` has a TTL that has run out at ``now``."""
    return stored is not None and stored.expires_ts is not None and stored.expires_ts <= now


def plan_with_expiry(
    txn: Txn,
    before: dict[str, Stored | None],
    head: int,
    timestamp: float,
    max_bytes: int,
    expired_elsewhere: Iterable[Stored] = (),
) -> tuple[list[Plan], dict[str, Stored | None], Plan | None]:
    """Plan ``txn``, first removing expired keys in a commit of their own.

    Keys whose TTL has run out — those ``txn`` touches, and ``expired_elsewhere``
    (a backend's periodic sweep) — are deleted by an ``expire`` change attributed to
    :data:`SYSTEM_AGENT` at revision ``head + 1``; ``txn`` then sees them absent.

    Returns:
        Every plan to persist, in order; the rows ``txn`` saw before; and ``txn``'s
        own plan (``None`` if it changed nothing).
    """
    expired: dict[str, Stored] = {}
    for key, stored in before.items():
        if stored is not None and is_expired(stored, timestamp):
            expired[key] = stored
    for row in expired_elsewhere:
        expired[row.key] = row
    plans: list[Plan] = []
    if expired:
        sweep = Txn(SYSTEM_AGENT, tuple(Op(EXPIRE, key) for key in sorted(expired)))
        swept = plan_commit(sweep, dict(expired), head + 1, timestamp, max_bytes)
        assert swept is not None
        plans.append(swept)
        head = swept.revision
        before = {key: None if key in expired else row for key, row in before.items()}
    plan = plan_commit(txn, before, head + 1, timestamp, max_bytes)
    if plan is not None:
        plans.append(plan)
    return plans, before, plan


def shift_plan(plan: Plan, planned_first: int, delta: int) -> Plan:
    """``plan`` renumbered: every revision from ``planned_first`` on moves by ``delta``.

    A backend that plans before it knows the revision its commit will get (PostgreSQL
    plans on rows it read or cached, then commits in one statement) plans with a
    guess and renumbers once the database has assigned the real one. Revisions below
    ``planned_first`` came from rows that existed before and stay as they are; the
    fence in a lock row is a revision too.
    """
    if delta == 0:
        return plan

    def moved(revision: int) -> int:
        return revision + delta if revision >= planned_first else revision

    writes: dict[str, Stored | None] = {}
    for key, row in plan.writes.items():
        if row is not None:
            data = row.data
            if key.startswith(LOCK_SCOPE):
                fields = decode(data)
                fields["fence"] = moved(fields["fence"])
                data = encode_meta(fields)
            row = replace(
                row,
                data=data,
                created_rev=moved(row.created_rev),
                modified_rev=moved(row.modified_rev),
            )
        writes[key] = row
    rows: list[LogRow] = []
    for logged in plan.rows:
        written = writes.get(logged.key)
        if logged.key.startswith(LOCK_SCOPE) and logged.value is not None and written is not None:
            logged = replace(logged, value=written.data)
        rows.append(logged)
    return Plan(plan.revision + delta, plan.timestamp, plan.agent, writes, rows)
