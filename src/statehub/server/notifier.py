"""Waking many waiting requests when a hub's head moves, with one thread per hub.

A long poll (``wait``) or a live stream would otherwise hold a worker thread each
while it waits. :class:`HeadNotifier` keeps one daemon thread per hub blocked in
``backend.wait`` and wakes every waiting coroutine, in whatever event loop it runs,
when the head passes what it waits for.
"""

from __future__ import annotations

import asyncio
import threading

from statehub.backends.base import Backend

__all__ = ["HeadNotifier"]

_POLL = 1.0
"""The longest the thread blocks in one ``backend.wait`` (so it notices ``close``)."""


class HeadNotifier:
    """The head revision of one backend, awaitable from asyncio."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._lock = threading.Lock()
        self._head = backend.head()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None

    def _ensure_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="statehub-head", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._closed.is_set():
            try:
                head = self._backend.wait(self._head, _POLL)
            except Exception:  # a closed or failing backend: waiters time out by themselves
                if self._closed.wait(_POLL):
                    return
                continue
            if head > self._head:
                with self._lock:
                    self._head = head
                    waiters, self._waiters = self._waiters, []
                for loop, future in waiters:
                    loop.call_soon_threadsafe(_wake, future)

    async def wait_past(self, after: int, timeout: float) -> int:
        """The head once it is past ``after``, or after ``timeout`` seconds, whichever first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            future: asyncio.Future[None] = loop.create_future()
            with self._lock:
                self._ensure_thread()
                if self._head > after:
                    return self._head
                self._waiters.append((loop, future))
            try:
                await asyncio.wait_for(future, max(deadline - loop.time(), 0.0))
            except TimeoutError:
                with self._lock:
                    if (loop, future) in self._waiters:
                        self._waiters.remove((loop, future))
                    return self._head

    def close(self) -> None:
        """Stop the thread (within about a second)."""
        self._closed.set()


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
