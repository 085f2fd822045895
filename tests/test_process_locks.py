"""Leases across real processes: a killed or paused holder never damages the next one's work.

Every holder is a real OS process (``multiprocessing``, ``spawn``) on one SQLite
file; the parent kills it with SIGKILL or pauses it with SIGSTOP, as a crash or a
long GC pause would. Every wait has a timeout, so a hang fails instead of hanging.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import pytest

import statehub
from tests.conftest import postgres_url

KEY = "global/task_plan"
TTL = 1.0
TIMEOUT = 60.0

_CTX = multiprocessing.get_context("spawn")


def _holder(url: str, reports: Queue[Any], resume: Event) -> None:
    """Take the lock, write once with its fence, wait for ``resume``, then write again.

    Waiting on the event is the safe point where the parent pauses this process: it
    holds the lease but is in no SQLite transaction, as a process in a long pause
    between two writes would be.
    """
    with statehub.open(url) as hub:
        agent = hub.agent("holder")
        lease = agent.lock(KEY, ttl=TTL)
        agent.put(KEY, "holder's plan", fence=lease.fence)
        reports.put(("locked", lease.fence))
        resume.wait(TIMEOUT)
        try:
            agent.put(KEY, "holder's late plan", fence=lease.fence)
        except statehub.StaleFenceError as exc:
            reports.put(("refused", exc.fence, exc.current))
        else:
            reports.put(("wrote", lease.fence, None))


def _start_holder(url: str) -> tuple[BaseProcess, Queue[Any], Event, int]:
    reports: Queue[Any] = _CTX.Queue()
    resume = _CTX.Event()
    process = _CTX.Process(target=_holder, args=(url, reports, resume), daemon=True)
    process.start()
    message = reports.get(timeout=TIMEOUT)
    assert message[0] == "locked"
    return process, reports, resume, message[1]


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh hub on a SQLite file, or on the test PostgreSQL server."""
    return f"sqlite:///{tmp_path / 'locks.db'}" if request.param == "sqlite" else postgres_url()


def test_lock_of_a_killed_holder_is_taken_within_ttl_and_its_fence_is_refused(url: str) -> None:
    process, _, _, fence = _start_holder(url)
    os.kill(process.pid or 0, signal.SIGKILL)
    killed_at = time.monotonic()
    process.join(TIMEOUT)

    with statehub.open(url) as hub:
        taker = hub.agent("taker")
        lease = taker.lock(KEY, ttl=30, wait=TTL + 1)
        assert time.monotonic() - killed_at <= TTL + 1
        assert lease.fence > fence
        taker.put(KEY, "taker's plan", fence=lease.fence)
        revision = hub.revision

        late = hub.agent("holder")
        with pytest.raises(statehub.StaleFenceError) as refused:
            late.put(KEY, "late write from the dead holder", fence=fence)
        assert (refused.value.fence, refused.value.current) == (fence, lease.fence)
        assert taker.get(KEY) == "taker's plan"
        assert hub.revision == revision
        after_takeover = hub.history(key=KEY, since=lease.fence)
        assert {change.agent for change in after_takeover} == {"taker"}


def test_paused_holder_cannot_overwrite_the_next_holder_when_it_resumes(url: str) -> None:
    process, reports, resume, fence = _start_holder(url)
    os.kill(process.pid or 0, signal.SIGSTOP)
    try:
        with statehub.open(url) as hub:
            taker = hub.agent("taker")
            lease = taker.lock(KEY, ttl=30, wait=TTL + 5)
            taker.put(KEY, "taker's plan", fence=lease.fence)
    finally:
        # Continue before setting the event: a process stopped inside Event.wait may
        # hold the event's lock, and set() would wait for it forever.
        os.kill(process.pid or 0, signal.SIGCONT)
        resume.set()

    assert reports.get(timeout=TIMEOUT) == ("refused", fence, lease.fence)
    process.join(TIMEOUT)
    assert process.exitcode == 0

    with statehub.open(url) as hub:
        assert hub.agent("reader").get(KEY) == "taker's plan"
        holder_writes = [c.revision for c in hub.history(key=KEY) if c.agent == "holder"]
        assert holder_writes == [fence + 1]
