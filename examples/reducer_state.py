"""Reducer-based state updates, made real with statehub.

Mirrors the lesson's "State Design Patterns / Pattern: Reducer-Based State Updates"
(``ReducerState``). The lesson's own ``messages_reducer`` and ``task_reducer`` are
registered on hub keys as plain user functions; ``dispatch(key, action)`` then
applies the key's reducer inside the commit, to the value read there, so
concurrent dispatches never lose one another. Each dispatch is logged with the
action's ``type`` as its label.

statehub also ships both reducers as built-ins (``statehub.reducers.messages`` and
``statehub.reducers.tasks``); the end of the script shows they give the same result.

Run:  python examples/reducer_state.py [FILE]    (default: an in-memory hub)
"""

from __future__ import annotations

import sys
from typing import Any

import statehub
from statehub import reducers

ACTIONS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "coordinator",
        "messages",
        {"type": "ADD_MESSAGE", "message": {"role": "coordinator", "content": "Start research"}},
    ),
    (
        "researcher",
        "messages",
        {"type": "ADD_MESSAGE", "message": {"role": "researcher", "content": "Found 5 papers"}},
    ),
    ("coordinator", "tasks", {"type": "ADD_TASK", "task": "Research AI trends"}),
    ("researcher", "tasks", {"type": "COMPLETE_TASK"}),
]
"""The lesson's four dispatches: (agent, key name, action)."""


# The lesson's reducers, as user functions
def messages_reducer(state: list[Any] | None, action: dict[str, Any]) -> list[Any]:
    """Reducer for a message list: append only."""
    if state is None:
        state = []
    if action["type"] == "ADD_MESSAGE":
        return [*state, action["message"]]
    if action["type"] == "CLEAR":
        return []
    return state


def task_reducer(state: dict[str, Any] | None, action: dict[str, Any]) -> dict[str, Any]:
    """Reducer for task tracking: controlled updates."""
    if state is None:
        state = {"total": 0, "completed": 0, "tasks": []}
    if action["type"] == "ADD_TASK":
        return {**state, "total": state["total"] + 1, "tasks": [*state["tasks"], action["task"]]}
    if action["type"] == "COMPLETE_TASK":
        return {**state, "completed": state["completed"] + 1}
    return state


def run(hub: statehub.Hub, prefix: str, *, verbose: bool) -> tuple[list[Any], dict[str, Any]]:
    """Dispatch the lesson's actions on keys under ``prefix``; return messages and tasks."""
    for agent, name, action in ACTIONS:
        entry = hub.agent(agent).dispatch(f"{prefix}{name}", action)
        if verbose:
            print(f"  {agent} dispatched {action['type']} on '{name}' (v{entry.version})")
    reader = hub.agent("reader")
    return reader.get(f"{prefix}messages"), reader.get(f"{prefix}tasks")


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    with statehub.open(args[0] if args else "memory://") as hub:
        hub.register_reducer("global/messages", messages_reducer, initial=[])
        hub.register_reducer("global/tasks", task_reducer)

        print("Reducer-based state updates:\n")
        messages, tasks = run(hub, "global/", verbose=True)

        print(f"\nMessages: {len(messages)} total")
        for msg in messages:
            print(f"  {msg['role']}: {msg['content']}")
        print(f"\nTasks: {tasks['completed']}/{tasks['total']} completed")

        print("\nThe audit log labels each dispatch with its action's type:")
        for change in hub.history(prefix="global/"):
            print(f"  rev {change.revision}: {change.agent} {change.label} on {change.key}")

        # The built-in reducers, registered by pattern on every task's keys
        hub.register_reducer("task/*/messages", reducers.messages)
        hub.register_reducer("task/*/tasks", reducers.tasks)
        builtin_messages, builtin_tasks = run(hub, "task/run-1/", verbose=False)
        print("\nBuilt-in reducers statehub.reducers.messages / tasks:")
        print(f"  Messages: {len(builtin_messages)} total")
        print(f"  Tasks: {builtin_tasks['completed']}/{builtin_tasks['total']} completed")
        same = builtin_messages == messages and all(
            builtin_tasks[field] == tasks[field] for field in ("total", "completed", "tasks")
        )
        print(f"  Same result as the lesson's reducers: {same}")


if __name__ == "__main__":
    main()
