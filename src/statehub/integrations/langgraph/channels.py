"""Channel values: each version stored once, append-only lists as their new tail.

A checkpoint record keeps small channel values inline. A larger value is stored once
per channel version, at ``<thread key>/v/<channel>/<version>``, as
``{"f": value}`` (full) or ``{"b": base_version, "t": tail}`` when it is a list that
extends a stored version of the same channel (``operator.add`` on lists,
``add_messages`` appending): a growing message list then costs what is appended,
not its whole length at every step. A full value is written again once the tails
since the last one outweigh it :data:`TAIL_RATIO` times, so a cold read replays a
bounded chain (geometric spacing: total bytes stay O(final size)).

Versions are immutable once written (the saver's versions are unique), so the
latest list of each channel is cached in memory and appending to it needs no read.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson
from langgraph.checkpoint.serde.base import SerializerProtocol

from statehub.errors import BackendError
from statehub.hub import Agent
from statehub.integrations.langgraph.naming import escape
from statehub.integrations.langgraph.serialization import from_json, to_json

__all__ = ["INLINE_LIMIT", "TAIL_RATIO", "ChannelStore", "Stored"]

INLINE_LIMIT = 256
"""Encoded values up to this many bytes are kept inline in the checkpoint record."""

TAIL_RATIO = 3
"""How many times its last full value the tails of a list may weigh before it is
written whole again. Full values then grow 4x apart: about 0.7x the final size in
all, on average over list lengths, against 1.4x when they grow 2x apart; a cold read
replays at most 3x the value's size in tails (rows it reads in one scan anyway)."""

_CACHED_CHANNELS = 256

_LISTING = "\x00listing"
"""Marks a memo shared by a listing: its old versions are not worth caching."""


@dataclass(slots=True)
class _Latest:
    """The newest list stored for one channel of one thread namespace."""

    version: str
    value: list[Any]
    full_size: int
    since_full: int


@dataclass(slots=True)
class Stored:
    """How one channel of a checkpoint is stored: inline JSON, or rows to write.

    ``alias`` names an earlier stored version with the very same value: the new
    version then needs no row (LangGraph bumps a list's version when a step adds
    nothing to it).
    """

    inline: Any
    is_inline: bool
    rows: dict[str, Any]
    alias: str | None = None


def version_text(version: Any) -> str:
    """A channel version (``int``, ``float`` or ``str``) as text for a key."""
    return version if isinstance(version, str) else repr(version)


def _starts_with(value: list[Any], prefix: list[Any]) -> bool:
    # List equality runs in C and takes an item that *is* the other as equal without
    # comparing it: LangGraph's reducers build the new list from the old one's items.
    return len(value) >= len(prefix) and value[: len(prefix)] == prefix


class ChannelStore:
    """Plans and reads channel values of one saver (thread-safe)."""

    def __init__(self, serde: SerializerProtocol) -> None:
        self.serde = serde
        self._latest: OrderedDict[tuple[str, str], _Latest] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def channel_prefix(thread_key: str, channel: str) -> str:
        """The prefix of every stored version of ``channel`` under ``thread_key``."""
        return f"{thread_key}/v/{escape(channel)}/"

    def _remember(self, thread_key: str, channel: str, latest: _Latest) -> None:
        with self._lock:
            self._latest[(thread_key, channel)] = latest
            self._latest.move_to_end((thread_key, channel))
            while len(self._latest) > _CACHED_CHANNELS:
                self._latest.popitem(last=False)

    def _cached(self, thread_key: str, channel: str) -> _Latest | None:
        with self._lock:
            return self._latest.get((thread_key, channel))

    def forget(self, thread_prefix: str) -> None:
        """Drop what is cached for keys under ``thread_prefix`` (after deletes, copies)."""
        with self._lock:
            for cached in [k for k in self._latest if k[0].startswith(thread_prefix)]:
                del self._latest[cached]

    def plan(self, thread_key: str, channel: str, version: Any, value: Any) -> Stored:
        """How to store ``value`` as ``channel``'s new ``version``."""
        vtext = version_text(version)
        key = self.channel_prefix(thread_key, channel) + escape(vtext)
        cached = self._cached(thread_key, channel)
        if cached is not None and cached.version == vtext:
            return Stored(None, False, {})  # this very version is stored already
        if type(value) is list and cached is not None and _starts_with(value, cached.value):
            if len(value) == len(cached.value):
                return Stored(None, False, {}, alias=cached.version)
            tail = to_json(self.serde, value[len(cached.value) :])
            size = len(orjson.dumps(tail))
            if cached.since_full + size <= TAIL_RATIO * cached.full_size:
                self._remember(
                    thread_key,
                    channel,
                    _Latest(vtext, list(value), cached.full_size, cached.since_full + size),
                )
                return Stored(None, False, {key: {"b": cached.version, "t": tail}})
        encoded = to_json(self.serde, value)
        size = len(orjson.dumps(encoded))
        if size <= INLINE_LIMIT:
            return Stored(encoded, True, {})
        if type(value) is list:
            self._remember(thread_key, channel, _Latest(vtext, list(value), size, 0))
        return Stored(None, False, {key: {"f": encoded}})

    def load(
        self,
        agent: Agent,
        thread_key: str,
        channel: str,
        version: Any,
        memo: dict[str, Any] | None = None,
    ) -> Any:
        """The value of ``channel`` at ``version`` (a copy), from the cache or the hub.

        Args:
            agent: reads the rows.
            thread_key: the thread namespace's key.
            channel: the channel.
            version: its version.
            memo: shared by the loads of one listing, so that the rows of a channel
                are read once and each version rebuilt once.
        """
        vtext = version_text(version)
        cached = self._cached(thread_key, channel)
        if cached is not None and cached.version == vtext:
            return list(cached.value)
        if memo is None:
            memo = {}
        elif _LISTING not in memo:
            memo[_LISTING] = True
        prefix = self.channel_prefix(thread_key, channel)
        rows = memo.get(prefix)
        if rows is None:
            rows = memo[prefix] = agent.scan(prefix)
        chain: list[tuple[str, Any]] = []
        wanted = vtext
        while prefix + wanted not in memo:
            row = rows.get(prefix + escape(wanted))
            if row is None:
                raise BackendError(
                    f"channel {channel!r} version {wanted!r} is missing under {thread_key!r}"
                )
            chain.append((wanted, row))
            if "b" not in row:
                break
            wanted = row["b"]
        value: Any = None
        if prefix + wanted in memo:
            value = memo[prefix + wanted]
        for name, row in reversed(chain):
            if "b" in row:
                value = [*value, *from_json(self.serde, row["t"])]
            else:
                value = from_json(self.serde, row["f"])
            memo[prefix + name] = value
        if type(value) is not list:
            return value
        if not memo.get(_LISTING):
            # The next append extends this version; its size starts a new budget
            # for the tails (a cold read: encoding it once is affordable).
            size = len(orjson.dumps(to_json(self.serde, value)))
            self._remember(thread_key, channel, _Latest(vtext, list(value), size, 0))
        return list(value)
