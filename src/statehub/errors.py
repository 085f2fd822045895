"""Every error statehub raises, as one tree rooted at :class:`StatehubError`.

::

    StatehubError
    ├── ConflictError          a compare failed: key, expected, actual (version)
    ├── AccessDenied           (also PermissionError) scope, ownership: key, agent, reason
    ├── InvalidKey             (also ValueError) a key or prefix outside the grammar
    ├── InvalidValue           (also TypeError) a value that is not JSON: key, path, type
    ├── InvalidArgument        (also ValueError) any other argument of wrong type or range
    │   └── ValueTooLarge      an encoded value over the hub's limit: key, size, limit
    ├── LockedError            the key is locked by another agent: key, holder, expires_at
    ├── StaleFenceError        a fence older than the key's lock: key, fence, current
    ├── CompactedError         (also LookupError) a revision dropped by compaction: oldest available
    ├── UnknownCheckpoint      (also LookupError) no checkpoint by that name
    ├── UnknownReducer         (also LookupError) dispatch to a key with no reducer
    ├── ReducerError           a reducer raised or returned a non-JSON value
    ├── PatchError             (also ValueError) a JSON Patch that does not apply
    ├── HubClosed              an operation on a closed hub
    ├── Unauthenticated        (also PermissionError) a server refused the token
    └── BackendError           the storage failed (driver errors are wrapped in it)
        ├── BackendBusy        the write lock could not be had within the timeout
        └── BackendUnavailable the server could not be reached within the timeout (retry)

Driver exceptions (``sqlite3.Error`` and the like) never reach callers: backends
translate them at the boundary, keeping the original as ``__cause__``.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = [
    "AccessDenied",
    "BackendBusy",
    "BackendError",
    "BackendUnavailable",
    "CompactedError",
    "ConflictError",
    "HubClosed",
    "InvalidArgument",
    "InvalidKey",
    "InvalidValue",
    "LockedError",
    "PatchError",
    "ReducerError",
    "StaleFenceError",
    "StatehubError",
    "Unauthenticated",
    "UnknownCheckpoint",
    "UnknownReducer",
    "ValueTooLarge",
]


class StatehubError(Exception):
    """The base of every error statehub raises."""


class ConflictError(StatehubError):
    """A compare in a commit failed: the key's version was not the one expected.

    Attributes:
        key: the key whose compare failed.
        expected: the version the writer expected (0 means "absent").
        actual: the version the key had at commit time (0 means "absent").
    """

    def __init__(self, key: str, expected: int, actual: int, detail: str = "") -> None:
        self.key = key
        self.expected = expected
        self.actual = actual
        message = f"conflict on {key!r}: expected version {expected}, found version {actual}"
        super().__init__(f"{message} ({detail})" if detail else message)


class AccessDenied(StatehubError, PermissionError):
    """The acting agent may not read or write the key.

    Attributes:
        key: the key (or prefix) that was refused.
        agent: the agent that asked.
        reason: why, in words.
        owner: the agent that owns the key or scope, when that is why.
    """

    def __init__(self, key: str, agent: str, reason: str, *, owner: str | None = None) -> None:
        self.key = key
        self.agent = agent
        self.reason = reason
        self.owner = owner
        super().__init__(f"agent {agent!r} may not access {key!r}: {reason}")


class InvalidKey(StatehubError, ValueError):
    """A key, prefix or agent name outside the grammar documented in ``statehub.keys``.

    Attributes:
        key: the offending key as given.
        reason: what is wrong with it.
    """

    def __init__(self, key: object, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(f"invalid key {key!r}: {reason}")


class InvalidValue(StatehubError, TypeError):
    """A value that is not JSON (dict with str keys, list, str, int, float, bool, None).

    Attributes:
        key: the key the value was written to.
        path: a JSON Pointer to the offending part of the value ("" for the whole).
        type_name: the Python type that was found there.
    """

    def __init__(self, key: str, path: str, type_name: str, reason: str = "") -> None:
        self.key = key
        self.path = path
        self.type_name = type_name
        where = f" at {path!r}" if path else ""
        why = reason or f"{type_name} is not a JSON type"
        super().__init__(f"value for {key!r} is not JSON{where}: {why}")


class InvalidArgument(StatehubError, ValueError):
    """An argument of the wrong type or out of range (names the parameter)."""


class ValueTooLarge(InvalidArgument):
    """An encoded value larger than the hub's ``max_value_bytes``.

    Attributes:
        key: the key the value was written to.
        size: the encoded size in bytes.
        limit: the hub's limit in bytes.
    """

    def __init__(self, key: str, size: int, limit: int) -> None:
        self.key = key
        self.size = size
        self.limit = limit
        super().__init__(
            f"value for {key!r} is {size} bytes encoded, over the limit of {limit} bytes"
        )


class LockedError(StatehubError):
    """The key is locked by another agent's lease; nothing was written.

    Attributes:
        key: the locked key.
        holder: the agent holding the lock.
        expires_at: when the lease ends unless renewed (aware UTC datetime).
    """

    def __init__(self, key: str, holder: str, expires_ts: float) -> None:
        self.key = key
        self.holder = holder
        self.expires_ts = expires_ts
        self.expires_at = datetime.fromtimestamp(expires_ts, UTC)
        until = self.expires_at.isoformat(timespec="milliseconds")
        super().__init__(f"{key!r} is locked by {holder!r} until {until}")


class StaleFenceError(StatehubError):
    """A write or lease call carried a fence that is no longer the key's current lock.

    The lease it came from expired and was taken over (or was released): the writer
    must not assume it still holds the lock. Nothing was written.

    Attributes:
        key: the key.
        fence: the fence the caller carried.
        current: the fence of the key's current lock, or ``None`` if it has none.
    """

    def __init__(self, key: str, fence: int, current: int | None) -> None:
        self.key = key
        self.fence = fence
        self.current = current
        now = "no lock" if current is None else f"the current lock's fence is {current}"
        super().__init__(f"stale fence {fence} for {key!r}: {now}")


class CompactedError(StatehubError, LookupError):
    """The revision asked for was dropped by compaction.

    Attributes:
        revision: the revision asked for.
        oldest: the oldest revision still readable (checkpoints excepted).
    """

    def __init__(self, revision: int, oldest: int) -> None:
        self.revision = revision
        self.oldest = oldest
        super().__init__(
            f"revision {revision} was compacted away; the oldest available is {oldest}"
        )


class UnknownCheckpoint(StatehubError, LookupError):
    """No checkpoint has that name."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"no checkpoint named {name!r}")


class UnknownReducer(StatehubError, LookupError):
    """``dispatch`` to a key for which no reducer is registered."""

    def __init__(self, key: str, reducer: str | None = None) -> None:
        self.key = key
        self.reducer = reducer
        if reducer is None:
            super().__init__(f"no reducer is registered for {key!r}")
        else:
            super().__init__(f"no reducer named {reducer!r} (for {key!r})")


class ReducerError(StatehubError):
    """A reducer raised, or returned something that is not JSON; nothing was written."""


class PatchError(StatehubError, ValueError):
    """A JSON Patch (RFC 6902) operation that cannot be applied to its document."""


class HubClosed(StatehubError):
    """The hub was closed; open it again to go on."""


class Unauthenticated(StatehubError, PermissionError):
    """A statehub server refused the token: missing, malformed, unknown or revoked."""


class BackendError(StatehubError):
    """The storage backend failed; the original driver error is the ``__cause__``."""


class BackendBusy(BackendError):
    """The write lock could not be acquired within the hub's ``busy_timeout``."""


class BackendUnavailable(BackendError):
    """The database server could not be reached within the hub's ``busy_timeout``.

    Safe to retry once the server is back: statehub retries reads itself, and a
    write whose outcome a dropped connection left unknown is checked against the
    log and either reported as done or redone, never applied twice.
    """
