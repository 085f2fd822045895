"""Bounded, jittered exponential backoff, shared by every retry loop in statehub."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

__all__ = ["backoff"]


def backoff(
    *, base: float, cap: float, deadline: float | None = None, attempts: int | None = None
) -> Iterator[int]:
    """Yield attempt numbers 0, 1, 2, ..., sleeping a jittered delay before each retry.

    The delay before attempt ``n`` is uniform in ``[0, min(cap, base * 2**n)]``
    ("full jitter"), so competing retriers spread out instead of colliding again.
    Stops after ``attempts`` attempts or once ``deadline`` (a ``time.monotonic()``
    value) has passed, whichever comes first; the caller raises after the loop.

    Args:
        base: the first delay's upper bound, in seconds.
        cap: the largest delay, in seconds (keeps every waiter polling often).
        deadline: stop retrying after this monotonic time.
        attempts: stop after this many attempts.
    """
    attempt = 0
    while attempts is None or attempt < attempts:
        yield attempt
        attempt += 1
        delay = random.uniform(0, min(cap, base * 2 ** min(attempt, 30)))
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            delay = min(delay, remaining)
        time.sleep(delay)
