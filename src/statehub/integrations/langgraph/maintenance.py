"""Deleting, copying and pruning a saver's threads (LangGraph's extended capabilities).

Statehub's history is append-only: what these remove stops being listed, and stays in
the hub's audit log until ``hub.compact()`` drops it. ``delete_for_runs`` and
``prune`` hide checkpoints in the head record (``hidden``, ``floor``; see
:mod:`.records`) and move the head to the newest one left.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from statehub.errors import InvalidArgument
from statehub.integrations.langgraph.records import CARRIED, visible
from statehub.integrations.langgraph.serialization import from_json

if TYPE_CHECKING:
    from statehub.integrations.langgraph.saver import StatehubSaver

__all__ = ["copy_thread", "delete_for_runs", "delete_namespace", "delete_thread", "prune"]


def delete_namespace(saver: StatehubSaver, key: str) -> None:
    """Delete a thread namespace: its head record, channel rows and side writes."""
    doomed = [key, *(e.key for e in saver.agent.entries(key + "/"))]
    with saver.agent.transaction() as tx:
        for row in doomed:
            tx.delete(row)
    saver._forget(key)


def delete_thread(saver: StatehubSaver, thread_id: str) -> None:
    """Delete every namespace of a thread."""
    for key in saver._namespace_keys(str(thread_id)):
        delete_namespace(saver, key)


def _rehead(
    saver: StatehubSaver,
    key: str,
    head: dict[str, Any],
    version: int,
    hidden: list[str],
    floor: str | None,
) -> None:
    """Make the newest checkpoint still visible the head, or delete the namespace."""
    marks = {"hidden": hidden, "floor": floor}
    survivors = {cid: record for cid, record in saver._replay(key).items() if visible(marks, cid)}
    if not survivors:
        delete_namespace(saver, key)
        return
    newest = survivors[max(survivors)]
    record = {**newest, "w": saver._writes_of(key, newest), "hidden": hidden}
    if floor is not None:
        record["floor"] = floor
    saver.agent.put(key, record, expect_version=version, label=newest["id"])
    saver._forget(key)


def delete_for_runs(saver: StatehubSaver, run_ids: Sequence[str]) -> None:
    """Hide the checkpoints the given runs made, in every thread."""
    runs = set(run_ids)
    if not runs:
        return
    for key in saver._namespace_keys(None):
        head, version = saver._head(key)
        if head is None:
            continue
        doomed = [
            cid
            for cid, record in saver._replay(key).items()
            if visible(head, cid) and from_json(saver.serde, record["m"]).get("run_id") in runs
        ]
        if doomed:
            hidden = sorted({*(head.get("hidden") or ()), *doomed})
            _rehead(saver, key, head, version, hidden, head.get("floor"))


def copy_thread(saver: StatehubSaver, source: str, target: str) -> None:
    """Replace ``target`` with a copy of ``source``: its rows, then its checkpoints in order."""
    delete_thread(saver, target)
    for key in saver._namespace_keys(str(source)):
        head, _ = saver._head(key)
        if head is None:
            continue
        namespace = saver._ids(key)[1]
        target_key = saver.thread_key(target, namespace)
        rows = {e.key: e.value for e in saver.agent.entries(key + "/")}
        with saver.agent.transaction() as tx:
            for row_key, row in rows.items():
                tx.put(target_key + row_key[len(key) :], row)
        records = saver._replay(key)
        for checkpoint_id in sorted(records):
            if not visible(head, checkpoint_id):
                continue
            record = {k: v for k, v in records[checkpoint_id].items() if k not in CARRIED}
            saver.agent.put(target_key, record, label=checkpoint_id)
        saver._forget(target_key)


def prune(saver: StatehubSaver, thread_ids: Sequence[str], strategy: str) -> None:
    """Keep each namespace's head only (``"keep_latest"``), or delete the threads."""
    if strategy not in ("keep_latest", "delete"):
        raise InvalidArgument(f"strategy must be 'keep_latest' or 'delete', not {strategy!r}")
    for thread_id in thread_ids:
        if strategy == "delete":
            delete_thread(saver, thread_id)
            continue
        for key in saver._namespace_keys(str(thread_id)):
            head, version = saver._head(key)
            if head is not None and head.get("floor") != head["id"]:
                record = {**head, "floor": head["id"], "hidden": []}
                saver.agent.put(key, record, expect_version=version, label=head["id"])
                saver._forget(key)
