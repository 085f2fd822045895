"""``StatehubStore``: LangGraph's long-term memory store on a statehub hub.

Each item is one key, ``<root>/<namespace label>/.../@<key>`` (labels and key
escaped, see :mod:`.naming`), whose value is ``{"ns", "key", "value", "created_at",
"updated_at", "ttl"}``. Every put is a statehub commit by the store's agent, so the
hub's history shows who stored what and when; a root under ``agent/<name>/`` makes
the memory private to that agent. TTLs are statehub's own: an expired item reads as
absent and is removed by a logged ``expire`` change; reads may renew it.

>>> with StatehubStore.from_url("memory://") as store:
...     store.put(("users", "u1"), "prefs", {"theme": "dark"})
...     store.get(("users", "u1"), "prefs").value
{'theme': 'dark'}
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.store.base import (
    NOT_PROVIDED,
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
)

from statehub.errors import ConflictError, InvalidArgument
from statehub.hub import Hub
from statehub.integrations.langgraph.attached import OnHub
from statehub.integrations.langgraph.filters import matches, namespace_matches
from statehub.integrations.langgraph.naming import check_root, escape, joined
from statehub.integrations.langgraph.serialization import from_json, to_json

__all__ = ["DEFAULT_STORE_ROOT", "StatehubStore"]

DEFAULT_STORE_ROOT = "global/langgraph-store"
"""Where a store keeps its items unless told otherwise."""

_ITEM = "@"
_RETRIES = 100


class StatehubStore(OnHub, BaseStore):
    """A LangGraph ``BaseStore`` whose items are statehub keys.

    Args:
        hub: an open hub, or its URL (opened here and closed by :meth:`close`).
        agent: the agent the store reads and writes as.
        root: the prefix of every item's key (``agent/<name>/memory`` for a private
            store).
        ttl: LangGraph's TTL settings: ``default_ttl`` (minutes) for puts that give
            none, ``refresh_on_read`` (default ``True``) to renew on reads.
        workers: how many threads make the store's hub calls (by default 1 on
            SQLite, else 4).
    """

    supports_ttl = True

    def __init__(
        self,
        hub: Hub | str,
        *,
        agent: str = "langgraph",
        root: str = DEFAULT_STORE_ROOT,
        ttl: TTLConfig | None = None,
        workers: int | None = None,
    ) -> None:
        self.root = check_root(root)
        self._attach(hub, agent, workers, "statehub-langgraph-store")
        self.ttl_config = ttl
        self._serde = JsonPlusSerializer()

    @classmethod
    def from_url(cls, url: str, **options: Any) -> StatehubStore:
        """A store on the hub at ``url``, which it closes with itself."""
        return cls(url, **options)

    # -- keys ----------------------------------------------------------------------

    def _prefix(self, namespace: tuple[str, ...]) -> str:
        if not namespace:
            return self.root + "/"
        return joined(self.root, *namespace, what="namespace") + "/"

    def _key(self, namespace: tuple[str, ...], key: str) -> str:
        item_key = self._prefix(namespace) + _ITEM + escape(key)
        return joined(item_key, what="item key")

    def _items(self, prefix: str) -> list[dict[str, Any]]:
        return [
            doc
            for key, doc in self.agent.scan(prefix).items()
            if key.rsplit("/", 1)[-1].startswith(_ITEM)
        ]

    # -- operations ----------------------------------------------------------------

    def _item(self, doc: dict[str, Any], cls: type[Item] = Item) -> Any:
        return cls(
            namespace=tuple(doc["ns"]),
            key=doc["key"],
            value=from_json(self._serde, doc["value"]),
            created_at=datetime.fromisoformat(doc["created_at"]),
            updated_at=datetime.fromisoformat(doc["updated_at"]),
        )

    def _refresh(self, key: str, doc: dict[str, Any], version: int) -> None:
        """Renew an item's TTL (a read that finds it changed meanwhile leaves it be)."""
        with contextlib.suppress(ConflictError):
            self.agent.put(key, doc, ttl=doc["ttl"] * 60, expect_version=version)

    def _get(self, op: GetOp) -> Item | None:
        key = self._key(op.namespace, op.key)
        entry = self.agent.entry(key)
        if entry is None:
            return None
        doc: dict[str, Any] = entry.value
        if op.refresh_ttl and doc.get("ttl"):
            self._refresh(key, doc, entry.version)
        item: Item = self._item(doc)
        return item

    def _put(self, op: PutOp) -> None:
        key = self._key(op.namespace, op.key)
        if op.value is None:
            self.agent.delete(key)
            return
        if not isinstance(op.value, dict):
            raise InvalidArgument(f"a store value must be a dict, not {type(op.value).__name__}")
        ttl = op.ttl
        if ttl is NOT_PROVIDED:  # type: ignore[comparison-overlap]
            ttl = (self.ttl_config or {}).get("default_ttl")
        now = datetime.now(UTC).isoformat()
        value = to_json(self._serde, dict(op.value))
        for _ in range(_RETRIES):
            entry = self.agent.entry(key)
            doc = {
                "ns": list(op.namespace),
                "key": op.key,
                "value": value,
                "created_at": entry.value["created_at"] if entry else now,
                "updated_at": now,
                "ttl": ttl,
            }
            try:
                self.agent.put(
                    key,
                    doc,
                    expect_version=entry.version if entry else 0,
                    ttl=None if ttl is None else ttl * 60,
                )
                return
            except ConflictError:
                continue
        raise ConflictError(key, 0, 0, f"gave up after {_RETRIES} attempts")

    def _search(self, op: SearchOp) -> list[SearchItem]:
        prefix = self._prefix(tuple(op.namespace_prefix))
        found = [
            doc
            for doc in self._items(prefix)
            if matches(from_json(self._serde, doc["value"]), op.filter)
        ]
        found.sort(key=lambda doc: (doc["updated_at"], doc["key"]), reverse=True)
        page = found[op.offset : op.offset + op.limit]
        if op.refresh_ttl:
            for doc in page:
                if doc.get("ttl"):
                    key = self._key(tuple(doc["ns"]), doc["key"])
                    entry = self.agent.entry(key)
                    if entry is not None:
                        self._refresh(key, entry.value, entry.version)
        return [self._item(doc, SearchItem) for doc in page]

    def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        namespaces = {tuple(doc["ns"]) for doc in self._items(self.root + "/")}
        for condition in op.match_conditions or ():
            namespaces = {
                ns
                for ns in namespaces
                if namespace_matches(ns, condition.match_type, condition.path)
            }
        if op.max_depth is not None:
            namespaces = {ns[: op.max_depth] for ns in namespaces}
        return sorted(namespaces)[op.offset : op.offset + op.limit]

    def _batch(self, ops: Iterable[Op]) -> list[Result]:
        results: list[Result] = []
        for op in ops:
            if isinstance(op, GetOp):
                results.append(self._get(op))
            elif isinstance(op, PutOp):
                self._put(op)
                results.append(None)
            elif isinstance(op, SearchOp):
                results.append(self._search(op))
            elif isinstance(op, ListNamespacesOp):
                results.append(self._list_namespaces(op))
            else:
                raise InvalidArgument(f"unknown store operation {type(op).__name__}")
        return results

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run store operations in order; one result per operation."""
        return self._workers.run(self._batch, list(ops))

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Async :meth:`batch`."""
        return await self._workers.arun(self._batch, list(ops))
