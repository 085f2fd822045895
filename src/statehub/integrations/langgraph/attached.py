"""What a saver and a store share: their hub, their agent and their worker threads."""

from __future__ import annotations

from types import TracebackType
from typing import Self

import statehub
from statehub.hub import Agent, Hub
from statehub.integrations.langgraph.workers import Workers, check_workers, default_workers
from statehub.keys import validate_agent_name

__all__ = ["OnHub"]


class OnHub:
    """A mixin for objects that work on a hub as one agent, through :class:`Workers`.

    The hub is given open, or as a URL: then it is opened here and closed by
    :meth:`close`. Usable as a context manager that closes on exit.
    """

    hub: Hub
    agent: Agent
    _owns_hub: bool
    _workers: Workers

    def _attach(self, hub: Hub | str, agent: str, workers: int | None, name: str) -> None:
        """Check the agent's name and the pool's size, open the hub if needed, start the pool."""
        validate_agent_name(agent)
        check_workers(workers)
        self._owns_hub = isinstance(hub, str)
        self.hub = statehub.open(hub) if isinstance(hub, str) else hub
        self.agent = self.hub.agent(agent)
        self._workers = Workers(workers or default_workers(self.hub), name)

    def close(self) -> None:
        """Stop the worker threads, and close the hub if this object opened it."""
        self._workers.close()
        if self._owns_hub:
            self.hub.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
