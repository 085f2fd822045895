"""Many OS processes on one SQLite file: no lost update, no lost merge, no lock error.

Every child is a real process (``multiprocessing`` with the ``spawn`` context) that
opens its own hub on the shared file, waits at a barrier so that all start at the
same moment, does its writes, and reports back how many succeeded and the text of
every exception it saw. Every wait has a timeout, so a hang fails the test instead
of hanging CI.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pytest

import statehub
from statehub.testing.processes import describe, run_together
from tests.conftest import postgres_url, remote_url, shared_server

PROCESSES = 4
INCREMENTS = 250
MERGES = 100
BARRIER_TIMEOUT = 60.0
"""Seconds a child waits at the start barrier for the others (spawn + import is slow)."""
RUN_TIMEOUT = 120.0
"""Seconds the parent waits for all children's reports, and then for each to exit."""

COUNTER_KEY = "global/counter"
DOC_KEY = "global/doc"

Report = tuple[int, int, list[str]]
"""What a child sends back: (its index, writes that succeeded, every error it saw)."""

Worker = Callable[[int, str, Barrier, "Queue[Report]"], None]


def _increment(value: Any) -> int:
    return (value or 0) + 1


def _write_repeatedly(
    index: int,
    url: str,
    barrier: Barrier,
    reports: Queue[Report],
    times: int,
    write: Callable[[statehub.Agent, int], object],
) -> None:
    """Open the hub, wait for the others, then ``write(agent, n)`` for n in range(times)."""
    done = 0
    errors: list[str] = []
    try:
        with statehub.open(url) as hub:
            agent = hub.agent(f"p{index}")
            barrier.wait(BARRIER_TIMEOUT)
            for n in range(times):
                try:
                    write(agent, n)
                    done += 1
                except Exception as exc:
                    errors.append(describe(exc))
    except BaseException as exc:
        errors.append(describe(exc))
    reports.put((index, done, errors))


def _counter_worker(index: int, url: str, barrier: Barrier, reports: Queue[Report]) -> None:
    """Add 1 to the counter INCREMENTS times."""
    _write_repeatedly(
        index,
        url,
        barrier,
        reports,
        INCREMENTS,
        lambda agent, _: agent.update(COUNTER_KEY, _increment),
    )


def _merge_worker(index: int, url: str, barrier: Barrier, reports: Queue[Report]) -> None:
    """Merge MERGES fields of its own into one key."""
    _write_repeatedly(
        index,
        url,
        barrier,
        reports,
        MERGES,
        lambda agent, n: agent.merge(DOC_KEY, {f"p{index}_{n}": n}),
    )


def _open_worker(index: int, url: str, barrier: Barrier, reports: Queue[Report]) -> None:
    """Wait for the others, then open a hub on a file that may not exist yet, and write."""
    done = 0
    errors: list[str] = []
    try:
        barrier.wait(BARRIER_TIMEOUT)
        with statehub.open(url) as hub:
            hub.agent(f"p{index}").put(f"global/opened/p{index}", index)
            done += 1
    except BaseException as exc:
        errors.append(describe(exc))
    reports.put((index, done, errors))


def _run_processes(worker: Worker, url: str, count: int = PROCESSES) -> list[Report]:
    """Start ``count`` spawned processes running ``worker`` together; their reports by index."""
    together = run_together(worker, count, url, timeout=RUN_TIMEOUT)
    received, exits = together.reports, together.exit_codes
    assert len(received) == count, f"only {len(received)} of {count} reports; exit codes {exits}"
    assert all(code == 0 for code in exits), f"exit codes {exits}"
    return sorted(received)


def _assert_no_errors(reports: Sequence[Report], writes_each: int) -> None:
    errors = {index: errs for index, _, errs in reports if errs}
    assert not errors, f"children saw exceptions: {errors}"
    locked = [e for _, _, errs in reports for e in errs if "locked" in e.lower()]
    assert not locked, f"'database is locked' reached a caller: {locked}"
    assert [done for _, done, _ in reports] == [writes_each] * len(reports)


@pytest.fixture(params=["sqlite", "postgres", "remote"])
def url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The URL of a fresh hub that the parent has created (schema in place) and closed:
    a SQLite file, a hub of its own on the test PostgreSQL server, or one on the
    session's statehub server (the children find the token in ``STATEHUB_TOKEN``)."""
    if request.param == "remote":
        monkeypatch.setenv("STATEHUB_TOKEN", shared_server().admin_token)
        fresh = remote_url()
    elif request.param == "sqlite":
        fresh = f"sqlite:///{tmp_path / 'team.db'}"
    else:
        fresh = postgres_url()
    statehub.open(fresh).close()
    return fresh


def test_concurrent_updates_lose_no_increment(url: str) -> None:

    reports = _run_processes(_counter_worker, url)

    _assert_no_errors(reports, INCREMENTS)
    total = PROCESSES * INCREMENTS
    with statehub.open(url) as hub:
        entry = hub.agent("checker").entry(COUNTER_KEY)
        assert entry is not None
        assert entry.value == total
        assert entry.version == total
        changes = hub.history(key=COUNTER_KEY)
        assert hub.revision == total
    assert len(changes) == total
    assert [change.version for change in changes] == list(range(1, total + 1))
    assert [change.prev_version for change in changes] == list(range(total))
    revisions = [change.revision for change in changes]
    assert all(a < b for a, b in itertools.pairwise(revisions))
    assert {change.op for change in changes} == {"update"}
    by_agent: dict[str, int] = {}
    for change in changes:
        by_agent[change.agent] = by_agent.get(change.agent, 0) + 1
    assert by_agent == {f"p{i}": INCREMENTS for i in range(PROCESSES)}


def test_concurrent_merges_lose_no_field(url: str) -> None:

    reports = _run_processes(_merge_worker, url)

    _assert_no_errors(reports, MERGES)
    total = PROCESSES * MERGES
    with statehub.open(url) as hub:
        entry = hub.agent("checker").entry(DOC_KEY)
        changes = hub.history(key=DOC_KEY)
    assert entry is not None
    expected = {f"p{i}_{n}": n for i in range(PROCESSES) for n in range(MERGES)}
    assert entry.value == expected
    assert len(entry.value) == total
    assert entry.version == total
    assert [change.version for change in changes] == list(range(1, total + 1))
    revisions = [change.revision for change in changes]
    assert all(a < b for a, b in itertools.pairwise(revisions))


def test_concurrent_open_of_a_new_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"

    reports = _run_processes(_open_worker, url)

    _assert_no_errors(reports, 1)
    with statehub.open(url) as hub:
        assert hub.agent("checker").scan("global/opened/") == {
            f"global/opened/p{i}": i for i in range(PROCESSES)
        }
        assert hub.revision == PROCESSES
