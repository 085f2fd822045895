"""Agent memory: the lesson's ``AgentLocalState``, durable and private (``agent.local``).

>>> import statehub
>>> with statehub.open("memory://") as hub:
...     researcher = hub.agent("researcher")
...     _ = researcher.local.remember("search_queries", ["AI trends 2025", "ML adoption"])
...     _ = researcher.local.log_tool_call("web_search", "AI trends 2025", "12 results")
...     researcher.local.recall("search_queries"), len(researcher.local.tool_calls())
(['AI trends 2025', 'ML adoption'], 1)

Everything lives under the agent's private scope, so statehub's privacy applies to
it (no other agent can read, write, scan or see the history of any of it), and
every change is versioned and in the audit log like any other:

- ``agent/<name>/memory/<key>``: one row per remembered key (``key`` may have
  several ``/``-separated segments; the key grammar applies).
- ``agent/<name>/tool_calls``: the tool-call log, one list, oldest first. Each
  :meth:`LocalMemory.log_tool_call` appends one call inside its commit (a reducer:
  concurrent calls from several threads or processes of the agent lose none) and
  drops the oldest beyond a sliding window of :data:`DEFAULT_TOOL_CALL_WINDOW` (100)
  calls, or the ``window`` given to that call. The log's history keeps every call
  until compaction; the row itself stays bounded.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from statehub.errors import InvalidArgument, InvalidKey
from statehub.keys import validate_key
from statehub.model import Entry

if TYPE_CHECKING:
    from statehub.hub import Agent

__all__ = [
    "DEFAULT_TOOL_CALL_WINDOW",
    "MEMORY_SEGMENT",
    "TOOL_CALLS_SEGMENT",
    "LocalMemory",
    "keep_last",
]

DEFAULT_TOOL_CALL_WINDOW = 100
"""How many tool calls the log keeps, unless ``log_tool_call(..., window=n)`` says."""

MEMORY_SEGMENT = "memory"
"""Remembered keys live under ``agent/<name>/memory/``."""

TOOL_CALLS_SEGMENT = "tool_calls"
"""The tool-call log is the row ``agent/<name>/tool_calls``."""


def keep_last(state: Any, action: Any) -> list[Any]:
    """The tool-call log's reducer: append ``action["call"]``, keep the last ``window``.

    >>> keep_last([1, 2, 3], {"call": 4, "window": 3})
    [2, 3, 4]
    """
    calls = [*(state if isinstance(state, list) else []), action["call"]]
    window: int = action["window"]
    return calls[-window:]


class LocalMemory:
    """One agent's private memory and tool-call log: ``agent.local``.

    Attributes:
        agent: the agent whose memory this is (every write is attributed to it).
    """

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self._root = f"agent/{agent.name}/"

    def __repr__(self) -> str:
        return f"<statehub.LocalMemory of {self.agent.name!r}>"

    def _key(self, key: str) -> str:
        if not isinstance(key, str):
            raise InvalidKey(key, f"a memory key must be a str, not {type(key).__name__}")
        return validate_key(f"{self._root}{MEMORY_SEGMENT}/{key}")

    def remember(self, key: str, value: Any) -> Entry:
        """Store ``value`` (JSON) under ``key`` in this agent's memory; last write wins.

        Returns:
            The entry written (``agent/<name>/memory/<key>``).

        Raises:
            InvalidKey: ``key`` is not one or more valid key segments.
            InvalidValue, ValueTooLarge: ``value`` is not JSON, or too large.
        """
        return self.agent.put(self._key(key), value)

    def recall(self, key: str, default: Any = None) -> Any:
        """What this agent remembered under ``key`` (a copy), or ``default``."""
        return self.agent.get(self._key(key), default)

    def forget(self, key: str) -> bool:
        """Forget ``key``; ``True`` if there was something to forget."""
        return self.agent.delete(self._key(key)) is not None

    def memories(self) -> dict[str, Any]:
        """Everything this agent remembers: ``{key: value}``, in key order."""
        prefix = f"{self._root}{MEMORY_SEGMENT}/"
        return {key.removeprefix(prefix): value for key, value in self.agent.scan(prefix).items()}

    def log_tool_call(
        self, tool: str, input: Any, output: Any, *, window: int = DEFAULT_TOOL_CALL_WINDOW
    ) -> dict[str, Any]:
        """Record a tool invocation in this agent's tool-call log, in one commit.

        Args:
            tool: the tool's name (also the change's label in the history).
            input: what the tool was given (JSON).
            output: what it returned (JSON).
            window: how many calls the log keeps; the oldest beyond it are dropped.

        Returns:
            The call as recorded: ``{"tool", "input", "output", "time"}`` (``time`` is
            ISO 8601, UTC).
        """
        if not isinstance(tool, str) or not tool:
            raise InvalidArgument(f"tool must be a non-empty str, not {tool!r}")
        if not isinstance(window, int) or isinstance(window, bool) or window < 1:
            raise InvalidArgument(f"window must be an int >= 1, not {window!r}")
        call = {
            "tool": tool,
            "input": input,
            "output": output,
            "time": datetime.now(UTC).isoformat(),
        }
        entry = self.agent.dispatch(
            f"{self._root}{TOOL_CALLS_SEGMENT}",
            {"call": call, "window": window},
            reducer=keep_last,
            label=tool,
        )
        recorded: dict[str, Any] = entry.value[-1]
        return recorded

    def tool_calls(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The tool calls in the log, oldest first (the last ``limit`` of them, if given)."""
        if limit is not None and (
            not isinstance(limit, int) or isinstance(limit, bool) or limit < 0
        ):
            raise InvalidArgument(f"limit must be an int >= 0, not {limit!r}")
        calls: list[dict[str, Any]] = self.agent.get(f"{self._root}{TOOL_CALLS_SEGMENT}", [])
        if limit is None:
            return calls
        return calls[len(calls) - limit :] if limit else []
