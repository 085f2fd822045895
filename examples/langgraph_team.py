"""A LangGraph team on statehub: parallel branches, a reducer, checkpoints you can browse.

A planner fans out to a researcher and an analyst (they run in parallel and both
append to ``notes``, an ``operator.add`` reducer); a writer joins them and a reviewer
signs off, keeping a lesson in long-term memory (``StatehubStore``). No LLM: every
node is deterministic. Every checkpoint is a version of one statehub key, so the
run can be browsed with ``statehub history`` (and the viewer) afterwards.

Run: python examples/langgraph_team.py [path/to/hub.db]   (default: a temporary file)
"""

from __future__ import annotations

import operator
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.store.base import BaseStore

import statehub
from statehub.integrations.langgraph import StatehubSaver, StatehubStore


class TeamState(TypedDict, total=False):
    topic: str
    notes: Annotated[list[str], operator.add]
    report: str
    verdict: str


def planner(state: TeamState) -> dict[str, Any]:
    return {"notes": [f"plan: research and analyse {state['topic']}"]}


def researcher(state: TeamState) -> dict[str, Any]:
    return {"notes": [f"research: 3 sources on {state['topic']}"]}


def analyst(state: TeamState) -> dict[str, Any]:
    return {"notes": [f"analysis: {state['topic']} grows 30% a year"]}


def writer(state: TeamState) -> dict[str, Any]:
    body = "; ".join(note.split(": ", 1)[1] for note in state["notes"][1:])
    return {"report": f"{state['topic']}: {body}"}


def reviewer(state: TeamState, *, store: BaseStore) -> dict[str, Any]:
    store.put(("team", "lessons"), state["topic"], {"report": state["report"], "approved": True})
    return {"verdict": "approved", "notes": ["review: approved"]}


def build() -> StateGraph[TeamState]:
    graph = StateGraph(TeamState)
    graph.add_node("planner", planner)
    graph.add_node("researcher", researcher)
    graph.add_node("analyst", analyst)
    graph.add_node("writer", writer)
    graph.add_node("reviewer", reviewer)
    graph.add_edge(START, "planner")
    graph.add_edge("planner", "researcher")
    graph.add_edge("planner", "analyst")
    graph.add_edge(["researcher", "analyst"], "writer")
    graph.add_edge("writer", "reviewer")
    graph.add_edge("reviewer", END)
    return graph


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args:
        run(Path(args[0]))
    else:
        with tempfile.TemporaryDirectory() as directory:
            run(Path(directory) / "langgraph-team.db")


def run(path: Path) -> None:
    url = f"sqlite:///{path}"
    with statehub.open(url) as hub:
        saver, store = StatehubSaver(hub, agent="team"), StatehubStore(hub, agent="team")
        app = build().compile(checkpointer=saver, store=store)
        config: RunnableConfig = {"configurable": {"thread_id": "team-run-1"}}
        final = app.invoke(TeamState(topic="AI agents"), config)
        print("notes (researcher and analyst ran in parallel):")
        for note in final["notes"]:
            print(f"  {note}")
        print(f"report: {final['report']}")
        print(f"verdict: {final['verdict']}")
        steps = [(s.metadata or {}).get("step", 0) for s in app.get_state_history(config)]
        print(f"checkpoints: {len(steps)}, steps {min(steps)}..{max(steps)}")
        lesson = store.get(("team", "lessons"), "AI agents")
        print(f"long-term memory: {lesson.value if lesson else None}")
        key = saver.thread_key("team-run-1")
        changes = hub.history(key=key)
        labelled = {change.label for change in changes}
        print(f"the thread is the key {key}: its history holds all {len(labelled)} checkpoints")
        for change in changes[:3]:
            print(f"  rev {change.revision} {change.agent} {change.op} checkpoint {change.label}")
        print("browse it:")
        print(f"  statehub history --url {url} --key {key}")
        print(f"  statehub get --url {url} {key}")
        store.close()
        saver.close()


if __name__ == "__main__":
    main()
