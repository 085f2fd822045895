"""The asyncio API: in step with the sync API, and usable from one event loop at once."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path

import pytest

import statehub
from statehub.aio import AsyncAgent, AsyncHub, AsyncLease, AsyncTransaction

TWINS = [
    (statehub.Hub, AsyncHub),
    (statehub.Agent, AsyncAgent),
    (statehub.Transaction, AsyncTransaction),
    (statehub.Lease, AsyncLease),
]
SYNC_ONLY = {"backend", "reducer_for"}
"""Sync names with no async twin: the backend handle and a registry lookup."""


def _public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


@pytest.mark.parametrize(("sync", "async_"), TWINS, ids=[sync.__name__ for sync, _ in TWINS])
def test_every_sync_name_has_an_async_twin(sync: type, async_: type) -> None:
    assert _public(sync) - SYNC_ONLY <= _public(async_)


def test_async_methods_doing_io_are_coroutine_functions() -> None:
    for name in ("put", "get", "merge", "dispatch", "delete", "update", "scan", "history"):
        assert inspect.iscoroutinefunction(getattr(AsyncAgent, name)), name
    for name in ("history", "diff", "compact", "close"):
        assert inspect.iscoroutinefunction(getattr(AsyncHub, name)), name


def test_concurrent_updates_from_one_event_loop_lose_nothing(tmp_path: Path) -> None:
    async def main() -> tuple[int, int]:
        async with statehub.open_async(f"sqlite:///{tmp_path}/hub.db") as hub:
            agents = [hub.agent(f"a{i}") for i in range(4)]

            async def bump(agent: AsyncAgent) -> None:
                for _ in range(25):
                    await agent.update("global/counter", lambda v: (v or 0) + 1)

            await asyncio.gather(*(bump(agent) for agent in agents))
            value = await agents[0].get("global/counter")
            return value, await hub.revision

    assert asyncio.run(main()) == (100, 100)


def test_watch_is_an_async_iterator_in_revision_order() -> None:
    async def main() -> list[str]:
        async with statehub.open_async("memory://") as hub:
            since = await hub.revision
            writer = hub.agent("writer")
            await writer.put("global/a", 1)
            await writer.put("global/b", 2)
            keys: list[str] = []
            async for change in hub.watch("global/", since=since, timeout=1):
                keys.append(change.key)
                if len(keys) == 2:
                    break
            return keys

    assert asyncio.run(main()) == ["global/a", "global/b"]


def test_lock_is_awaitable_and_an_async_context_manager() -> None:
    async def main() -> tuple[bool, str | None]:
        async with statehub.open_async("memory://") as hub:
            owner, other = hub.agent("owner"), hub.agent("other")
            async with owner.lock("global/plan", ttl=30) as lease:
                await owner.put("global/plan", ["step"], fence=lease.fence)
                blocked_by: str | None = None
                try:
                    await other.put("global/plan", ["mine"])
                except statehub.LockedError as exc:
                    blocked_by = exc.holder
            second = await other.lock("global/plan", ttl=30)
            return await second.release(), blocked_by

    assert asyncio.run(main()) == (True, "owner")
