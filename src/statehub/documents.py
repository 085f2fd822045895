"""The JSON forms of statehub's objects, as the HTTP API sends them.

One function per kind; the server's routes send these documents and the CLI's
``--json`` documents (:mod:`statehub.cli.documents`) are these plus ISO 8601 times.
Plain dicts of JSON values (times in seconds since the epoch): no pydantic, no
FastAPI, so any part of statehub may use them. The server's response models
(:mod:`statehub.server.wire`) document the same shapes.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

from statehub.diff import Diff
from statehub.locks import LockState
from statehub.mailbox import Message
from statehub.model import Change, Checkpoint, Entry
from statehub.tasks import Task

__all__ = [
    "change_json",
    "checkpoint_json",
    "diff_json",
    "entry_json",
    "lease_json",
    "lock_json",
    "message_json",
    "task_json",
]


def entry_json(entry: Entry) -> dict[str, Any]:
    """An entry: key, value and metadata (``EntryModel`` in the API)."""
    return {
        "key": entry.key,
        "value": entry.value,
        "version": entry.version,
        "created_rev": entry.created_rev,
        "modified_rev": entry.modified_rev,
        "updated_by": entry.updated_by,
        "updated_ts": entry.updated_ts,
        "expires_ts": entry.expires_ts,
        "owner": entry.owner,
    }


def change_json(change: Change) -> dict[str, Any]:
    """One row of the audit log (``ChangeModel`` in the API)."""
    return asdict(change)


def checkpoint_json(checkpoint: Checkpoint) -> dict[str, Any]:
    """A checkpoint: name, revision, agent, timestamp."""
    return asdict(checkpoint)


def diff_json(diff: Diff) -> dict[str, Any]:
    """A diff, with its rendering for people as ``lines``."""
    changed = {
        key: {"old": change.old, "new": change.new, "patch": change.patch}
        for key, change in diff.changed.items()
    }
    return {
        "a": diff.a,
        "b": diff.b,
        "prefix": diff.prefix,
        "added": diff.added,
        "removed": diff.removed,
        "changed": changed,
        "lines": diff.render(),
    }


def lease_json(key: str, holder: str, fence: int, expires_ts: float) -> dict[str, Any]:
    """A lease (or a lock as listed): key, holder, fencing token, expiry."""
    return {"key": key, "holder": holder, "fence": fence, "expires_ts": expires_ts}


def lock_json(lock: LockState) -> dict[str, Any]:
    """A held lock (see :func:`lease_json`)."""
    return lease_json(lock.key, lock.holder, lock.fence, lock.expires_ts)


def message_json(message: Message) -> dict[str, Any]:
    """A message (its time as ``sent_ts``, seconds since the epoch)."""
    return {
        "id": message.id,
        "sender": message.sender,
        "recipient": message.recipient,
        "body": message.body,
        "sent_ts": message.sent_at.timestamp(),
        "deliveries": message.deliveries,
        "kind": message.kind,
        "revision": message.revision,
    }


def task_json(task: Task) -> dict[str, Any]:
    """A task record as read: every field of :class:`~statehub.tasks.Task`."""
    return {field.name: getattr(task, field.name) for field in fields(task)}
