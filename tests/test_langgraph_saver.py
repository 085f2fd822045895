"""StatehubSaver with real LangGraph graphs: state, history, forks, odd ids, async."""

from __future__ import annotations

import asyncio
import operator
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph

import statehub
from statehub.errors import InvalidKey
from statehub.integrations.langgraph import StatehubSaver, StatehubStore
from statehub.integrations.langgraph.naming import escape, unescape
from tests.conftest import postgres_url

HUBS: dict[str, Callable[[Path], str]] = {
    "memory": lambda tmp: "memory://",
    "sqlite": lambda tmp: f"sqlite:///{tmp}/hub.db",
    "postgres": lambda tmp: postgres_url(),
}


class Log(TypedDict):
    log: Annotated[list[str], operator.add]


class Chat(TypedDict):
    messages: Annotated[list[Any], add_messages]


def log_graph(saver: BaseCheckpointSaver[Any]) -> CompiledStateGraph[Any]:
    graph = StateGraph(Log)
    graph.add_node("step", lambda state: {"log": [f"step {len(state['log'])}"]})
    graph.add_edge(START, "step")
    return graph.compile(checkpointer=saver)


def chat_graph(saver: BaseCheckpointSaver[Any]) -> CompiledStateGraph[Any]:
    graph = StateGraph(Chat)
    graph.add_node("bot", lambda state: {"messages": [AIMessage(f"echo {len(state['messages'])}")]})
    graph.add_edge(START, "bot")
    return graph.compile(checkpointer=saver)


def thread(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}}


@pytest.fixture(params=sorted(HUBS))
def hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[statehub.Hub]:
    with statehub.open(HUBS[request.param](tmp_path)) as opened:
        yield opened


def test_graph_state_and_history_round_trip(hub: statehub.Hub) -> None:
    with StatehubSaver(hub) as saver:
        app = log_graph(saver)
        for n in range(5):
            app.invoke({"log": [f"input {n}"]}, thread("t1"))
        state = app.get_state(thread("t1"))
        assert state.values["log"][-2:] == ["input 4", "step 9"]
        assert len(state.values["log"]) == 10
        history = list(app.get_state_history(thread("t1")))
        assert len(history) == 15
        assert [len(h.values["log"]) for h in history[:3]] == [10, 9, 8]
        parents = [(h.parent_config or {})["configurable"]["checkpoint_id"] for h in history[:-1]]
        ids = [h.config["configurable"]["checkpoint_id"] for h in history[1:]]
        assert parents == ids  # one linear chain


def test_a_new_saver_on_the_same_file_reads_what_another_wrote(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/hub.db"
    with StatehubSaver.from_url(url) as saver:
        app = chat_graph(saver)
        for n in range(30):
            app.invoke({"messages": [HumanMessage(f"hello {n}")]}, thread("chat"))
        expected = app.get_state(thread("chat")).values["messages"]
        old = list(app.get_state_history(thread("chat")))[10]
    with StatehubSaver.from_url(url) as fresh:
        app = chat_graph(fresh)
        assert app.get_state(thread("chat")).values["messages"] == expected
        assert app.get_state(old.config).values == old.values
        app.invoke({"messages": [HumanMessage("again")]}, thread("chat"))
        assert len(app.get_state(thread("chat")).values["messages"]) == 62


def test_message_list_stores_only_what_each_step_appended(tmp_path: Path) -> None:
    with statehub.open(f"sqlite:///{tmp_path}/hub.db") as hub, StatehubSaver(hub) as saver:
        app = log_graph(saver)
        for _ in range(200):
            app.invoke({"log": ["x" * 200]}, thread("t"))
        final_size = len(repr(app.get_state(thread("t")).values["log"]))
        rows = hub.agent("reader").scan(saver.thread_key("t") + "/v/")
        stored = sum(len(str(row)) for row in rows.values())
        # Every version of a 400-item list, yet about 2 copies of it in all: the
        # appended tails plus full values at geometric spacing.
        assert len(rows) >= 300
        assert stored < 3 * final_size


@pytest.mark.parametrize(
    "thread_id",
    ["plain", "with space", "a/b/c", "é ü 中文", "", ".", "..", "=3D", "@x", "x" * 300],
)
def test_odd_thread_ids_are_stored_under_escaped_keys(thread_id: str) -> None:
    with StatehubSaver.from_url("memory://") as saver:
        app = log_graph(saver)
        app.invoke({"log": ["hi"]}, thread(thread_id))
        app.invoke({"log": ["again"]}, thread(thread_id))
        assert app.get_state(thread(thread_id)).values["log"] == [
            "hi",
            "step 1",
            "again",
            "step 3",
        ]
        assert unescape(escape(thread_id)) == thread_id
        listed = list(saver.list(None))
        assert {t.config["configurable"]["thread_id"] for t in listed} == {thread_id}


def test_a_thread_id_too_long_for_a_key_is_refused_clearly() -> None:
    with StatehubSaver.from_url("memory://") as saver:
        with pytest.raises(InvalidKey, match="thread id makes a key longer"):
            log_graph(saver).invoke({"log": ["hi"]}, thread("x" * 1100))
        assert list(saver.list(None)) == []


def test_subgraph_namespaces_are_kept_apart() -> None:
    inner = StateGraph(Log)
    inner.add_node("inner_step", lambda state: {"log": ["inner"]})
    inner.add_edge(START, "inner_step")
    outer = StateGraph(Log)
    outer.add_node("sub", inner.compile())
    outer.add_edge(START, "sub")
    with StatehubSaver.from_url("memory://") as saver:
        app = outer.compile(checkpointer=saver)
        assert app.invoke({"log": ["in"]}, thread("nested"))["log"] == ["in", "in", "inner"]
        namespaces = {t.config["configurable"]["checkpoint_ns"] for t in saver.list(None)}
        assert "" in namespaces
        assert any(ns.startswith("sub:") for ns in namespaces)


def test_update_state_on_an_old_checkpoint_forks_on_purpose() -> None:
    with StatehubSaver.from_url("memory://") as saver:
        app = log_graph(saver)
        app.invoke({"log": ["a"]}, thread("t"))
        app.invoke({"log": ["b"]}, thread("t"))
        first = next(h for h in app.get_state_history(thread("t")) if len(h.values["log"]) == 2)
        forked = app.update_state(first.config, {"log": ["edited"]})
        assert app.get_state(thread("t")).values["log"] == ["a", "step 1", "edited"]
        app.invoke(None, forked)
        app.invoke({"log": ["c"]}, thread("t"))
        assert app.get_state(thread("t")).values["log"][-2:] == ["c", "step 4"]


def test_replaying_from_an_old_checkpoint_starts_a_branch() -> None:
    with StatehubSaver.from_url("memory://") as saver:
        app = log_graph(saver)
        for text in ("a", "b", "c"):
            app.invoke({"log": [text]}, thread("t"))
        old = next(h for h in app.get_state_history(thread("t")) if len(h.values["log"]) == 2)
        app.invoke({"log": ["branch"]}, old.config)
        assert app.get_state(thread("t")).values["log"] == ["a", "step 1", "branch", "step 3"]


def test_delta_channel_history_matches_langgraphs_reference_walk() -> None:
    with StatehubSaver.from_url("memory://") as saver:
        app = log_graph(saver)
        for text in ("a", "b", "c"):
            app.invoke({"log": [text]}, thread("t"))
        for snapshot in app.get_state_history(thread("t")):
            ours = saver.get_delta_channel_history(config=snapshot.config, channels=["log"])
            reference = BaseCheckpointSaver.get_delta_channel_history(
                saver, config=snapshot.config, channels=["log", "__start__"]
            )
            assert ours["log"] == reference["log"]
        assert saver.get_delta_channel_history(config=thread("t"), channels=[]) == {}


def test_async_graph_on_sqlite(tmp_path: Path) -> None:
    async def main() -> list[str]:
        with StatehubSaver.from_url(f"sqlite:///{tmp_path}/hub.db") as saver:
            app = log_graph(saver)
            for text in ("a", "b"):
                await app.ainvoke({"log": [text]}, thread("t"))
            history = [h async for h in app.aget_state_history(thread("t"))]
            assert len(history) == 6
            state = await app.aget_state(thread("t"))
            return list(state.values["log"])

    assert asyncio.run(main()) == ["a", "step 1", "b", "step 3"]


def test_checkpoints_are_attributed_to_the_savers_agent(hub: statehub.Hub) -> None:
    with StatehubSaver(hub, agent="planner") as saver:
        log_graph(saver).invoke({"log": ["a"]}, thread("t"))
        changes = hub.history(key=saver.thread_key("t"))
        assert {change.agent for change in changes} == {"planner"}
        labels = [change.label for change in changes]
        assert len(set(labels)) == 3


def test_a_private_root_keeps_threads_from_other_agents() -> None:
    with statehub.open("memory://") as hub:
        with StatehubSaver(hub, agent="alice", root="agent/alice/graphs") as saver:
            log_graph(saver).invoke({"log": ["secret"]}, thread("t"))
        intruder = StatehubSaver(hub, agent="bob", root="agent/alice/graphs")
        with intruder, pytest.raises(statehub.AccessDenied):
            intruder.get_tuple(thread("t"))


def test_the_docs_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "langgraph.md").read_text()
    block = text.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    printed: list[object] = []
    # A module of its own: LangGraph resolves the state's annotations through it.
    module = types.ModuleType("langgraph_docs_example")
    module.__dict__["print"] = printed.append
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(block, "docs/langgraph.md", "exec"), module.__dict__)
    assert printed == [{"messages": ["hello", "echo 1"]}]
    assert (tmp_path / "team.db").is_file()


def test_writes_of_finished_tasks_survive_a_failed_sibling(hub: statehub.Hub) -> None:
    calls = {"good": 0, "flaky": 0}

    def good(state: Log) -> dict[str, list[str]]:
        calls["good"] += 1
        return {"log": ["good"]}

    def flaky(state: Log) -> dict[str, list[str]]:
        calls["flaky"] += 1
        if calls["flaky"] == 1:
            raise RuntimeError("flaky failed")
        return {"log": ["flaky"]}

    graph = StateGraph(Log)
    graph.add_node("good", good)
    graph.add_node("flaky", flaky)
    graph.add_edge(START, "good")
    graph.add_edge(START, "flaky")
    with StatehubSaver(hub) as saver:
        app = graph.compile(checkpointer=saver)
        with pytest.raises(RuntimeError, match="flaky failed"):
            app.invoke({"log": ["in"]}, thread("t"))
        pending = saver.get_tuple(thread("t"))
        assert pending is not None
        assert ("log", ["good"]) in [(w[1], w[2]) for w in pending.pending_writes or []]
    with StatehubSaver(hub) as fresh:  # a new process would see the same
        app = graph.compile(checkpointer=fresh)
        assert sorted(app.invoke(None, thread("t"))["log"]) == ["flaky", "good", "in"]
    assert calls == {"good": 1, "flaky": 2}


def test_an_interrupted_graph_resumes_from_its_checkpoint(hub: statehub.Hub) -> None:
    from langgraph.types import Command, interrupt

    def ask(state: Log) -> dict[str, list[str]]:
        answer = interrupt("approve?")
        return {"log": [f"answer {answer}"]}

    graph = StateGraph(Log)
    graph.add_node("ask", ask)
    graph.add_edge(START, "ask")
    with StatehubSaver(hub) as saver:
        app = graph.compile(checkpointer=saver)
        first = app.invoke({"log": ["q"]}, thread("t"))
        assert first["__interrupt__"][0].value == "approve?"
    with StatehubSaver(hub) as fresh:
        app = graph.compile(checkpointer=fresh)
        assert app.invoke(Command(resume="yes"), thread("t"))["log"] == ["q", "answer yes"]


def test_parallel_tasks_writes_are_kept_with_their_checkpoint(hub: statehub.Hub) -> None:
    width = 6
    graph = StateGraph(Log)
    for n in range(width):
        graph.add_node(f"branch{n}", lambda state, n=n: {"log": [f"b{n}"]})
        graph.add_edge(START, f"branch{n}")
    with StatehubSaver(hub) as saver:
        app = graph.compile(checkpointer=saver)
        for _ in range(15):
            app.invoke({"log": []}, thread("t"))
        history = list(saver.list(thread("t")))
        by_id = {t.config["configurable"]["checkpoint_id"]: t for t in history}
        for child in history:
            if child.metadata.get("step") != 1:
                continue
            # the checkpoint the branches ran after: all their writes stored with it
            assert child.parent_config is not None
            parent = by_id[child.parent_config["configurable"]["checkpoint_id"]]
            written = sorted(w[2][0] for w in parent.pending_writes or [] if w[1] == "log")
            assert written == sorted(f"b{n}" for n in range(width))


def test_thread_conflict_names_the_thread_and_pickles() -> None:
    import pickle

    from statehub.integrations.langgraph import ThreadConflict

    error = ThreadConflict(
        "global/langgraph/t/=",
        3,
        4,
        thread_id="t",
        checkpoint_ns="",
        parent_id="a",
        head_id="b",
    )
    assert isinstance(error, statehub.ConflictError)
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error)
    assert "thread 't'" in str(copy)
    assert (copy.thread_id, copy.parent_id, copy.head_id, copy.key) == (
        "t",
        "a",
        "b",
        "global/langgraph/t/=",
    )


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"root": "global"}, statehub.InvalidArgument, "root must hold a scope and a name"),
        ({"root": "nowhere/x"}, InvalidKey, "first segment"),
        ({"agent": "no agent"}, InvalidKey, "agent name"),
        ({"workers": 0}, statehub.InvalidArgument, "workers must be a positive int"),
    ],
)
def test_bad_options_are_refused_before_anything_opens(
    options: dict[str, Any], error: type[Exception], match: str, tmp_path: Path
) -> None:
    with pytest.raises(error, match=match):
        StatehubSaver(f"sqlite:///{tmp_path}/hub.db", **options)
    with pytest.raises(error, match=match):
        StatehubStore(f"sqlite:///{tmp_path}/hub.db", **options)
    assert not (tmp_path / "hub.db").exists()


def test_a_restarted_saver_keeps_storing_tails(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/hub.db"
    with StatehubSaver.from_url(url) as saver:
        app = log_graph(saver)
        for _ in range(10):
            app.invoke({"log": ["x" * 300]}, thread("t"))
    with StatehubSaver.from_url(url) as fresh:
        app = log_graph(fresh)
        app.invoke({"log": ["y" * 300]}, thread("t"))
        prefix = fresh.thread_key("t") + "/v/log/"
        rows = fresh.agent.scan(prefix)
        last_two = [rows[key] for key in sorted(rows)[-2:]]
        assert [row.get("t") for row in last_two] == [["y" * 300], ["step 21"]]
        assert len(app.get_state(thread("t")).values["log"]) == 22


def test_the_run_that_lost_a_race_can_run_again(hub: statehub.Hub) -> None:
    import threading

    from statehub.integrations.langgraph import ThreadConflict

    savers = [StatehubSaver(hub, agent=name) for name in ("one", "two")]
    first = log_graph(savers[0])
    for _ in range(5):  # long enough for its list to live in rows
        first.invoke({"log": ["x" * 300]}, thread("t"))
    barrier = threading.Barrier(2)
    outcomes: dict[int, str] = {}
    for saver in savers:
        loaded = saver._get_tuple

        def get_then_wait(config: RunnableConfig, loaded: Any = loaded) -> Any:
            found = loaded(config)
            barrier.wait(timeout=10)
            return found

        saver._get_tuple = get_then_wait  # type: ignore[method-assign]

    def run(n: int) -> None:
        try:
            log_graph(savers[n]).invoke({"log": [f"run {n}" * 100]}, thread("t"))
            outcomes[n] = "ok"
        except ThreadConflict:
            outcomes[n] = "conflict"

    runs = [threading.Thread(target=run, args=(n,)) for n in (0, 1)]
    for worker in runs:
        worker.start()
    for worker in runs:
        worker.join()
    assert sorted(outcomes.values()) == ["conflict", "ok"]
    loser = savers[next(n for n, outcome in outcomes.items() if outcome == "conflict")]
    loser._get_tuple = StatehubSaver._get_tuple.__get__(loser)  # type: ignore[method-assign]
    app = log_graph(loser)
    app.invoke({"log": ["again"]}, thread("t"))
    assert len(app.get_state(thread("t")).values["log"]) == 14
    for saver in savers:
        saver.close()
