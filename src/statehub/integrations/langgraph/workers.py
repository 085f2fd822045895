"""A small pool of long-lived threads that make every hub call of one saver or store.

LangGraph calls savers from short-lived worker threads, and a SQLite hub keeps one
connection per thread that uses it: called directly, a saver would open a new file
descriptor for every invocation. Running the calls on a fixed pool bounds the
connections by the pool's size, whatever thread calls in; the async methods use
the same pool, so an event loop never blocks on storage.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from statehub.errors import InvalidArgument
from statehub.hub import Hub

__all__ = ["Workers", "check_workers", "default_workers"]

P = ParamSpec("P")
T = TypeVar("T")


def check_workers(workers: object) -> None:
    """Refuse a pool size that is not ``None`` or a positive ``int``."""
    if workers is None:
        return
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidArgument(f"workers must be a positive int, not {workers!r}")


def default_workers(hub: Hub) -> int:
    """1 on SQLite (one writer at a time: more threads only contend for its lock), else 4."""
    scheme = hub.url.split("://", 1)[0] if "://" in hub.url else "sqlite"  # a bare path
    return 1 if scheme == "sqlite" else 4


class Workers:
    """Runs functions on ``size`` long-lived threads (directly when already on one)."""

    def __init__(self, size: int, name: str) -> None:
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(size, name, initializer=self._mark)

    def _mark(self) -> None:
        self._local.inside = True

    def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Call ``fn`` on a pool thread and return its result (or raise its error)."""
        if getattr(self._local, "inside", False):
            return fn(*args, **kwargs)
        return self._pool.submit(fn, *args, **kwargs).result()

    async def arun(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Await ``fn`` run on a pool thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(*args, **kwargs))

    def close(self) -> None:
        """Finish the calls under way and stop the threads."""
        self._pool.shutdown(wait=True)
