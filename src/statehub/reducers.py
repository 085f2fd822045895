"""Built-in reducers: pure ``(state, action) -> state`` functions (no I/O).

Register one on a key (``hub.register_reducer("global/log", reducers.append)``) or
name it at dispatch (``agent.dispatch("global/log", "hello", reducer="append")``).
``state`` is ``None`` while the key does not exist. A reducer is applied inside the
commit to the value read there, so concurrent dispatches never lose one another.

| name | action | result |
| --- | --- | --- |
| ``append`` | any value | the list with the action appended |
| ``extend`` | a list | the list with the action's items appended |
| ``add`` | a number | the sum |
| ``max`` / ``min`` | a number (or any comparable) | the larger / smaller |
| ``union`` | a list | the list with the items not already in it appended |
| ``merge`` | a dict | RFC 7396 JSON Merge Patch of the action into the state |
| ``replace`` | any value | the action |
| ``messages`` | ``{"type": "ADD_MESSAGE", "message": m}`` / ``CLEAR`` | a message list |
| ``tasks`` | ``{"type": "ADD", "task": t}`` / ``COMPLETE`` / ``FAIL`` | task counters |

The last two are the lesson's reducers: ``tasks`` keeps
``{"tasks": [...], "total": n, "completed": n, "failed": n}`` and also accepts the
lesson's ``ADD_TASK`` / ``COMPLETE_TASK`` spellings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from statehub.merge import merge_patch

__all__ = [
    "BUILTINS",
    "Reducer",
    "add",
    "append",
    "builtin_name",
    "extend",
    "max_",
    "merge",
    "messages",
    "min_",
    "replace",
    "tasks",
    "union",
]

Reducer = Callable[[Any, Any], Any]
"""A pure function ``(state, action) -> new state``; ``state`` is ``None`` when absent."""


def append(state: Any, action: Any) -> list[Any]:
    """Append ``action`` to the list ``state``."""
    return [*(state or []), action]


def extend(state: Any, action: Any) -> list[Any]:
    """Append every item of the list ``action`` to the list ``state``."""
    return [*(state or []), *action]


def add(state: Any, action: Any) -> Any:
    """Add the number ``action`` to ``state`` (0 when absent)."""
    return (state or 0) + action


def max_(state: Any, action: Any) -> Any:
    """Keep the larger of ``state`` and ``action``."""
    return action if state is None else max(state, action)


def min_(state: Any, action: Any) -> Any:
    """Keep the smaller of ``state`` and ``action``."""
    return action if state is None else min(state, action)


def union(state: Any, action: Any) -> list[Any]:
    """Append the items of ``action`` that ``state`` does not hold yet, in order."""
    result = list(state or [])
    for item in action:
        if item not in result:
            result.append(item)
    return result


def merge(state: Any, action: Any) -> Any:
    """RFC 7396 JSON Merge Patch of ``action`` into ``state``."""
    return merge_patch(state, action)


def replace(state: Any, action: Any) -> Any:
    """Replace ``state`` with ``action`` (last write wins, as a reducer)."""
    return action


def messages(state: Any, action: Any) -> list[Any]:
    """The lesson's message-list reducer: ``ADD_MESSAGE`` appends, ``CLEAR`` empties."""
    current = list(state or [])
    kind = action.get("type") if isinstance(action, dict) else None
    if kind == "ADD_MESSAGE":
        return [*current, action["message"]]
    if kind == "CLEAR":
        return []
    return current


_ADD = ("ADD", "ADD_TASK")
_COMPLETE = ("COMPLETE", "COMPLETE_TASK")
_FAIL = ("FAIL", "FAIL_TASK")


def tasks(state: Any, action: Any) -> dict[str, Any]:
    """The lesson's task reducer: ``ADD`` a task, count ``COMPLETE`` and ``FAIL``."""
    current = {"tasks": [], "total": 0, "completed": 0, "failed": 0, **(state or {})}
    kind = action.get("type") if isinstance(action, dict) else None
    if kind in _ADD:
        return {
            **current,
            "tasks": [*current["tasks"], action["task"]],
            "total": current["total"] + 1,
        }
    if kind in _COMPLETE:
        return {**current, "completed": current["completed"] + 1}
    if kind in _FAIL:
        return {**current, "failed": current["failed"] + 1}
    return current


BUILTINS: dict[str, Reducer] = {
    "append": append,
    "extend": extend,
    "add": add,
    "max": max_,
    "min": min_,
    "union": union,
    "merge": merge,
    "replace": replace,
    "messages": messages,
    "tasks": tasks,
}
"""The built-in reducers by name; any backend (and the server) can run these."""

_NAMES = {id(fn): name for name, fn in BUILTINS.items()}


def builtin_name(reducer: Reducer) -> str | None:
    """The built-in name of ``reducer``, or ``None`` if it is a user function."""
    return _NAMES.get(id(reducer))
