"""Spawned processes that start together and report once each, for concurrency tests.

Each child runs ``target(index, *args, barrier, reports)``: it waits at
``barrier`` so that all start at once, does its work, and puts one report on
``reports``. :func:`run_together` collects the reports and the exit codes; the
caller judges them.

>>> together = run_together(worker, 4, url, timeout=120.0)  # doctest: +SKIP
>>> assert len(together.reports) == 4 and together.exit_codes == [0] * 4
"""

from __future__ import annotations

import multiprocessing
import queue
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.queues import Queue
from typing import Any

__all__ = ["Together", "describe", "run_together"]

_CTX = multiprocessing.get_context("spawn")
_POLL = 0.5
"""Seconds between two looks at whether every child is gone (while waiting for reports)."""


@dataclass(frozen=True, slots=True)
class Together:
    """What :func:`run_together` saw.

    Attributes:
        reports: the reports received, in the order they arrived (fewer than the
            children if some died or the time ran out).
        exit_codes: each child's exit code, by index (``None``: it did not end in
            time and was terminated).
    """

    reports: list[Any]
    exit_codes: list[int | None]


def describe(exc: BaseException) -> str:
    """``exc`` in one line, ``Type: message``, for a child's report."""
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def run_together(
    target: Callable[..., None],
    count: int,
    *args: Any,
    timeout: float,
    daemon: bool = False,
) -> Together:
    """Run ``count`` spawned processes of ``target`` that start together; what they reported.

    Child ``i`` runs ``target(i, *args, barrier, reports)`` (``target`` must be
    importable: a module-level function). The reports are drained before the
    children are joined (a child cannot exit while its report is unsent); waiting
    ends after ``timeout`` seconds, or as soon as every child is gone. Children
    still alive then are terminated.
    """
    barrier = _CTX.Barrier(count)
    reports: Queue[Any] = _CTX.Queue()
    processes = [
        _CTX.Process(target=target, args=(i, *args, barrier, reports), daemon=daemon)
        for i in range(count)
    ]
    for process in processes:
        process.start()
    received: list[Any] = []
    try:
        deadline = time.monotonic() + timeout
        while len(received) < count and time.monotonic() < deadline:
            try:
                received.append(reports.get(timeout=_POLL))
            except queue.Empty:
                if not any(process.is_alive() for process in processes):
                    break  # every child is gone and nothing more is coming: fail fast
        for process in processes:
            process.join(timeout)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join(10)
    return Together(received, [process.exitcode for process in processes])
