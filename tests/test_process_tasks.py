"""Tasks across real processes: one winner per claim, each task done once, no zombie writes.

Every worker is a real OS process (``multiprocessing``, ``spawn``) with a hub of its
own on one SQLite file or one PostgreSQL hub. Racers start together at a barrier; a
claimer is killed with SIGKILL, as a crash would. Every wait has a timeout, so a
hang fails instead of hanging.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier, Event
from pathlib import Path
from typing import Any

import pytest

import statehub
from statehub.tasks import StaleClaim, TaskClaimed
from statehub.testing.processes import describe, run_together
from tests.conftest import postgres_url

PROCESSES = 4
TASKS = 20
LEASE = 1.5
"""The lease of the claimer that is killed: the others wait this long for its task."""
TIMEOUT = 120.0
"""Seconds any wait lasts at most: barrier, report, exit."""

_CTX = multiprocessing.get_context("spawn")

Report = tuple[Any, ...]


# --------------------------------------------------------------------------- workers


def _claimer(index: int, url: str, task_id: str, barrier: Barrier, reports: Queue[Report]) -> None:
    """Wait for the others, then claim the one task: report won (fence) or lost (holder)."""
    try:
        with statehub.open(url) as hub:
            tasks = hub.agent(f"claimer-{index}").tasks
            barrier.wait(TIMEOUT)
            try:
                task = tasks.claim(task_id, lease=60)
            except TaskClaimed as exc:
                reports.put((index, "lost", exc.holder))
            else:
                reports.put((index, "won", task.fence))
    except BaseException as exc:
        reports.put((index, "error", describe(exc)))


def _drainer(index: int, url: str, task_id: str, barrier: Barrier, reports: Queue[Report]) -> None:
    """Wait for the others, then claim with ``next()`` and complete until none is pending."""
    done: list[str] = []
    try:
        with statehub.open(url) as hub:
            name = f"drainer-{index}"
            tasks = hub.agent(name).tasks
            barrier.wait(TIMEOUT)
            while (task := tasks.next(lease=60)) is not None:
                tasks.progress(task, 0.5, result={"partial": name})
                tasks.complete(task, result={"by": name})
                done.append(task.id)
        reports.put((index, "done", done))
    except BaseException as exc:
        reports.put((index, "error", describe(exc), done))


def _doomed(url: str, task_id: str, reports: Queue[Report], never: Event) -> None:
    """Claim the task, report progress, then hang until killed."""
    with statehub.open(url) as hub:
        tasks = hub.agent("doomed").tasks
        task = tasks.claim(task_id, lease=LEASE)
        task = tasks.progress(task, 0.3, result={"partial": "doomed"})
        reports.put(("claimed", task.fence, task.lease_expires_ts))
        never.wait(TIMEOUT)


def _rescuer(url: str, task_id: str, reports: Queue[Report]) -> None:
    """Claim the task as soon as its lease has run out, then complete it."""
    try:
        with statehub.open(url) as hub:
            tasks = hub.agent("rescuer").tasks
            deadline = time.monotonic() + TIMEOUT
            while True:
                try:
                    task = tasks.claim(task_id, lease=60)
                    break
                except TaskClaimed:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)  # waiting for a clock: the dead claimer's lease
            claimed_at = time.time()
            done = tasks.complete(task, result={"by": "rescuer"})
            reports.put(("completed", task.fence, claimed_at, done.status))
    except BaseException as exc:
        reports.put(("error", describe(exc)))


# --------------------------------------------------------------------------- harness


def _run_together(
    worker: Callable[[int, str, str, Barrier, Queue[Report]], None], url: str, task_id: str
) -> list[Report]:
    """Run PROCESSES workers that start together at a barrier; their reports, by index."""
    together = run_together(worker, PROCESSES, url, task_id, timeout=TIMEOUT, daemon=True)
    received, exits = together.reports, together.exit_codes
    assert len(received) == PROCESSES, f"{len(received)} reports, exit codes {exits}"
    assert exits == [0] * PROCESSES
    errors = [report for report in received if report[1] == "error"]
    assert not errors, f"workers failed: {errors}"
    return sorted(received)


def _start(target: Callable[..., None], *args: Any) -> BaseProcess:
    process = _CTX.Process(target=target, args=args, daemon=True)
    process.start()
    return process


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh hub on a SQLite file, or on the test PostgreSQL server."""
    return f"sqlite:///{tmp_path / 'tasks.db'}" if request.param == "sqlite" else postgres_url()


# --------------------------------------------------------------------------- tests


def test_processes_racing_to_claim_one_task_have_exactly_one_winner(url: str) -> None:
    with statehub.open(url) as hub:
        task = hub.agent("coordinator").tasks.create("Research AI trends")

    reports = _run_together(_claimer, url, task.id)

    winners = [report for report in reports if report[1] == "won"]
    assert len(winners) == 1, reports
    (winner_index, _, fence) = winners[0]
    winner = f"claimer-{winner_index}"
    assert [report[2] for report in reports if report[1] == "lost"] == [winner] * (PROCESSES - 1)
    with statehub.open(url) as hub:
        stored = hub.agent("checker").tasks.get(task.id)
        assert stored is not None
        assert (stored.status, stored.assignee, stored.fence, stored.attempts) == (
            "claimed",
            winner,
            fence,
            1,
        )
        claims = [change.agent for change in hub.history(key=task.key) if change.label == "claim"]
        assert claims == [winner]


def test_processes_draining_tasks_with_next_complete_each_exactly_once(url: str) -> None:
    with statehub.open(url) as hub:
        coordinator = hub.agent("coordinator").tasks
        created = [coordinator.create(f"task {n}", payload={"n": n}).id for n in range(TASKS)]

    reports = _run_together(_drainer, url, "")

    done = [task_id for report in reports for task_id in report[2]]
    assert sorted(done) == created, Counter(done).most_common(3)
    with statehub.open(url) as hub:
        checker = hub.agent("checker").tasks
        assert checker.next() is None
        finished = checker.list()
        assert [task.id for task in finished] == created
        for task in finished:
            assert task.status == "completed"
            assert task.result == {"by": task.assignee}
            assert task.attempts == 1
            labels = Counter(change.label for change in hub.history(key=task.key))
            assert labels == {"create": 1, "claim": 1, "progress": 1, "complete": 1}
        assert checker.list(status="pending") == []


def test_killed_claimer_loses_the_task_when_its_lease_expires_and_its_fence_is_refused(
    url: str,
) -> None:
    with statehub.open(url) as hub:
        task = hub.agent("coordinator").tasks.create("Research AI trends")

    reports: Queue[Report] = _CTX.Queue()
    never = _CTX.Event()
    doomed = _start(_doomed, url, task.id, reports, never)
    status, dead_fence, dead_expiry = reports.get(timeout=TIMEOUT)
    assert status == "claimed"
    os.kill(doomed.pid or 0, signal.SIGKILL)
    doomed.join(TIMEOUT)
    assert doomed.exitcode == -signal.SIGKILL

    with statehub.open(url) as hub:
        other = hub.agent("other").tasks
        if time.time() < dead_expiry - 0.5:  # still within the dead claimer's lease
            with pytest.raises(TaskClaimed) as info:
                other.claim(task.id)
            assert info.value.holder == "doomed"

    # A queue of its own: one that a killed process wrote to is not to be trusted.
    rescues: Queue[Report] = _CTX.Queue()
    rescuer = _start(_rescuer, url, task.id, rescues)
    report = rescues.get(timeout=TIMEOUT)
    rescuer.join(TIMEOUT)
    assert report[0] == "completed", report
    _, fence, claimed_at, final_status = report
    assert rescuer.exitcode == 0
    assert final_status == "completed"
    assert claimed_at >= dead_expiry  # not a moment before the lease ran out
    assert fence > dead_fence

    with statehub.open(url) as hub:
        zombie = hub.agent("doomed").tasks
        revision = hub.revision
        late_writes: list[Callable[[], object]] = [
            lambda: zombie.complete(task.id, result={"by": "doomed"}, fence=dead_fence),
            lambda: zombie.progress(task.id, 0.9, fence=dead_fence),
            lambda: zombie.fail(task.id, error="late", fence=dead_fence),
        ]
        for late in late_writes:
            with pytest.raises(StaleClaim) as refused:
                late()
            assert isinstance(refused.value, statehub.StaleFenceError)
            assert (refused.value.fence, refused.value.current) == (dead_fence, fence)
        assert hub.revision == revision
        stored = hub.agent("checker").tasks.get(task.id)
        assert stored is not None
        assert (stored.status, stored.assignee, stored.result, stored.attempts) == (
            "completed",
            "rescuer",
            {"by": "rescuer"},
            2,
        )
        trail = [(change.agent, change.label) for change in hub.history(key=task.key)]
        assert trail == [
            ("coordinator", "create"),
            ("doomed", "claim"),
            ("doomed", "progress"),
            ("rescuer", "claim"),
            ("rescuer", "complete"),
        ]
