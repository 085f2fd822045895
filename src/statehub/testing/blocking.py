"""Drive the asyncio API through the sync API's names, so one suite tests both.

:func:`blocking_hub` opens a hub with :func:`statehub.open_async` and returns an
object that looks like a sync :class:`~statehub.Hub`: every call goes to the async
twin of the same name, on an event loop of its own in a background thread, and
waits for the result. Handles it returns (agents, transactions, leases) are wrapped
the same way, ``with`` becomes ``async with``, and iterating a watch drives the
async iterator. The conformance suite, run on such a hub, checks the async API
against exactly the assertions the sync API passes: one suite, not a copy.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import AsyncIterator, Awaitable, Iterator
from types import TracebackType
from typing import Any, TypeVar

from statehub.aio import AsyncAgent, AsyncHub, AsyncLease, AsyncTransaction, open_async
from statehub.tasks import AsyncTasks

__all__ = ["Blocking", "blocking_hub"]

T = TypeVar("T")

_HANDLES = (AsyncHub, AsyncAgent, AsyncLease, AsyncTransaction, AsyncTasks)


class _Loop:
    """An event loop running on a daemon thread, for blocking calls into async code."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, awaitable: Awaitable[T]) -> T:
        async def wait() -> T:
            return await awaitable

        return asyncio.run_coroutine_threadsafe(wait(), self.loop).result()


_LOOP: _Loop | None = None
_LOOP_LOCK = threading.Lock()


def _shared_loop() -> _Loop:
    """One loop thread serves every blocking hub of the process (started on first use)."""
    global _LOOP
    with _LOOP_LOCK:
        if _LOOP is None:
            _LOOP = _Loop()
        return _LOOP


class Blocking:
    """A sync face on one async statehub handle (see the module docstring)."""

    def __init__(self, target: Any, loop: _Loop) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_loop", loop)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._target, name, value)

    def _wrap(self, value: Any) -> Any:
        if isinstance(value, _HANDLES):
            return Blocking(value, self._loop)
        if isinstance(value, AsyncIterator):
            return self._iterate(value)
        if inspect.isawaitable(value):
            return self._wrap(self._loop.run(value))
        return value

    def _iterate(self, iterator: AsyncIterator[Any]) -> Iterator[Any]:
        while True:
            try:
                item = self._loop.run(anext(iterator))
            except StopAsyncIteration:
                return
            yield self._wrap(item)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if callable(value) and not isinstance(value, _HANDLES):

            def call(*args: Any, **kwargs: Any) -> Any:
                return self._wrap(value(*args, **kwargs))

            return call
        return self._wrap(value)

    def __enter__(self) -> Any:
        entered = self._loop.run(self._target.__aenter__())
        return self if entered is self._target else self._wrap(entered)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._loop.run(self._target.__aexit__(exc_type, exc, traceback))

    def __repr__(self) -> str:
        return f"<blocking {self._target!r}>"


def blocking_hub(url: str, token: str | None = None) -> Any:
    """Open ``url`` with :func:`statehub.open_async`, behind the sync API's names."""
    loop = _shared_loop()
    return Blocking(loop.run(open_async(url, token=token)), loop)
