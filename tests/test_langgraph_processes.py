"""StatehubSaver across processes and over many invocations: no silent fork, no fd leak."""

from __future__ import annotations

import multiprocessing
import operator
import os
import sqlite3
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from statehub.integrations.langgraph import StatehubSaver, ThreadConflict
from tests.conftest import postgres_url


class Messages(TypedDict):
    messages: Annotated[list[str], operator.add]


def graph(saver: BaseCheckpointSaver[Any], text: str = "x" * 200) -> CompiledStateGraph[Any]:
    built = StateGraph(Messages)
    built.add_node("node", lambda state: {"messages": [text]})
    built.add_edge(START, "node")
    return built.compile(checkpointer=saver)


CONFIG: RunnableConfig = {"configurable": {"thread_id": "shared"}}


def run_once(url: str, name: str, barrier: Barrier, results: Any) -> None:
    """One run on the shared thread; both runs load the thread before either writes."""
    with StatehubSaver.from_url(url, agent=name) as saver:
        loaded = saver._get_tuple

        def get_then_wait(config: RunnableConfig) -> Any:
            found = loaded(config)
            barrier.wait(timeout=30)
            return found

        saver._get_tuple = get_then_wait  # type: ignore[method-assign]
        try:
            graph(saver, text=f"from {name}").invoke({"messages": []}, CONFIG)
            results.put((name, "ok", ""))
        except ThreadConflict as exc:
            results.put((name, "conflict", str(exc)))


def race(url: str) -> list[tuple[str, str, str]]:
    # fork: the children start with LangGraph imported (spawn re-imports it: seconds).
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(2), context.Queue()
    runs = [
        context.Process(target=run_once, args=(url, name, barrier, results))
        for name in ("first", "second")
    ]
    for process in runs:
        process.start()
    outcomes = [results.get(timeout=60) for _ in runs]
    for process in runs:
        process.join(timeout=30)
        assert process.exitcode == 0
    return sorted(outcomes, key=lambda outcome: outcome[1])


def check_no_fork(url: str) -> None:
    with StatehubSaver.from_url(url) as saver:
        graph(saver).invoke({"messages": ["seed"]}, CONFIG)
    outcomes = race(url)
    assert [outcome[1] for outcome in outcomes] == ["conflict", "ok"]
    message = outcomes[0][2]
    assert "thread 'shared' was written by another run" in message
    assert "nothing was written" in message
    with StatehubSaver.from_url(url) as saver:
        history = list(saver.list(CONFIG))
        ids = [t.config["configurable"]["checkpoint_id"] for t in history]
        parents = [(t.parent_config or {})["configurable"]["checkpoint_id"] for t in history[:-1]]
        assert parents == ids[1:]  # one chain: nobody forked it
        winner = outcomes[1][0]
        state = graph(saver).get_state(CONFIG).values["messages"]
        assert state == ["seed", "x" * 200, f"from {winner}"]


def test_two_processes_on_one_sqlite_thread_one_gets_a_conflict(tmp_path: Path) -> None:
    check_no_fork(f"sqlite:///{tmp_path}/hub.db")


def test_two_processes_on_one_postgres_thread_one_gets_a_conflict() -> None:
    check_no_fork(postgres_url())


def test_two_processes_on_a_new_thread_one_gets_a_conflict(tmp_path: Path) -> None:
    outcomes = race(f"sqlite:///{tmp_path}/hub.db")
    assert [outcome[1] for outcome in outcomes] == ["conflict", "ok"]
    assert "started from an empty thread" in outcomes[0][2]


WORKERS = 1  # the default on SQLite


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def disk_bytes(path: Path) -> int:
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


def test_a_thousand_invocations_keep_descriptors_flat_and_storage_linear(
    tmp_path: Path,
) -> None:
    path = tmp_path / "hub.db"
    with StatehubSaver.from_url(f"sqlite:///{path}") as saver:
        app = graph(saver)
        for _ in range(20):
            app.invoke({"messages": []}, CONFIG)
        before = open_descriptors()
        for _ in range(980):
            app.invoke({"messages": []}, CONFIG)
        # Flat: at most the connections of pool threads not used yet during the
        # first 20 (a SQLite connection holds 3: file, WAL, shared memory). Calling
        # from LangGraph's threads directly would open ~6 per invocation.
        assert open_descriptors() <= before + 3 * WORKERS
        assert len(app.get_state(CONFIG).values["messages"]) == 1000
    # 200 KB of messages; SqliteSaver leaves 308 MB for the same workload, and the
    # issue's target is 3 MB.
    assert disk_bytes(path) <= 3_000_000


def test_storage_against_sqlite_saver_on_the_same_workload(tmp_path: Path) -> None:
    ours, theirs = tmp_path / "statehub.db", tmp_path / "langgraph.db"
    with StatehubSaver.from_url(f"sqlite:///{ours}") as saver:
        app = graph(saver)
        for _ in range(200):
            app.invoke({"messages": []}, CONFIG)
    connection = sqlite3.connect(theirs, check_same_thread=False)
    app = graph(SqliteSaver(connection))
    for _ in range(200):
        app.invoke({"messages": []}, CONFIG)
    connection.close()
    assert disk_bytes(ours) * 5 < disk_bytes(theirs)
