"""The asyncio API: :class:`AsyncHub` and :class:`AsyncAgent`, same names as the sync API.

>>> import asyncio, statehub
>>> async def main() -> int:
...     async with statehub.open_async("memory://") as hub:
...         agent = hub.agent("coordinator")
...         entry = await agent.put("global/task_status", "in_progress")
...         return entry.version
>>> asyncio.run(main())
1

Every call runs the sync implementation on a worker thread (as aiosqlite does for
sqlite3), so the semantics are the sync API's by construction, and the event loop
never blocks on I/O: SQLite's calls block, and every backend keeps a connection per
thread. Methods that do no I/O (``hub.agent``, ``register_reducer``, buffering writes
in a transaction) stay plain methods.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator, Iterator
from datetime import datetime
from types import TracebackType
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar

from statehub.hub import Agent, Hub
from statehub.lease import Lease
from statehub.local import LocalMemory
from statehub.model import Change, Entry
from statehub.opening import open as open_sync
from statehub.reducers import Reducer
from statehub.tasks import AsyncTasks
from statehub.transaction import Transaction

__all__ = [
    "AsyncAgent",
    "AsyncHub",
    "AsyncLease",
    "AsyncLocalMemory",
    "AsyncTransaction",
    "open_async",
]

P = ParamSpec("P")
T = TypeVar("T")
S = TypeVar("S")
H = TypeVar("H")


async def _call(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    return await asyncio.to_thread(function, *args, **kwargs)


def _threaded(
    method: Callable[Concatenate[Any, P], T],
) -> Callable[Concatenate[Any, P], Coroutine[Any, Any, T]]:
    """An async twin of a sync method: runs it on ``self._sync`` in a worker thread."""

    async def run(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await _call(getattr(self._sync, method.__name__), *args, **kwargs)

    functools.update_wrapper(run, method)
    return run


def _delegated(method: Callable[Concatenate[Any, P], T]) -> Callable[Concatenate[Any, P], T]:
    """A plain (no I/O) method that calls the same method of ``self._sync``."""

    def run(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> T:
        result: T = getattr(self._sync, method.__name__)(*args, **kwargs)
        return result

    functools.update_wrapper(run, method)
    return run


def _step(iterator: Iterator[T]) -> tuple[bool, T | None]:
    # StopIteration cannot cross from a worker thread into a future: say it instead.
    for item in iterator:
        return True, item
    return False, None


async def _iterate(iterator: Iterator[T]) -> AsyncIterator[T]:
    """Drive a blocking iterator from a worker thread, one item at a time."""
    while True:
        more, item = await _call(_step, iterator)
        if not more:
            return
        yield item  # type: ignore[misc]  # more is True: item is a T


class AsyncLease:
    """The async twin of :class:`~statehub.lease.Lease` (``async with`` releases it)."""

    def __init__(self, lease: Lease) -> None:
        self._sync = lease
        self.key = lease.key
        self.fence = lease.fence

    @property
    def expires_ts(self) -> float:
        """When the lease ends unless renewed, seconds since the epoch."""
        return self._sync.expires_ts

    @property
    def expires_at(self) -> datetime:
        """When the lease ends unless renewed, as an aware UTC datetime."""
        return self._sync.expires_at

    async def renew(self, ttl: float) -> AsyncLease:
        """Extend the lease to ``ttl`` seconds from now (see :meth:`Lease.renew`)."""
        await _call(self._sync.renew, ttl)
        return self

    release = _threaded(Lease.release)

    async def __aenter__(self) -> AsyncLease:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.release()


class AsyncTransaction:
    """The async twin of :class:`~statehub.hub.Transaction`: ``async with agent.transaction()``.

    Buffering writes does no I/O, so ``tx.put``, ``tx.merge``, ``tx.dispatch`` and
    ``tx.delete`` are plain calls; ``await tx.get(key)`` reads.
    """

    def __init__(self, transaction: Transaction) -> None:
        self._sync = transaction

    put = _delegated(Transaction.put)
    merge = _delegated(Transaction.merge)
    dispatch = _delegated(Transaction.dispatch)
    delete = _delegated(Transaction.delete)

    @property
    def revision(self) -> int | None:
        """The commit's revision after the block (``None`` if nothing changed)."""
        return self._sync.revision

    @property
    def entries(self) -> dict[str, Entry | None]:
        """Each key written, with its new entry (``None`` if deleted), after the block."""
        return self._sync.entries

    get = _threaded(Transaction.get)
    commit = _threaded(Transaction.commit)

    async def __aenter__(self) -> AsyncTransaction:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            await self.commit()


class AsyncLocalMemory:
    """The async twin of :class:`~statehub.local.LocalMemory`: ``agent.local``, awaited."""

    def __init__(self, memory: LocalMemory) -> None:
        self._sync = memory

    def __repr__(self) -> str:
        return f"<statehub.AsyncLocalMemory of {self._sync.agent.name!r}>"

    remember = _threaded(LocalMemory.remember)
    recall = _threaded(LocalMemory.recall)
    forget = _threaded(LocalMemory.forget)
    memories = _threaded(LocalMemory.memories)
    log_tool_call = _threaded(LocalMemory.log_tool_call)
    tool_calls = _threaded(LocalMemory.tool_calls)


class AsyncAgent:
    """The async twin of :class:`~statehub.hub.Agent`: the same methods, awaited."""

    def __init__(self, hub: AsyncHub, agent: Agent) -> None:
        self.hub = hub
        self._sync = agent
        self.name = agent.name

    def __repr__(self) -> str:
        return f"<statehub.AsyncAgent {self.name!r} on {self.hub.url!r}>"

    put = _threaded(Agent.put)
    merge = _threaded(Agent.merge)
    dispatch = _threaded(Agent.dispatch)
    delete = _threaded(Agent.delete)
    update = _threaded(Agent.update)
    entry = _threaded(Agent.entry)
    get = _threaded(Agent.get)
    scan = _threaded(Agent.scan)
    entries = _threaded(Agent.entries)
    history = _threaded(Agent.history)
    wait_for = _threaded(Agent.wait_for)
    checkpoint = _threaded(Agent.checkpoint)
    delete_checkpoint = _threaded(Agent.delete_checkpoint)
    rollback = _threaded(Agent.rollback)
    diff = _threaded(Agent.diff)
    send = _threaded(Agent.send)
    send_update = _threaded(Agent.send_update)
    receive = _threaded(Agent.receive)
    ack = _threaded(Agent.ack)
    view = _threaded(Agent.view)

    @property
    def local(self) -> AsyncLocalMemory:
        """This agent's private memory and tool-call log, awaited (see :mod:`statehub.local`)."""
        return AsyncLocalMemory(self._sync.local)

    @property
    def tasks(self) -> AsyncTasks:
        """This agent's task operations, awaited (see :class:`statehub.tasks.Tasks`)."""
        return AsyncTasks(self._sync.tasks)

    def transaction(self, *, label: str | None = None) -> AsyncTransaction:
        """Group writes into one atomic commit: ``async with agent.transaction() as tx``."""
        return AsyncTransaction(self._sync.transaction(label=label))

    def lock(
        self, key: str, ttl: float = 30.0, *, wait: float | None = None
    ) -> _Pending[Lease, AsyncLease]:
        """Take a lease: ``lease = await agent.lock(...)`` or ``async with agent.lock(...)``."""
        taking = _call(self._sync.lock, key, ttl, wait=wait)
        return _Pending(taking, AsyncLease, AsyncLease.release)

    def watch(
        self, prefix: str = "", *, since: int | None = None, timeout: float | None = None
    ) -> AsyncIterator[Change]:
        """``async for change in agent.watch(prefix, since=rev)`` (see :meth:`Agent.watch`)."""
        return _iterate(self._sync.watch(prefix, since=since, timeout=timeout))


class _Pending(Generic[S, H]):
    """A handle on its way: ``await`` it, or ``async with`` it to release it at the end.

    ``agent.lock(...)`` (a lease, released) and :func:`open_async` (a hub, closed)
    both return one.
    """

    def __init__(
        self,
        making: Awaitable[S],
        wrap: Callable[[S], H],
        finish: Callable[[H], Awaitable[Any]],
    ) -> None:
        self._making = making
        self._wrap = wrap
        self._finish = finish
        self._handle: H | None = None

    def __await__(self) -> Generator[Any, None, H]:
        return self._make().__await__()

    async def _make(self) -> H:
        self._handle = self._wrap(await self._making)
        return self._handle

    async def __aenter__(self) -> H:
        return await self._make()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._handle is not None:
            await self._finish(self._handle)


class AsyncHub:
    """The async twin of :class:`~statehub.hub.Hub`; open it with :func:`open_async`."""

    def __init__(self, hub: Hub) -> None:
        self._sync = hub

    @property
    def url(self) -> str:
        """The hub's URL, password masked."""
        return self._sync.url

    @property
    def name(self) -> str:
        """The hub's name within its storage."""
        return self._sync.name

    @property
    def max_value_bytes(self) -> int:
        """The largest encoded value accepted (settable, as on :class:`Hub`)."""
        return self._sync.max_value_bytes

    @max_value_bytes.setter
    def max_value_bytes(self, limit: int) -> None:
        self._sync.max_value_bytes = limit

    @property
    def sync(self) -> Hub:
        """The sync hub underneath (same storage, same state)."""
        return self._sync

    @property
    def revision(self) -> Awaitable[int]:
        """The head revision: ``await hub.revision``."""
        return _call(lambda: self._sync.revision)

    @property
    def oldest_revision(self) -> Awaitable[int]:
        """The oldest readable revision: ``await hub.oldest_revision``."""
        return _call(lambda: self._sync.oldest_revision)

    def agent(self, name: str) -> AsyncAgent:
        """A handle acting as agent ``name`` (see :meth:`Hub.agent`)."""
        return AsyncAgent(self, self._sync.agent(name))

    def register_reducer(self, key: str, reducer: Reducer, *, initial: Any = None) -> None:
        """Register a reducer (see :meth:`Hub.register_reducer`)."""
        self._sync.register_reducer(key, reducer, initial=initial)

    history = _threaded(Hub.history)
    checkpoints = _threaded(Hub.checkpoints)
    locks = _threaded(Hub.locks)
    diff = _threaded(Hub.diff)
    compact = _threaded(Hub.compact)
    export = _threaded(Hub.export)
    wait_for = _threaded(Hub.wait_for)
    close = _threaded(Hub.close)

    def watch(
        self, prefix: str = "", *, since: int | None = None, timeout: float | None = None
    ) -> AsyncIterator[Change]:
        """``async for change in hub.watch(prefix, since=rev)`` (see :meth:`Hub.watch`)."""
        return _iterate(self._sync.watch(prefix, since=since, timeout=timeout))

    async def __aenter__(self) -> AsyncHub:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<statehub.AsyncHub {self.url!r}>"


def open_async(
    url: str | os.PathLike[str] | None = None,
    *,
    max_value_bytes: int | None = None,
    busy_timeout: float | None = None,
    token: str | None = None,
) -> _Pending[Hub, AsyncHub]:
    """Open a hub for asyncio, with the same arguments as :func:`statehub.open`.

    Use it as ``hub = await open_async(url)`` or ``async with open_async(url) as hub``.
    """
    opening = _call(
        open_sync, url, max_value_bytes=max_value_bytes, busy_timeout=busy_timeout, token=token
    )
    return _Pending(opening, AsyncHub, AsyncHub.close)
