"""The :class:`Lease` handle an agent gets from ``agent.lock(key, ttl)``."""

from __future__ import annotations

from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING

from statehub.errors import StaleFenceError

if TYPE_CHECKING:
    from statehub.hub import Agent

__all__ = ["Lease"]


class Lease:
    """A lock on one key, held by one agent until it is released or expires.

    Attributes:
        key: the locked key.
        agent: the holder.
        fence: the fencing token: the revision that granted the lease. Pass it with
            each write (``put(..., fence=lease.fence)``) so that a write arriving
            after the lease was lost is refused instead of overwriting the next
            holder's work.
        expires_ts: when the lease ends unless renewed, seconds since the epoch.

    >>> import statehub
    >>> agent = statehub.open("memory://").agent("coordinator")
    >>> with agent.lock("global/task_plan", ttl=30) as lease:
    ...     _ = agent.put("global/task_plan", ["step1"], fence=lease.fence)
    >>> agent.get("global/task_plan")
    ['step1']
    """

    def __init__(self, agent: Agent, key: str, fence: int, expires_ts: float) -> None:
        self.agent = agent
        self.key = key
        self.fence = fence
        self.expires_ts = expires_ts

    @property
    def expires_at(self) -> datetime:
        """When the lease ends unless renewed, as an aware UTC datetime."""
        return datetime.fromtimestamp(self.expires_ts, UTC)

    def renew(self, ttl: float) -> Lease:
        """Extend the lease to ``ttl`` seconds from now (same fence).

        Raises:
            StaleFenceError: the lease was lost (expired and taken, or released).
        """
        self.expires_ts = self.agent._renew(self.key, self.fence, ttl)
        return self

    def release(self) -> bool:
        """Give the lock up; ``False`` if it had already been lost (nothing to release)."""
        try:
            self.agent._unlock(self.key, self.fence)
        except StaleFenceError:
            return False
        return True

    def __enter__(self) -> Lease:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"<Lease {self.key!r} held by {self.agent.name!r}, fence {self.fence}>"
