"""A checkpoint as a statehub record, and pending writes merged into it (pure).

The record of a thread namespace is one JSON object, the value of the key
``<root>/<thread>/<namespace>``; each put replaces it, so statehub's history of that
key is the thread's chain of checkpoints (one small JSON Patch per step)::

    {"id": ..., "ts": ..., "v": 1, "p": parent id or null,
     "cv": channel_versions, "vs": versions_seen, "x": {other checkpoint fields},
     "m": metadata, "in": {channel: value kept inline}, "ex": [channels in rows],
     "al": {channel: stored version} for a version equal to an earlier stored one,
     "w": [[task_id, channel, value, task_path, idx], ...],
     "floor": oldest visible id (after prune), "hidden": [ids deleted by run]}
"""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.base import WRITES_IDX_MAP, writes_sort_key

__all__ = [
    "CARRIED",
    "extra_fields",
    "merge_writes",
    "sorted_writes",
    "stored_version",
    "visible",
]

CARRIED = ("floor", "hidden")
"""Fields a new record inherits from the head it replaces."""

_BUILT_IN = frozenset({"id", "ts", "v", "channel_values", "channel_versions", "versions_seen"})


def extra_fields(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint's fields other than the ones the record keeps by name."""
    return {k: v for k, v in checkpoint.items() if k not in _BUILT_IN}


def merge_writes(existing: list[list[Any]], new: list[list[Any]]) -> list[list[Any]]:
    """LangGraph's rule for pending writes: ``(task_id, idx)`` is their identity.

    Writes to special channels (errors, interrupts...) replace the ones with the
    same identity; other writes are kept only if their identity is new (a retried
    task does not duplicate them).
    """
    replace = all(write[1] in WRITES_IDX_MAP for write in new)
    index = {(write[0], write[4]): i for i, write in enumerate(existing)}
    merged = list(existing)
    for write in new:
        at = index.get((write[0], write[4]))
        if at is None:
            index[(write[0], write[4])] = len(merged)
            merged.append(write)
        elif replace:
            merged[at] = write
    return merged


def visible(record: dict[str, Any], checkpoint_id: str) -> bool:
    """Whether ``checkpoint_id`` is still listed by the thread whose head is ``record``."""
    floor = record.get("floor")
    if floor is not None and checkpoint_id < floor:
        return False
    return checkpoint_id not in (record.get("hidden") or ())


def sorted_writes(writes: list[list[Any]]) -> list[list[Any]]:
    """Writes in the order live execution applies them (LangGraph's ``writes_sort_key``)."""
    return sorted(writes, key=lambda w: writes_sort_key(w[3], w[0], w[4]))


def stored_version(record: dict[str, Any], channel: str) -> Any:
    """The version whose row holds ``channel``'s value in ``record`` (see ``"al"``)."""
    return record.get("al", {}).get(channel, record["cv"][channel])
