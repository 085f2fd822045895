"""The values statehub hands out: :class:`Entry` and :class:`Change` (immutable)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

__all__ = ["Change", "Checkpoint", "Entry", "EntryBuilder"]


def _utc(timestamp: float | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC)


_UNDECODED: Any = object()


@dataclass(frozen=True, slots=True)
class Entry:
    """A key's value with its metadata, as of one revision.

    Attributes:
        key: the key.
        data: the value as stored (JSON bytes); ``value`` decodes it.
        version: 1 when the key was created, +1 for each change since.
        created_rev: the revision that created the key.
        modified_rev: the revision that last changed it.
        updated_by: the agent that last changed it.
        updated_ts: when it last changed, seconds since the epoch (see ``updated_at``).
        expires_ts: when it expires, seconds since the epoch, or ``None``.
        owner: the agent that owns it (only the owner may write it), or ``None``.
        replaced: on the result of a write, the entry it overwrote (``None`` if the
            key was new): last-write-wins that says whose value it replaced.
    """

    key: str
    data: bytes = field(repr=False)
    version: int
    created_rev: int
    modified_rev: int
    updated_by: str
    updated_ts: float
    expires_ts: float | None = None
    owner: str | None = None
    replaced: Entry | None = None
    _value: Any = field(default=_UNDECODED, init=False, repr=False, compare=False)

    @property
    def value(self) -> Any:
        """The value: this entry's own copy, decoded on first use.

        Mutating it changes this copy only, never the store.
        """
        if self._value is _UNDECODED:
            object.__setattr__(self, "_value", orjson.loads(self.data))
        return self._value

    @property
    def updated_at(self) -> datetime:
        """When the key last changed, as an aware UTC datetime."""
        return datetime.fromtimestamp(self.updated_ts, UTC)

    @property
    def expires_at(self) -> datetime | None:
        """When the key expires, as an aware UTC datetime, or ``None``."""
        return _utc(self.expires_ts)

    def __repr__(self) -> str:
        return (
            f"Entry(key={self.key!r}, value={self.value!r}, version={self.version}, "
            f"modified_rev={self.modified_rev}, updated_by={self.updated_by!r})"
        )


class EntryBuilder:
    """An :class:`Entry` in the making: the same slots, without the frozen ``__setattr__``.

    A frozen dataclass sets each field through ``object.__setattr__`` (0.77 us for an
    entry, and a write returns two); plain slot stores cost a fifth of that.
    :meth:`build` then turns this very object into the ``Entry``, which the identical
    layout allows.

    >>> fields = ("global/x", b"[1]", 1, 1, 1, "a", 0.0, None, None, None)
    >>> built = EntryBuilder(*fields).build()
    >>> type(built) is Entry, built == Entry(*fields), built.value
    (True, True, [1])
    >>> built.version = 2
    Traceback (most recent call last):
    dataclasses.FrozenInstanceError: cannot assign to field 'version'
    """

    __slots__ = Entry.__slots__

    def __init__(
        self,
        key: str,
        data: bytes,
        version: int,
        created_rev: int,
        modified_rev: int,
        updated_by: str,
        updated_ts: float,
        expires_ts: float | None,
        owner: str | None,
        replaced: Entry | None,
    ) -> None:
        self.key = key
        self.data = data
        self.version = version
        self.created_rev = created_rev
        self.modified_rev = modified_rev
        self.updated_by = updated_by
        self.updated_ts = updated_ts
        self.expires_ts = expires_ts
        self.owner = owner
        self.replaced = replaced
        self._value = _UNDECODED

    def build(self) -> Entry:
        """This object, now the frozen :class:`Entry` (use the builder no more)."""
        built: Any = self
        built.__class__ = Entry
        entry: Entry = built
        return entry


@dataclass(frozen=True, slots=True)
class Change:
    """One row of the audit log: what one committed revision did to one key.

    Attributes:
        revision: the hub revision of the commit.
        key: the key changed.
        op: ``put``, ``merge``, ``dispatch``, ``delete`` (more in later releases).
        agent: the agent that made the change.
        timestamp: when, seconds since the epoch (see ``time``).
        label: a short tag: the reducer action's ``type``, or the writer's label.
        prev_version: the key's version before (0: it did not exist).
        version: its version after (0: it was deleted).
        patch: the effect, as an RFC 6902 JSON Patch from the previous value.
        cause: what asked for it: the merge patch, the reducer and action, or ``None``.
    """

    revision: int
    key: str
    op: str
    agent: str
    timestamp: float
    label: str | None
    prev_version: int
    version: int
    patch: list[dict[str, Any]]
    cause: Any = None

    @property
    def time(self) -> datetime:
        """When the change was committed, as an aware UTC datetime."""
        return datetime.fromtimestamp(self.timestamp, UTC)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A name for a revision, made with ``agent.checkpoint(name)``.

    Attributes:
        name: the checkpoint's name.
        revision: the revision it names.
        agent: the agent that made it.
        timestamp: when, seconds since the epoch (see ``time``).
    """

    name: str
    revision: int
    agent: str
    timestamp: float

    @property
    def time(self) -> datetime:
        """When the checkpoint was made, as an aware UTC datetime."""
        return datetime.fromtimestamp(self.timestamp, UTC)
