"""LangGraph on statehub: a checkpointer and a long-term memory store.

``pip install 'statehub[langgraph]'``, then::

    from statehub.integrations.langgraph import StatehubSaver, StatehubStore

    with StatehubSaver.from_url("sqlite:///team.db") as saver:
        app = graph.compile(checkpointer=saver, store=StatehubStore(saver.hub))

- :class:`StatehubSaver` (a ``BaseCheckpointSaver``, sync and async): each thread's
  checkpoints are the history of one statehub key; two runs writing one thread at
  once get :class:`ThreadConflict` instead of a silent fork; a growing message list
  is stored as what each step appended.
- :class:`StatehubStore` (a ``BaseStore``): namespaced items with filters and TTL,
  shared by agents in any thread or process, with statehub's history and privacy.

See ``docs/langgraph.md``.
"""

from __future__ import annotations

try:
    import langgraph.checkpoint.base  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "statehub.integrations.langgraph needs LangGraph: pip install 'statehub[langgraph]'"
    ) from exc

from statehub.integrations.langgraph.errors import ThreadConflict
from statehub.integrations.langgraph.saver import DEFAULT_ROOT, StatehubSaver
from statehub.integrations.langgraph.store import DEFAULT_STORE_ROOT, StatehubStore

__all__ = [
    "DEFAULT_ROOT",
    "DEFAULT_STORE_ROOT",
    "StatehubSaver",
    "StatehubStore",
    "ThreadConflict",
]
