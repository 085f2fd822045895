"""Task state: ``task/<id>`` records with a status machine, claimed under leases.

(To be implemented: see issue 5.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from statehub.hub import Agent

__all__ = ["Tasks"]


class Tasks:
    """The task operations of one agent: ``agent.tasks``."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
