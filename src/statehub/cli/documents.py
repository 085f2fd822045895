"""The JSON documents ``--json`` prints: one function per kind, the shapes of docs/cli.md.

Times are ISO 8601 in UTC with milliseconds (``2026-11-27T23:59:01.123+00:00``),
next to the same time in seconds since the epoch under the HTTP API's name
(``updated_at`` and ``updated_ts``), so every document carries the members the
HTTP API's has for the same thing. Absent values are ``null``, never missing
members, so scripts can rely on the keys. Entries, changes, checkpoints and diffs
are the HTTP API's documents (:mod:`statehub.documents`) with those ISO times added;
``--json`` prints keys sorted, so the order of the members here does not show.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from statehub.diff import Diff
from statehub.documents import (
    change_json,
    checkpoint_json,
    diff_json,
    entry_json,
    lock_json,
    message_json,
    task_json,
)
from statehub.locks import LockState
from statehub.mailbox import Message
from statehub.model import Change, Checkpoint, Entry
from statehub.tasks import Task

__all__ = [
    "change_document",
    "checkpoint_document",
    "diff_document",
    "entry_document",
    "iso",
    "lock_document",
    "message_document",
    "task_document",
]


def iso(timestamp: float | None) -> str | None:
    """``timestamp`` (seconds since the epoch) as ISO 8601 UTC, or ``None``."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")


def entry_document(entry: Entry) -> dict[str, Any]:
    """A key's entry: the API's (:func:`~statehub.documents.entry_json`) with ISO times."""
    return {
        **entry_json(entry),
        "updated_at": iso(entry.updated_ts),
        "expires_at": iso(entry.expires_ts),
    }


def change_document(change: Change) -> dict[str, Any]:
    """One row of the audit log: the API's with its ``time`` in ISO 8601."""
    return {**change_json(change), "time": iso(change.timestamp)}


def checkpoint_document(checkpoint: Checkpoint) -> dict[str, Any]:
    """A checkpoint: the API's (name, revision, agent, timestamp) with its ``time``."""
    return {**checkpoint_json(checkpoint), "time": iso(checkpoint.timestamp)}


def diff_document(diff: Diff) -> dict[str, Any]:
    """A diff: the two revisions, the keys added, removed and changed, and its text lines.

    The API's document as it is (it has no times).
    """
    return diff_json(diff)


def lock_document(lock: LockState) -> dict[str, Any]:
    """A lock held: the API's document (key, holder, fence, expiry) and its ISO time."""
    return {**lock_json(lock), "expires_at": iso(lock.expires_ts)}


def task_document(task: Task) -> dict[str, Any]:
    """A task record as read now: the API's document and its ISO times."""
    return {
        **task_json(task),
        "lease_expires_at": iso(task.lease_expires_ts),
        "created_at": iso(task.created_ts),
        "updated_at": iso(task.updated_ts),
    }


def message_document(message: Message, in_flight_until: float | None) -> dict[str, Any]:
    """A message waiting in an inbox; ``in_flight_until`` is set while it is delivered."""
    return {
        **message_json(message),
        "sent_at": message.sent_at.isoformat(timespec="milliseconds"),
        "in_flight_until": iso(in_flight_until),
    }
