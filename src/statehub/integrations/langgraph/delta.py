"""``get_delta_channel_history``: a channel's writes along the parent chain, and its seed.

The walk LangGraph's base class makes through ``get_tuple``, on the saver's records
directly: each ancestor is read once (from the head, or from one replay of the
thread's history) and only the requested channels are decoded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import DeltaChannelHistory, PendingWrite

from statehub.integrations.langgraph.records import sorted_writes, stored_version, visible
from statehub.integrations.langgraph.serialization import from_json

if TYPE_CHECKING:
    from statehub.integrations.langgraph.saver import StatehubSaver

__all__ = ["delta_history"]


def delta_history(
    saver: StatehubSaver, config: RunnableConfig, channels: Sequence[str]
) -> Mapping[str, DeltaChannelHistory]:
    """Per channel, the writes on the parent chain back to a stored value (its seed)."""
    if not channels:
        return {}
    conf = config["configurable"]
    key = saver.thread_key(conf["thread_id"], conf.get("checkpoint_ns", ""))
    target, head = saver._record(key, conf.get("checkpoint_id"))
    collected: dict[str, list[PendingWrite]] = {c: [] for c in channels}
    seeds: dict[str, Any] = {}
    remaining = set(channels)
    records: dict[str, dict[str, Any]] | None = None
    parent = target["p"] if target else None
    while parent is not None and remaining:
        if head is not None and parent == head["id"]:
            record = head
        else:
            records = saver._replay(key) if records is None else records
            record = records.get(parent)
            if record is None or not visible(head, parent):
                break
        for write in reversed(sorted_writes(saver._writes_of(key, record))):
            if write[1] in remaining:
                collected[write[1]].append((write[0], write[1], from_json(saver.serde, write[2])))
        stored = set(record["in"]) | set(record["ex"])
        for channel in [c for c in remaining if c in stored]:
            if channel in record["in"]:
                seeds[channel] = from_json(saver.serde, record["in"][channel])
            else:
                seeds[channel] = saver._channels.load(
                    saver.agent, key, channel, stored_version(record, channel)
                )
            remaining.discard(channel)
        parent = record["p"]
    result: dict[str, DeltaChannelHistory] = {}
    for channel in channels:
        entry: DeltaChannelHistory = {"writes": list(reversed(collected[channel]))}
        if channel in seeds:
            entry["seed"] = seeds[channel]
        result[channel] = entry
    return result
