"""``StatehubSaver``: a LangGraph checkpointer on any statehub hub.

Each thread namespace is one key, ``<root>/<thread>/<namespace>``, whose value is the
thread's latest checkpoint (see :mod:`.records`); every put replaces it with a
compare on the version the run started from, so the key's statehub history *is*
the chain of checkpoints, one change per checkpoint, and a second run writing
the thread at the same time gets :class:`ThreadConflict` instead of a silent fork.
Large channel values are stored once per version, a growing list as its new tail
(see :mod:`.channels`). Every hub call runs on the saver's own small thread pool
(see :mod:`.workers`).

>>> with StatehubSaver.from_url("memory://") as saver:
...     stored = saver.put(
...         {"configurable": {"thread_id": "t1", "checkpoint_ns": ""}},
...         {"v": 1, "id": "1", "ts": "", "channel_values": {"log": ["start"]},
...          "channel_versions": {"log": 1}, "versions_seen": {}},
...         {"step": 0}, {"log": 1})
...     saver.get_tuple(stored).checkpoint["channel_values"]
{'log': ['start']}
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

import orjson
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
    get_serializable_checkpoint_metadata,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from statehub.errors import ConflictError
from statehub.hub import Hub
from statehub.integrations.langgraph import maintenance
from statehub.integrations.langgraph.attached import OnHub
from statehub.integrations.langgraph.channels import ChannelStore
from statehub.integrations.langgraph.delta import delta_history
from statehub.integrations.langgraph.errors import ThreadConflict
from statehub.integrations.langgraph.naming import check_root, escape, joined, unescape
from statehub.integrations.langgraph.records import (
    CARRIED,
    extra_fields,
    merge_writes,
    sorted_writes,
    stored_version,
    visible,
)
from statehub.integrations.langgraph.serialization import from_json, to_json
from statehub.patch import apply_patch

__all__ = ["BRANCH_MARK", "DEFAULT_ROOT", "StatehubSaver"]

DEFAULT_ROOT = "global/langgraph"
"""Where a saver keeps its threads unless told otherwise."""

_BRANCHING = ("fork", "update")

BRANCH_MARK = "__statehub_branch__"
"""Set in the config of a checkpoint loaded by id that is not its thread's head."""

_RETRIES = 100

_KNOWN_HEADS = 1024
"""How many thread heads a saver remembers (to compare writes on without a read)."""

_WAIT_FOR_PUT = 0.5
"""How long writes wait at most (then look again) for a commit under way."""

_EARLY_LIMIT = 1024
"""Checkpoints whose writes a saver holds for their put, at most (then stored beside)."""


class _NotYet(Exception):
    """Writes for a checkpoint whose put is committing at this moment."""


def _merge_side(state: Any, action: Any) -> Any:
    return merge_writes(state or [], action)


def _copy(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value))


class StatehubSaver(OnHub, BaseCheckpointSaver[str]):
    """A LangGraph checkpointer that stores threads in a statehub hub.

    Args:
        hub: an open hub, or its URL (the saver then opens it and closes it on
            :meth:`close`).
        agent: the agent the saver writes as (shown in the hub's history).
        root: the prefix of every key the saver writes; under ``agent/<name>/``
            the threads are private to that agent.
        serde: LangGraph's serializer for values that are not plain JSON.
        workers: how many threads make the saver's hub calls (and hold its
            connections); by default 1 on SQLite (one writer at a time: more threads
            would only contend for its lock), else 4.
    """

    def __init__(
        self,
        hub: Hub | str,
        *,
        agent: str = "langgraph",
        root: str = DEFAULT_ROOT,
        serde: SerializerProtocol | None = None,
        workers: int | None = None,
    ) -> None:
        super().__init__(serde=serde)
        self.root = check_root(root)
        self._attach(hub, agent, workers, "statehub-langgraph")
        self._channels = ChannelStore(self.serde)
        self._head_moved = threading.Condition()
        self._generation = 0
        self._known: OrderedDict[str, tuple[dict[str, Any], int]] = OrderedDict()
        self._early: dict[str, tuple[str, list[list[list[Any]]]]] = {}
        self._stripes = [threading.Lock() for _ in range(64)]
        self._taken: set[str] = set()
        self._known_lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **options: Any) -> StatehubSaver:
        """A saver on the hub at ``url``, which it closes with itself.

        >>> with StatehubSaver.from_url("memory://") as saver:
        ...     saver.root
        'global/langgraph'
        """
        return cls(url, **options)

    def close(self) -> None:
        """Store writes still waiting for their checkpoint, stop the threads, close.

        The hub is closed only if the saver opened it.
        """
        with self._head_moved:
            orphans, self._early = self._early, {}
        for checkpoint_id, (key, batches) in orphans.items():
            self._workers.run(self._store_beside, key, checkpoint_id, batches)
        super().close()

    # -- names -------------------------------------------------------------------

    def thread_key(self, thread_id: str, checkpoint_ns: str = "") -> str:
        """The key holding the latest checkpoint of a thread namespace."""
        return joined(self.root, str(thread_id), checkpoint_ns, what="thread id")

    def _thread_prefix(self, thread_id: str) -> str:
        return joined(self.root, str(thread_id), what="thread id") + "/"

    def _namespace_keys(self, thread_id: str | None) -> list[str]:
        """Every thread namespace key of one thread (or of every thread)."""
        prefix = self.root + "/" if thread_id is None else self._thread_prefix(thread_id)
        depth = prefix.count("/") + (1 if thread_id is None else 0)
        return [e.key for e in self.agent.entries(prefix) if e.key.count("/") == depth]

    def _ids(self, key: str) -> tuple[str, str]:
        thread, namespace = key[len(self.root) + 1 :].split("/")
        return unescape(thread), unescape(namespace)

    def get_next_version(self, current: str | None, channel: None) -> str:
        """A version greater than ``current``, unique to this write (so never reused)."""
        if current is None:
            number = 0
        elif isinstance(current, str):
            number = int(current.split(".", 1)[0])
        else:
            number = int(current)
        return f"{number + 1:010d}.{random.getrandbits(32):08x}"

    # -- reading -----------------------------------------------------------------

    def _head(self, key: str) -> tuple[dict[str, Any] | None, int]:
        """The head record of a thread namespace and its version, read now."""
        entry = self.agent.entry(key)
        if entry is None:
            self._remember_head(key, None, 0)
            return None, 0
        value: dict[str, Any] = entry.value
        self._remember_head(key, value, entry.version)
        return value, entry.version

    def _known_head(self, key: str) -> tuple[dict[str, Any] | None, int]:
        """The head as this saver last read or wrote it (writes compare on its version)."""
        with self._known_lock:
            known = self._known.get(key)
        return known if known is not None else self._head(key)

    def _remember_head(self, key: str, record: dict[str, Any] | None, version: int) -> None:
        with self._known_lock:
            if record is None:
                self._known.pop(key, None)
                return
            self._known[key] = (record, version)
            self._known.move_to_end(key)
            while len(self._known) > _KNOWN_HEADS:
                self._known.popitem(last=False)

    def _forget(self, prefix: str) -> None:
        """Drop what is cached about keys under ``prefix`` (after deletes and rewrites)."""
        with self._known_lock:
            for key in [k for k in self._known if k.startswith(prefix)]:
                del self._known[key]
        self._channels.forget(prefix)

    def _replay(self, key: str) -> dict[str, dict[str, Any]]:
        """Every checkpoint in the key's history since it was last created: id -> record.

        A checkpoint's record is its last version (with the writes added after it).
        """
        found: dict[str, dict[str, Any]] = {}
        value: Any = None
        for change in self.agent.history(key=key):
            value = apply_patch(value, change.patch)
            if value is None:
                found = {}
            else:
                found[value["id"]] = _copy(value)
        return found

    def _writes_of(self, key: str, record: dict[str, Any]) -> list[Any]:
        """The record's pending writes, with any stored before it became the head."""
        side = self.agent.get(f"{key}/w/{escape(record['id'])}")
        own: list[Any] = record.get("w") or []
        return merge_writes(own, side) if side else list(own)

    def _tuple(
        self, key: str, record: dict[str, Any], memo: dict[str, Any] | None = None
    ) -> CheckpointTuple:
        thread_id, namespace = self._ids(key)
        values = {ch: from_json(self.serde, v) for ch, v in record["in"].items()}
        for channel in record["ex"]:
            version = stored_version(record, channel)
            values[channel] = self._channels.load(self.agent, key, channel, version, memo)
        checkpoint: dict[str, Any] = {
            "v": record["v"],
            "id": record["id"],
            "ts": record["ts"],
            "channel_values": values,
            "channel_versions": dict(record["cv"]),
            "versions_seen": record["vs"],
        }
        checkpoint.update(from_json(self.serde, record.get("x") or {}))
        pending = [
            (w[0], w[1], from_json(self.serde, w[2]))
            for w in sorted_writes(self._writes_of(key, record))
        ]

        def config(checkpoint_id: str) -> RunnableConfig:
            return {
                "configurable": {
                    "thread_id": thread_id,
                    "checkpoint_ns": namespace,
                    "checkpoint_id": checkpoint_id,
                }
            }

        return CheckpointTuple(
            config=config(record["id"]),
            checkpoint=checkpoint,  # type: ignore[arg-type]
            metadata=from_json(self.serde, record["m"]),
            parent_config=config(record["p"]) if record["p"] else None,
            pending_writes=pending,
        )

    def _record(self, key: str, checkpoint_id: str | None) -> tuple[Any, Any]:
        """(record, head) of a checkpoint (the head without an id); ``None``s if absent."""
        head, _ = self._head(key)
        if head is None or checkpoint_id is None or head["id"] == checkpoint_id:
            return head, head
        if not visible(head, checkpoint_id):
            return None, head
        return self._replay(key).get(checkpoint_id), head

    def _get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        conf = config["configurable"]
        key = self.thread_key(conf["thread_id"], conf.get("checkpoint_ns", ""))
        record, head = self._record(key, conf.get("checkpoint_id"))
        if record is None:
            return None
        found = self._tuple(key, record)
        if record is not head:
            # A run that starts from an older checkpoint branches on purpose: its
            # puts carry this mark (LangGraph merges the config it loads into them).
            found.config["configurable"][BRANCH_MARK] = True
        return found

    def _list(
        self,
        config: RunnableConfig | None,
        filter: dict[str, Any] | None,
        before: RunnableConfig | None,
        limit: int | None,
    ) -> list[CheckpointTuple]:
        conf: dict[str, Any] = dict(config["configurable"]) if config else {}
        if "thread_id" in conf and conf.get("checkpoint_ns") is not None:
            keys = [self.thread_key(conf["thread_id"], conf["checkpoint_ns"])]
        else:
            keys = self._namespace_keys(conf.get("thread_id"))
        wanted_id = conf.get("checkpoint_id")
        before_id = before["configurable"].get("checkpoint_id") if before else None
        found: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = []
        for key in keys:
            head, _ = self._head(key)
            if head is None:
                continue
            for checkpoint_id, record in self._replay(key).items():
                if not visible(head, checkpoint_id):
                    continue
                if wanted_id is not None and checkpoint_id != wanted_id:
                    continue
                if before_id is not None and checkpoint_id >= before_id:
                    continue
                if filter:
                    metadata = from_json(self.serde, record["m"])
                    if any(metadata.get(k) != v for k, v in filter.items()):
                        continue
                found.append((checkpoint_id, key, record, head))
        found.sort(key=lambda item: item[0], reverse=True)
        if limit is not None:
            found = found[:limit]
        memo: dict[str, Any] = {}
        return [self._tuple(key, record, memo) for _, key, record, _ in found]

    # -- writing -----------------------------------------------------------------

    def _check_parent(
        self,
        key: str,
        conf: Mapping[str, Any],
        parent: str | None,
        head: dict[str, Any] | None,
        version: int,
        metadata: CheckpointMetadata,
    ) -> None:
        """Refuse a put that would fork the thread silently (see :class:`ThreadConflict`).

        A put continues its parent, which must still be the thread's head; a fork, a
        state update (metadata ``source`` ``"fork"`` / ``"update"``) or a run that
        loaded an older checkpoint by its id (its config carries :data:`BRANCH_MARK`)
        may branch off an older checkpoint. A run on an empty thread writes a root at step -1: if
        the thread has a head by then, another run created it meanwhile. Other roots
        (written by hand) are taken as they come.
        """
        if head is None:
            return
        if parent is None:
            clash = metadata.get("step") == -1 and metadata.get("source") == "input"
        else:
            branching = metadata.get("source") in _BRANCHING or conf.get(BRANCH_MARK)
            clash = head["id"] != parent and not branching
        if clash:
            raise ThreadConflict(
                key,
                version,
                version,
                thread_id=str(conf["thread_id"]),
                checkpoint_ns=conf.get("checkpoint_ns", ""),
                parent_id=parent,
                head_id=head["id"],
            )

    def _lock_for(self, key: str) -> threading.Lock:
        """The lock that orders this saver's writes to one thread namespace.

        A put and the writes of the step before it would otherwise race for the
        same head record and retry on each other's commits.
        """
        return self._stripes[hash(key) % len(self._stripes)]

    def _put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        conf = config["configurable"]
        key = self.thread_key(str(conf["thread_id"]), conf.get("checkpoint_ns", ""))
        with self._lock_for(key):
            return self._put_locked(config, checkpoint, metadata, new_versions)

    def _put_locked(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        conf = config["configurable"]
        thread_id, namespace = str(conf["thread_id"]), conf.get("checkpoint_ns", "")
        parent = conf.get("checkpoint_id")
        key = self.thread_key(thread_id, namespace)
        head, version = self._known_head(key)
        try:
            self._check_parent(key, conf, parent, head, version, metadata)
        except ThreadConflict:
            head, version = self._head(key)  # what this saver knew may be stale
            self._check_parent(key, conf, parent, head, version, metadata)
        if head is None:
            self._channels.forget(key + "/")
        versions = checkpoint["channel_versions"]
        head_versions = head["cv"] if head else {}
        inline: dict[str, Any] = {}
        external: list[str] = []
        aliases: dict[str, str] = {}
        rows: dict[str, Any] = {}
        for channel, value in checkpoint["channel_values"].items():
            channel_version = versions.get(channel)
            if (
                channel not in new_versions
                and head
                and head_versions.get(channel) == channel_version
            ):
                if channel in head["in"]:
                    inline[channel] = head["in"][channel]
                    continue
                if channel in head["ex"]:
                    external.append(channel)
                    if channel in head.get("al", {}):
                        aliases[channel] = head["al"][channel]
                    continue
            if channel_version is None:
                inline[channel] = to_json(self.serde, value)
                continue
            stored = self._channels.plan(key, channel, channel_version, value)
            if stored.is_inline:
                inline[channel] = stored.inline
            else:
                external.append(channel)
                rows.update(stored.rows)
                if stored.alias is not None:
                    aliases[channel] = stored.alias
        record: dict[str, Any] = {
            "id": checkpoint["id"],
            "ts": checkpoint["ts"],
            "v": checkpoint["v"],
            "p": parent,
            "cv": dict(versions),
            "vs": checkpoint["versions_seen"],
            "m": to_json(self.serde, get_serializable_checkpoint_metadata(config, metadata)),
            "in": inline,
            "ex": external,
            "w": [],
        }
        if aliases:
            record["al"] = aliases
        extra = extra_fields(dict(checkpoint))
        if extra:
            record["x"] = to_json(self.serde, extra)
        try:
            self._commit_head(key, record, rows, head, version, thread_id, namespace, parent)
        except BaseException:
            # What was planned for these channels was never stored: build on rows only.
            self._channels.forget(key + "/")
            raise
        return {
            "configurable": {
                "thread_id": thread_id,
                "checkpoint_ns": namespace,
                "checkpoint_id": checkpoint["id"],
            }
        }

    def _commit_head(
        self,
        key: str,
        record: dict[str, Any],
        rows: dict[str, Any],
        head: dict[str, Any] | None,
        version: int,
        thread_id: str,
        namespace: str,
        parent: str | None,
    ) -> None:
        """Write ``record`` as the head, compared on the head the put read.

        Writes for this checkpoint that arrived before it (LangGraph stores a step's
        writes while the checkpoint they belong to is still being put) are committed
        with it. Writes added to the head meanwhile only move its version: the put
        is retried on it. Any other head means another run.
        """
        checkpoint_id = record["id"]
        with self._head_moved:
            _, early = self._early.pop(checkpoint_id, (key, []))
            self._taken.add(checkpoint_id)
        try:
            for writes in early:
                record["w"] = merge_writes(record["w"], writes)
            self._commit_record(key, record, rows, head, version, thread_id, namespace, parent)
        finally:
            with self._head_moved:
                self._taken.discard(checkpoint_id)
                self._generation += 1
                self._head_moved.notify_all()

    def _commit_record(
        self,
        key: str,
        record: dict[str, Any],
        rows: dict[str, Any],
        head: dict[str, Any] | None,
        version: int,
        thread_id: str,
        namespace: str,
        parent: str | None,
    ) -> None:
        for _ in range(_RETRIES):
            for field in CARRIED:
                record.pop(field, None)
                if head and field in head:
                    record[field] = head[field]
            try:
                with self.agent.transaction() as tx:
                    tx.put(key, record, expect_version=version, label=record["id"])
                    for row_key, row in rows.items():
                        tx.put(row_key, row)
                self._remember_head(key, record, version + 1)
                return
            except ConflictError as exc:
                if exc.key != key or isinstance(exc, ThreadConflict):
                    raise
                now, version = self._head(key)
                if now is None or head is None or now["id"] != head["id"]:
                    raise ThreadConflict(
                        key,
                        exc.expected,
                        exc.actual,
                        thread_id=thread_id,
                        checkpoint_ns=namespace,
                        parent_id=parent,
                        head_id=now["id"] if now else None,
                    ) from None
                head = now
        raise ConflictError(key, version, version, f"gave up after {_RETRIES} attempts")

    def _put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str,
    ) -> None:
        conf = config["configurable"]
        key = self.thread_key(conf["thread_id"], conf.get("checkpoint_ns", ""))
        with self._lock_for(key):
            self._put_writes_locked(config, writes, task_id, task_path)

    def _put_writes_locked(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str,
    ) -> None:
        """Add writes to their checkpoint's record (a compare-and-set put, retried).

        Writes for a checkpoint newer than the thread's head, whose put is still to
        come, are handed to that put: they become durable with their checkpoint, as
        they are meaningless without it. Writes for an older checkpoint are kept
        beside it, at ``<thread key>/w/<checkpoint id>``.

        Raises:
            _NotYet: the checkpoint's put is committing right now; try again after.
        """
        conf = config["configurable"]
        key = self.thread_key(conf["thread_id"], conf.get("checkpoint_ns", ""))
        checkpoint_id = conf["checkpoint_id"]
        new = [
            [
                task_id,
                channel,
                to_json(self.serde, value),
                task_path,
                WRITES_IDX_MAP.get(channel, i),
            ]
            for i, (channel, value) in enumerate(writes)
        ]
        with self._head_moved:
            generation = self._generation  # a put committed after this: look again
        head, version = self._known_head(key)
        for _ in range(_RETRIES):
            if head is None or head["id"] != checkpoint_id:
                head, version = self._head(key)
            if head is None or head["id"] != checkpoint_id:
                if head is None or checkpoint_id > head["id"]:
                    self._hand_to_put(key, checkpoint_id, new, generation)
                    return
                side = f"{key}/w/{escape(checkpoint_id)}"
                self.agent.dispatch(side, new, reducer=_merge_side, label=checkpoint_id)
                return
            merged = merge_writes(head["w"], new)
            if merged == head["w"]:
                return
            record = {**head, "w": merged}
            try:
                self.agent.put(key, record, expect_version=version, label=checkpoint_id)
            except ConflictError:
                head, version = self._head(key)
                continue
            self._remember_head(key, record, version + 1)
            return
        raise ConflictError(key, version, version, f"gave up after {_RETRIES} attempts")

    def _hand_to_put(
        self, key: str, checkpoint_id: str, writes: list[list[Any]], generation: int
    ) -> None:
        """Keep writes for the put of their checkpoint (see :meth:`_put_writes`).

        Raises:
            _NotYet: the put is committing, or a put committed since ``generation``
                (when the caller read the head): it may have been this one.
        """
        overflow: list[tuple[str, tuple[str, list[list[Any]]]]] = []
        with self._head_moved:
            if checkpoint_id in self._taken or self._generation != generation:
                raise _NotYet
            self._early.setdefault(checkpoint_id, (key, []))[1].append(writes)
            while len(self._early) > _EARLY_LIMIT:
                oldest = next(iter(self._early))
                overflow.append((oldest, self._early.pop(oldest)))
        for orphan, (orphan_key, batches) in overflow:
            self._store_beside(orphan_key, orphan, batches)

    def _store_beside(self, key: str, checkpoint_id: str, batches: list[list[list[Any]]]) -> None:
        """Writes whose checkpoint was never put by this saver: kept beside it."""
        side = f"{key}/w/{escape(checkpoint_id)}"
        for writes in batches:
            self.agent.dispatch(side, writes, reducer=_merge_side, label=checkpoint_id)

    def _put_writes_when_ready(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str,
    ) -> None:
        """:meth:`_put_writes`, after the commit of their checkpoint if one is under way."""
        while True:
            with self._head_moved:
                generation = self._generation
            try:
                self._workers.run(self._put_writes, config, writes, task_id, task_path)
                return
            except _NotYet:
                pass
            with self._head_moved:
                self._head_moved.wait_for(
                    lambda g=generation: self._generation != g,  # type: ignore[misc]
                    _WAIT_FOR_PUT,
                )

    # -- LangGraph's interface, sync ---------------------------------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint ``config`` names (its thread's latest without an id), or ``None``."""
        return self._workers.run(self._get_tuple, config)

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Checkpoints matching ``config`` (a thread, a namespace), newest first."""
        yield from self._workers.run(self._list, config, filter, before, limit)

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store a checkpoint as its thread's new head.

        Raises:
            ThreadConflict: another run wrote the thread since this one read it.
        """
        return self._workers.run(self._put, config, checkpoint, metadata, new_versions)

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store a task's pending writes with the checkpoint ``config`` names."""
        self._put_writes_when_ready(config, writes, task_id, task_path)

    def delete_thread(self, thread_id: str) -> None:
        """Delete every checkpoint and write of a thread (statehub's history keeps them)."""
        self._workers.run(maintenance.delete_thread, self, thread_id)

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the checkpoints (and their writes) made by the given runs."""
        self._workers.run(maintenance.delete_for_runs, self, run_ids)

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy every checkpoint and write of a thread into another (replacing it)."""
        self._workers.run(maintenance.copy_thread, self, source_thread_id, target_thread_id)

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Keep only each namespace's latest checkpoint (``"keep_latest"``), or none."""
        self._workers.run(maintenance.prune, self, thread_ids, strategy)

    def get_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        """Per channel, the writes on the parent chain back to a stored value (its seed)."""
        return self._workers.run(delta_history, self, config, channels)

    # -- LangGraph's interface, async --------------------------------------------

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Async :meth:`get_tuple`."""
        return await self._workers.arun(self._get_tuple, config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """Async :meth:`list`."""
        for item in await self._workers.arun(self._list, config, filter, before, limit):
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Async :meth:`put`."""
        return await self._workers.arun(self._put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Async :meth:`put_writes`."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(
            None, self._put_writes_when_ready, config, writes, task_id, task_path
        )

    async def adelete_thread(self, thread_id: str) -> None:
        """Async :meth:`delete_thread`."""
        await self._workers.arun(maintenance.delete_thread, self, thread_id)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Async :meth:`delete_for_runs`."""
        await self._workers.arun(maintenance.delete_for_runs, self, run_ids)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Async :meth:`copy_thread`."""
        await self._workers.arun(maintenance.copy_thread, self, source_thread_id, target_thread_id)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Async :meth:`prune`."""
        await self._workers.arun(maintenance.prune, self, thread_ids, strategy)

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        """Async :meth:`get_delta_channel_history`."""
        return await self._workers.arun(delta_history, self, config, channels)
