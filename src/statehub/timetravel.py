"""Reading the past: revisions by number or checkpoint name, snapshots, watching.

Functions over a backend, shared by :class:`~statehub.hub.Hub` (which sees every
key) and :class:`~statehub.hub.Agent` (which passes its name as ``visible_to``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from statehub.backends.base import Backend
from statehub.codec import decode
from statehub.errors import CompactedError, InvalidArgument, InvalidKey, UnknownCheckpoint
from statehub.history import ChangeQuery, value_from_chain
from statehub.keys import validate_prefix
from statehub.model import Change, Checkpoint
from statehub.txn import is_expired

__all__ = [
    "CHECKPOINT_SCOPE",
    "WATCH_BATCH",
    "checkpoint_key",
    "checkpoints",
    "resolve",
    "since_after_compaction",
    "snapshot",
    "snapshot_at",
    "watch",
]

CHECKPOINT_SCOPE = "_checkpoints/"
"""The reserved scope of checkpoint rows: ``_checkpoints/<name>``."""

WATCH_BATCH = 1000
"""The most revisions one poll of :func:`watch` reads at once."""


def checkpoint_key(name: object) -> str:
    """The row key of checkpoint ``name`` (a name is one key segment)."""
    if not isinstance(name, str) or not name or "/" in name or name == "head":
        raise InvalidKey(name, "a checkpoint name is one key segment, and not 'head'")
    validate_prefix(name)
    return CHECKPOINT_SCOPE + name


def checkpoints(backend: Backend) -> list[Checkpoint]:
    """Every checkpoint of the hub, oldest first."""
    found = [
        Checkpoint(
            row.key.removeprefix(CHECKPOINT_SCOPE), row.modified_rev, row.updated_by, row.updated_ts
        )
        for row in backend.scan(CHECKPOINT_SCOPE, None)
    ]
    return sorted(found, key=lambda checkpoint: checkpoint.revision)


def resolve(backend: Backend, at: int | str) -> int:
    """The revision ``at`` names: a revision number, a checkpoint name, or ``"head"``.

    Raises:
        UnknownCheckpoint: no checkpoint has that name.
        InvalidArgument: a number below 0 or past the head, or neither int nor str.
    """
    head = backend.head()
    if isinstance(at, str):
        if at == "head":
            return head
        row = backend.load(checkpoint_key(at))
        if row is None:
            raise UnknownCheckpoint(at)
        return row.modified_rev
    if not isinstance(at, int) or isinstance(at, bool):
        raise InvalidArgument(f"a revision is an int or a checkpoint name, not {at!r}")
    if not 0 <= at <= head:
        raise InvalidArgument(f"revision {at} is outside 0..{head} (the head)")
    oldest = backend.oldest()
    if at < oldest and at not in {checkpoint.revision for checkpoint in checkpoints(backend)}:
        raise CompactedError(at, oldest)
    return at


def since_after_compaction(backend: Backend, since: int | None) -> int | None:
    """``since`` for reading the log, checked against compaction.

    Raises:
        CompactedError: changes right after ``since`` were dropped by compaction.
    """
    oldest = backend.oldest()
    if since is None:
        return oldest or None
    if since < oldest:
        raise CompactedError(since, oldest)
    return since


def snapshot(backend: Backend, prefix: str, visible_to: str | None) -> dict[str, Any]:
    """The current ``{key: value}`` under ``prefix`` (expired keys left out)."""
    now = time.time()
    return {
        row.key: decode(row.data)
        for row in backend.scan(prefix, visible_to)
        if not is_expired(row, now) and not row.key.startswith("_")
    }


def snapshot_at(
    backend: Backend, prefix: str, revision: int, visible_to: str | None
) -> dict[str, Any]:
    """``{key: value}`` under ``prefix`` as of ``revision``."""
    found: dict[str, Any] = {}
    for key in backend.changed_keys(prefix, revision, visible_to):
        if key.startswith("_"):
            continue
        present, value = value_from_chain(backend.chain(key, revision))
        if present:
            found[key] = value
    return found


def watch(backend: Backend, query: ChangeQuery, timeout: float | None) -> Iterator[Change]:
    """Yield every change matching ``query`` after ``query.since``, in revision order.

    Blocks while nothing new has been committed; ends after ``timeout`` seconds with
    no new change (never, with ``None``). Reads the log in windows of whole
    revisions, so a commit of many keys is never split across two polls and no
    change is skipped.

    Raises:
        CompactedError: at once, if changes after ``query.since`` were compacted away.
    """
    since = backend.head() if query.since is None else query.since
    since_after_compaction(backend, since)
    return _follow(backend, query, since, timeout)


def _follow(
    backend: Backend, query: ChangeQuery, position: int, timeout: float | None
) -> Iterator[Change]:
    idle_since = time.monotonic()
    while True:
        head = backend.head()
        if head > position:
            until = min(head, position + WATCH_BATCH)
            window = replace(query, since=position, until=until, limit=None)
            changes = backend.changes(window)
            yield from changes
            position = until
            if changes:
                idle_since = time.monotonic()
            continue
        remaining = None if timeout is None else timeout - (time.monotonic() - idle_since)
        if remaining is not None and remaining <= 0:
            return
        backend.wait(position, remaining)
