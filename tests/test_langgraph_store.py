"""StatehubStore: LangGraph's BaseStore semantics, TTL, agents in threads, privacy."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from langgraph.store.base import GetOp, ListNamespacesOp, MatchCondition, PutOp, SearchOp

import statehub
from statehub.integrations.langgraph import StatehubStore
from tests.conftest import postgres_url

HUBS: dict[str, Callable[[Path], str]] = {
    "memory": lambda tmp: "memory://",
    "sqlite": lambda tmp: f"sqlite:///{tmp}/hub.db",
    "postgres": lambda tmp: postgres_url(),
}


@pytest.fixture(params=sorted(HUBS))
def hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[statehub.Hub]:
    with statehub.open(HUBS[request.param](tmp_path)) as opened:
        yield opened


@pytest.fixture
def store(hub: statehub.Hub) -> Iterator[StatehubStore]:
    with StatehubStore(hub) as opened:
        yield opened


def test_put_get_update_delete(store: StatehubStore) -> None:
    store.put(("users", "u1"), "prefs", {"theme": "dark"})
    first = store.get(("users", "u1"), "prefs")
    assert first is not None
    assert first.value == {"theme": "dark"}
    assert first.namespace == ("users", "u1")
    store.put(("users", "u1"), "prefs", {"theme": "light"})
    second = store.get(("users", "u1"), "prefs")
    assert second is not None
    assert second.value == {"theme": "light"}
    assert second.created_at == first.created_at
    assert second.updated_at > first.updated_at
    store.delete(("users", "u1"), "prefs")
    assert store.get(("users", "u1"), "prefs") is None
    assert store.get(("users", "nobody"), "prefs") is None


def test_odd_namespaces_and_keys_round_trip(store: StatehubStore) -> None:
    odd = [(("a b", "é/ü"), "key with / and @"), (("=3D",), ""), (("x",), "..")]
    for namespace, key in odd:
        store.put(namespace, key, {"k": key})
    for namespace, key in odd:
        item = store.get(namespace, key)
        assert item is not None
        assert (item.namespace, item.key, item.value) == (namespace, key, {"k": key})
    assert sorted(store.list_namespaces()) == sorted({ns for ns, _ in odd})


def test_search_with_filters_limit_and_offset(store: StatehubStore) -> None:
    for n in range(6):
        store.put(("docs", "team"), f"d{n}", {"kind": "note" if n % 2 else "todo", "score": n})
    store.put(("docs", "other"), "o", {"kind": "note", "score": 100})
    store.put(("elsewhere",), "e", {"kind": "note", "score": 100})
    notes = store.search(("docs",), filter={"kind": "note"}, limit=10)
    assert sorted(item.key for item in notes) == ["d1", "d3", "d5", "o"]
    high = store.search(("docs", "team"), filter={"score": {"$gte": 3}, "kind": {"$ne": "todo"}})
    assert sorted(item.key for item in high) == ["d3", "d5"]
    everything = store.search(("docs",), limit=3)
    rest = store.search(("docs",), limit=10, offset=3)
    assert len(everything) == 3
    assert len(rest) == 4
    assert not {i.key for i in everything} & {i.key for i in rest}
    assert [item.key for item in everything] == ["o", "d5", "d4"]  # newest first


def test_list_namespaces_with_conditions(store: StatehubStore) -> None:
    for namespace in [("a", "b", "c"), ("a", "b", "d"), ("a", "x"), ("z", "b")]:
        store.put(namespace, "k", {"v": 1})
    assert store.list_namespaces(prefix=("a",)) == [("a", "b", "c"), ("a", "b", "d"), ("a", "x")]
    assert store.list_namespaces(suffix=("b",)) == [("z", "b")]
    assert store.list_namespaces(prefix=("a", "*", "c")) == [("a", "b", "c")]
    assert store.list_namespaces(max_depth=2) == [("a", "b"), ("a", "x"), ("z", "b")]
    assert store.list_namespaces(limit=2, offset=1) == [("a", "b", "d"), ("a", "x")]


def test_batch_runs_operations_in_order(store: StatehubStore) -> None:
    results = store.batch(
        [
            PutOp(("n",), "k", {"v": 1}),
            GetOp(("n",), "k"),
            PutOp(("n",), "k", None),
            GetOp(("n",), "k"),
            SearchOp(("n",)),
            ListNamespacesOp(match_conditions=(MatchCondition("prefix", ("n",)),)),
        ]
    )
    assert results[0] is None
    assert results[1] is not None
    assert results[1].value == {"v": 1}  # type: ignore[union-attr]
    assert results[2:] == [None, None, [], []]


def test_async_batch(store: StatehubStore) -> None:
    async def main() -> object:
        await store.aput(("n",), "k", {"v": 2})
        item = await store.aget(("n",), "k")
        return None if item is None else item.value

    assert asyncio.run(main()) == {"v": 2}


def test_ttl_expires_items(store: StatehubStore) -> None:
    store.put(("tmp",), "short", {"v": 1}, ttl=0.1 / 60)  # minutes
    store.put(("tmp",), "long", {"v": 1})
    time.sleep(0.3)  # the clock itself is under test: the item must outlive 0.1 s by none
    assert store.get(("tmp",), "short") is None
    assert [item.key for item in store.search(("tmp",))] == ["long"]


def test_reads_renew_ttl_unless_asked_not_to(hub: statehub.Hub) -> None:
    with StatehubStore(hub, ttl={"default_ttl": 1.0, "refresh_on_read": True}) as store:
        store.put(("tmp",), "k", {"v": 1})
        reader = hub.agent("reader")
        key = store._key(("tmp",), "k")
        first = reader.entry(key)
        assert first is not None
        assert first.expires_ts is not None
        store.get(("tmp",), "k", refresh_ttl=False)
        unchanged = reader.entry(key)
        assert unchanged is not None
        assert unchanged.expires_ts == first.expires_ts
        store.get(("tmp",), "k")
        renewed = reader.entry(key)
        assert renewed is not None
        assert renewed.expires_ts is not None
        assert renewed.expires_ts > first.expires_ts
        store.search(("tmp",))
        searched = reader.entry(key)
        assert searched is not None
        assert searched.expires_ts is not None
        assert searched.expires_ts > renewed.expires_ts


def test_agents_in_threads_share_memory_with_attribution(hub: statehub.Hub) -> None:
    names = [f"agent{n}" for n in range(4)]
    barrier = threading.Barrier(len(names))
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            with StatehubStore(hub, agent=name) as store:
                barrier.wait(timeout=10)
                for n in range(5):
                    store.put(("team", "facts"), f"{name}-{n}", {"by": name, "n": n})
                    store.put(("team",), "counter", {"last": name})
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(name,)) for name in names]
    for worker in threads:
        worker.start()
    for worker in threads:
        worker.join()
    assert not errors
    with StatehubStore(hub, agent="reader") as store:
        facts = store.search(("team", "facts"), limit=100)
        assert len(facts) == 20
        assert all(item.value["by"] == item.key.split("-")[0] for item in facts)
    writers = {change.agent for change in hub.history(prefix="global/langgraph-store/")}
    assert writers == set(names)


def test_a_private_root_is_private(hub: statehub.Hub) -> None:
    with StatehubStore(hub, agent="alice", root="agent/alice/memory") as alice:
        alice.put(("notes",), "k", {"secret": True})
        assert alice.search(("notes",))[0].value == {"secret": True}
    with StatehubStore(hub, agent="bob", root="agent/alice/memory") as bob:
        with pytest.raises(statehub.AccessDenied):
            bob.get(("notes",), "k")
        with pytest.raises(statehub.AccessDenied):
            bob.put(("notes",), "k", {"secret": False})


def test_a_non_dict_value_is_refused_and_nothing_written(store: StatehubStore) -> None:
    with pytest.raises(statehub.InvalidArgument, match="must be a dict"):
        store.batch([PutOp(("n",), "k", ["not", "a", "dict"])])  # type: ignore[arg-type]
    assert store.get(("n",), "k") is None


def test_same_answers_as_langgraphs_in_memory_store(store: StatehubStore) -> None:
    import random

    from langgraph.store.memory import InMemoryStore

    reference = InMemoryStore()
    rng = random.Random(7)
    namespaces = [("a",), ("a", "b"), ("a", "b", "c"), ("x", "b"), ("x",)]
    for _ in range(120):
        namespace, key = rng.choice(namespaces), f"k{rng.randrange(8)}"
        if rng.random() < 0.2:
            reference.delete(namespace, key)
            store.delete(namespace, key)
        else:
            value = {"n": rng.randrange(10), "tag": rng.choice(["t1", "t2"]), "z": {"y": 1}}
            reference.put(namespace, key, value)
            store.put(namespace, key, value)
    filters: list[dict[str, object] | None] = [
        None,
        {"tag": "t1"},
        {"n": {"$gt": 4}},
        {"z": {"y": 1}},
        {"n": {"$ne": 3}, "tag": "t2"},
    ]
    for prefix in [(), ("a",), ("a", "b"), ("x",)]:
        for condition in filters:
            ours = store.search(prefix, filter=condition, limit=1000)
            theirs = reference.search(prefix, filter=condition, limit=1000)
            assert {(i.namespace, i.key, repr(i.value)) for i in ours} == {
                (i.namespace, i.key, repr(i.value)) for i in theirs
            }
    options: list[dict[str, object]] = [
        {},
        {"prefix": ("a",)},
        {"suffix": ("b",)},
        {"max_depth": 1},
        {"max_depth": 2, "prefix": ("a",)},
        {"limit": 2, "offset": 1},
        {"prefix": ("*", "b")},
    ]
    for option in options:
        assert store.list_namespaces(**option) == reference.list_namespaces(**option)  # type: ignore[arg-type]
