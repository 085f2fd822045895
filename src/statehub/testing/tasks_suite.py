"""The conformance suite, third part: tasks (``agent.tasks``, :mod:`statehub.tasks`).

This module follows the contract of :mod:`statehub.testing.conformance`: every
backend test takes the ``hub`` fixture (an open, fresh, empty hub on the backend
under test) and knows nothing of the backend it runs on. Run it with a star import
next to the other parts::

    from statehub.testing.conformance import *  # noqa: F403
    from statehub.testing.lifecycle import *  # noqa: F403
    from statehub.testing.tasks_suite import *  # noqa: F403

``__all__`` lists exactly the test functions (none shares a name with the other
parts, which a test below checks), so the star import brings in nothing else.

The sections: creating, claiming, progress and finishing, illegal transitions
(each raises and writes nothing: revision, history and every value stay as they
were), leases and fencing, listing and ``next``, counters (the lesson's ``tasks``
reducer), races between threads.

The asyncio API: on a fixture that is the blocking facade over an
:class:`~statehub.AsyncHub` (:mod:`statehub.testing.blocking`), the tests act
through :class:`~statehub.tasks.AsyncTasks` on the facade's
:class:`~statehub.AsyncAgent` (:func:`_tasks`), so the async twin runs the same
assertions; one test checks that ``AsyncAgent`` offers ``agent.tasks`` itself.

Time: nothing here sleeps to let a thread get somewhere (threads start together at
a :class:`threading.Barrier`). Leases that must run out are 0.2 s long, and the
tests wait for them by polling the clock with a deadline (``_wait_past``); tests
that need a claim to stay active use leases of a minute.
"""

from __future__ import annotations

import inspect
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import pytest

import statehub
from statehub.tasks import (
    AsyncTasks,
    IllegalTransition,
    StaleClaim,
    Task,
    TaskClaimed,
    TaskExists,
    TaskNotFound,
    Tasks,
)
from statehub.testing import conformance, lifecycle
from statehub.testing.blocking import Blocking
from statehub.testing.conformance import ALICE, BOB, CAROL, _writes_nothing
from statehub.testing.lifecycle import _wait_past

__all__ = [
    "test_task_agent_tasks_is_available_on_every_agent",
    "test_task_async_twin_has_every_method_as_a_coroutine_function",
    "test_task_bad_arguments_raise_and_write_nothing",
    "test_task_claim_by_threads_at_once_has_exactly_one_winner",
    "test_task_claim_makes_it_claimed_by_the_agent_with_a_fence_and_a_lease",
    "test_task_claimed_task_refuses_another_claim_naming_the_holder_and_writes_nothing",
    "test_task_complete_records_the_result",
    "test_task_counters_use_the_builtin_tasks_reducer_in_the_transitions_own_commit",
    "test_task_create_with_an_id_of_ones_own_is_idempotent",
    "test_task_create_writes_a_pending_record_at_task_id",
    "test_task_expired_claim_reads_as_pending_and_can_be_claimed_again",
    "test_task_fail_records_the_error_and_retry_makes_it_pending_again",
    "test_task_history_is_the_hub_history_of_its_record",
    "test_task_holder_of_an_expired_claim_nobody_took_may_still_finish",
    "test_task_ids_are_short_sortable_key_segments_in_creation_order",
    "test_task_illegal_transition_raises_and_writes_nothing",
    "test_task_list_filters_by_status_and_assignee_in_id_order",
    "test_task_missing_task_raises_task_not_found_and_writes_nothing",
    "test_task_next_by_threads_claims_each_task_exactly_once",
    "test_task_next_claims_the_oldest_pending_task_and_then_none",
    "test_task_next_takes_a_task_whose_claim_expired",
    "test_task_progress_records_fraction_and_intermediate_result_and_renews_the_lease",
    "test_task_records_are_told_apart_from_other_keys_under_task",
    "test_task_release_gives_the_task_back_for_another_claim",
    "test_task_renew_extends_the_lease",
    "test_task_stale_claimer_is_refused_by_its_fence_and_writes_nothing",
    "test_task_transitions_return_the_task_as_stored",
    "test_task_values_are_copies_of_what_was_written_and_stored",
    "test_tasks_suite_exports_exactly_its_tests_and_no_name_of_the_other_parts",
]

_LONG = 60.0
"""A lease that outlives any test: the claim stays active."""

_SHORT = 0.2
"""A lease that the test waits out."""

_PATIENCE = 60.0
"""The longest a thread waits at a barrier."""

# =========================================================================== helpers


def _tasks(hub: statehub.Hub, name: str, *, counters: str | None = None) -> Tasks:
    """The task operations of agent ``name``: ``agent.tasks``, or its async twin.

    On the blocking facade of the asyncio API, :class:`AsyncTasks` is driven on the
    facade's :class:`~statehub.AsyncAgent` through the same facade, so every test
    runs against the async twin too.
    """
    agent = hub.agent(name)
    if isinstance(agent, Blocking):
        twin = AsyncTasks(agent._target, counters=counters)
        return cast(Tasks, Blocking(twin, agent._loop))
    return agent.tasks if counters is None else Tasks(agent, counters=counters)


def _now() -> float:
    return time.time()


def _labels(hub: statehub.Hub, key: str) -> list[tuple[str, str | None]]:
    """(agent, label) of every change of ``key``, oldest first."""
    return [(change.agent, change.label) for change in hub.history(key=key)]


def _pending(hub: statehub.Hub, *titles: str) -> list[Task]:
    """Alice creates a task per title; they are returned in creation order."""
    alice = _tasks(hub, ALICE)
    return [alice.create(title) for title in titles]


def _in_state(hub: statehub.Hub, state: str) -> Task:
    """A task created by Alice and, unless ``pending``, claimed by Bob (then finished)."""
    (task,) = _pending(hub, "Research AI trends")
    if state == "pending":
        return task
    bob = _tasks(hub, BOB)
    claimed = bob.claim(task.id, lease=_LONG)
    if state == "completed":
        return bob.complete(claimed, result="done")
    if state == "failed":
        return bob.fail(claimed, error="no sources")
    assert state == "claimed"
    return claimed


# =========================================================================== creating


def test_task_create_writes_a_pending_record_at_task_id(hub: statehub.Hub) -> None:
    alice = _tasks(hub, ALICE)
    task = alice.create("Research AI trends", payload={"topic": "AI", "depth": 2})
    assert (task.title, task.payload, task.status) == (
        "Research AI trends",
        {"topic": "AI", "depth": 2},
        "pending",
    )
    assert (task.assignee, task.fence, task.lease, task.lease_expires_ts) == (None, 0, None, None)
    assert (task.attempts, task.progress, task.result, task.error) == (0, 0.0, None, None)
    assert (task.created_by, task.updated_by, task.version) == (ALICE, ALICE, 1)
    assert task.key == f"task/{task.id}"
    assert task.modified_rev == hub.revision == 1
    entry = hub.agent(BOB).entry(task.key)
    assert entry is not None
    assert entry.version == 1
    assert entry.value["status"] == "pending"
    assert entry.value["payload"] == {"topic": "AI", "depth": 2}
    assert entry.value["created_by"] == ALICE
    assert _labels(hub, task.key) == [(ALICE, "create")]
    assert _tasks(hub, BOB).get(task.id) == task


def test_task_ids_are_short_sortable_key_segments_in_creation_order(hub: statehub.Hub) -> None:
    tasks = _pending(hub, *(f"task {n}" for n in range(20)))
    ids = [task.id for task in tasks]
    assert ids == sorted(ids)
    assert len(set(ids)) == 20
    for task_id in ids:
        assert len(task_id) <= 32
        assert "/" not in task_id
        statehub.keys.validate_key(f"task/{task_id}")
    assert [task.id for task in _tasks(hub, BOB).list()] == ids


def test_task_create_with_an_id_of_ones_own_is_idempotent(hub: statehub.Hub) -> None:
    alice, bob = _tasks(hub, ALICE), _tasks(hub, BOB)
    task = alice.create("Write the report", task_id="report-2025")
    assert (task.id, task.key) == ("report-2025", "task/report-2025")
    with _writes_nothing(hub), pytest.raises(TaskExists) as info:
        bob.create("Write the report again", task_id="report-2025")
    assert isinstance(info.value, statehub.StatehubError)
    assert info.value.task_id == "report-2025"
    assert "report-2025" in str(info.value)
    assert alice.get("report-2025") == task


def test_task_records_are_told_apart_from_other_keys_under_task(hub: statehub.Hub) -> None:
    writer = hub.agent(ALICE)
    (task,) = _pending(hub, "Research")
    writer.put(f"task/{task.id}/notes", {"status": "pending", "id": task.id})
    writer.put("task/run-1", {"step": 1})
    writer.put("task/run-1/step_1", "Research complete")
    bob = _tasks(hub, BOB)
    assert [listed.id for listed in bob.list()] == [task.id]
    with _writes_nothing(hub):
        with pytest.raises(TaskNotFound):
            bob.claim("run-1")
        with pytest.raises(TaskNotFound):
            bob.get("run-1")
    claimed = bob.next(lease=_LONG)
    assert claimed is not None
    assert claimed.id == task.id
    assert bob.next() is None


# =========================================================================== claiming


def test_task_claim_makes_it_claimed_by_the_agent_with_a_fence_and_a_lease(
    hub: statehub.Hub,
) -> None:
    (task,) = _pending(hub, "Research")
    bob = _tasks(hub, BOB)
    before = _now()
    claimed = bob.claim(task.id, lease=_LONG)
    assert (claimed.id, claimed.status, claimed.assignee) == (task.id, "claimed", BOB)
    assert (claimed.attempts, claimed.version, claimed.updated_by) == (1, 2, BOB)
    assert claimed.fence == claimed.version == 2
    assert claimed.lease == _LONG
    assert claimed.lease_expires_ts is not None
    assert before + _LONG - 1 < claimed.lease_expires_ts < _now() + _LONG + 1
    assert claimed.lease_expires_at is not None
    assert claimed.lease_expires_at.timestamp() == pytest.approx(claimed.lease_expires_ts)
    assert (claimed.title, claimed.created_by) == (task.title, ALICE)
    assert _tasks(hub, CAROL).get(task.id) == claimed
    assert _labels(hub, task.key) == [(ALICE, "create"), (BOB, "claim")]


def test_task_claimed_task_refuses_another_claim_naming_the_holder_and_writes_nothing(
    hub: statehub.Hub,
) -> None:
    claimed = _in_state(hub, "claimed")
    for name in (CAROL, BOB):  # the holder itself too: a claim is never taken twice
        with _writes_nothing(hub), pytest.raises(TaskClaimed) as info:
            _tasks(hub, name).claim(claimed.id, lease=_LONG)
        error = info.value
        assert isinstance(error, IllegalTransition)
        assert isinstance(error, statehub.StatehubError)
        assert (error.task_id, error.action, error.holder, error.agent) == (
            claimed.id,
            "claim",
            BOB,
            name,
        )
        assert error.expires_ts == claimed.lease_expires_ts
        assert error.expires_at == claimed.lease_expires_at
        assert BOB in str(error)
        assert claimed.id in str(error)


def test_task_claim_by_threads_at_once_has_exactly_one_winner(hub: statehub.Hub) -> None:
    (task,) = _pending(hub, "Research")
    names = [f"worker-{n}" for n in range(8)]
    barrier = threading.Barrier(len(names), timeout=_PATIENCE)

    def claim(name: str) -> Task | TaskClaimed:
        tasks = _tasks(hub, name)
        barrier.wait()
        try:
            return tasks.claim(task.id, lease=_LONG)
        except TaskClaimed as exc:
            return exc

    with ThreadPoolExecutor(len(names)) as pool:
        outcomes = list(pool.map(claim, names))
    winners = [outcome for outcome in outcomes if isinstance(outcome, Task)]
    assert len(winners) == 1
    (winner,) = winners
    losers = [outcome for outcome in outcomes if isinstance(outcome, TaskClaimed)]
    assert len(losers) == len(names) - 1
    assert {loser.holder for loser in losers} == {winner.assignee}
    stored = _tasks(hub, ALICE).get(task.id)
    assert stored == winner
    assert (stored.version, stored.attempts, stored.fence) == (2, 1, 2)
    assert [label for _, label in _labels(hub, task.key)] == ["create", "claim"]


# =========================================================================== progress, finishing


def test_task_progress_records_fraction_and_intermediate_result_and_renews_the_lease(
    hub: statehub.Hub,
) -> None:
    claimed = _in_state(hub, "claimed")
    bob = _tasks(hub, BOB)
    half = bob.progress(claimed, 0.5, result={"partial": ["trend 1"]})
    assert (half.status, half.progress, half.result) == ("claimed", 0.5, {"partial": ["trend 1"]})
    assert (half.fence, half.attempts, half.version) == (claimed.fence, 1, claimed.version + 1)
    assert half.lease_expires_ts is not None
    assert claimed.lease_expires_ts is not None
    assert half.lease_expires_ts >= claimed.lease_expires_ts
    more = bob.progress(claimed.id, 1)  # by id; the result stays as it was
    assert (more.progress, more.result) == (1.0, {"partial": ["trend 1"]})
    seen = _tasks(hub, ALICE).get(claimed.id)
    assert seen == more
    assert [label for _, label in _labels(hub, claimed.key)][-2:] == ["progress", "progress"]


def test_task_renew_extends_the_lease(hub: statehub.Hub) -> None:
    claimed = _in_state(hub, "claimed")
    bob = _tasks(hub, BOB)
    before = _now()
    renewed = bob.renew(claimed, lease=600)
    assert renewed.lease == 600
    assert renewed.lease_expires_ts is not None
    assert before + 599 < renewed.lease_expires_ts < _now() + 601
    again = bob.renew(claimed.id)  # the claim's own length
    assert again.lease == 600
    assert (again.status, again.fence, again.assignee) == ("claimed", claimed.fence, BOB)


def test_task_complete_records_the_result(hub: statehub.Hub) -> None:
    claimed = _in_state(hub, "claimed")
    done = _tasks(hub, BOB).complete(claimed, result={"trends": 5, "sources": ["a", "b"]})
    assert (done.status, done.result, done.progress, done.error) == (
        "completed",
        {"trends": 5, "sources": ["a", "b"]},
        1.0,
        None,
    )
    assert (done.assignee, done.fence, done.updated_by) == (BOB, claimed.fence, BOB)
    assert _tasks(hub, ALICE).list(status="completed") == [done]


def test_task_fail_records_the_error_and_retry_makes_it_pending_again(hub: statehub.Hub) -> None:
    claimed = _in_state(hub, "claimed")
    bob, carol = _tasks(hub, BOB), _tasks(hub, CAROL)
    bob.progress(claimed, 0.25, result={"partial": 1})
    failed = bob.fail(claimed, error="the sources were unreachable")
    assert (failed.status, failed.error, failed.result) == (
        "failed",
        "the sources were unreachable",
        {"partial": 1},
    )
    retried = _tasks(hub, ALICE).retry(failed.id)
    assert (retried.status, retried.assignee, retried.error, retried.attempts) == (
        "pending",
        None,
        None,
        1,
    )
    again = carol.claim(failed.id, lease=_LONG)
    assert (again.assignee, again.attempts) == (CAROL, 2)
    assert again.fence > claimed.fence
    assert carol.complete(again, result="done").status == "completed"


def test_task_release_gives_the_task_back_for_another_claim(hub: statehub.Hub) -> None:
    claimed = _in_state(hub, "claimed")
    bob, carol = _tasks(hub, BOB), _tasks(hub, CAROL)
    bob.progress(claimed, 0.4, result="half a draft")
    released = bob.release(claimed)
    assert (released.status, released.assignee) == ("pending", None)
    assert (released.progress, released.result) == (0.4, "half a draft")
    with _writes_nothing(hub), pytest.raises(IllegalTransition):
        bob.complete(claimed.id, result="too late")
    taken = carol.next(lease=_LONG)
    assert taken is not None
    assert (taken.id, taken.assignee, taken.attempts) == (claimed.id, CAROL, 2)


def test_task_transitions_return_the_task_as_stored(hub: statehub.Hub) -> None:
    claimed = _in_state(hub, "claimed")
    bob, alice = _tasks(hub, BOB), _tasks(hub, ALICE)
    steps: list[Callable[[], Task]] = [
        lambda: bob.progress(claimed, 0.5, result=[1]),
        lambda: bob.renew(claimed),
        lambda: bob.complete(claimed, result=[1, 2]),
    ]
    for step in steps:
        returned = step()
        assert returned.modified_rev == hub.revision
        assert alice.get(claimed.id) == returned


def test_task_values_are_copies_of_what_was_written_and_stored(hub: statehub.Hub) -> None:
    payload: dict[str, Any] = {"topics": ("AI", "ML"), "depth": 2}
    alice, bob = _tasks(hub, ALICE), _tasks(hub, BOB)
    task = alice.create("Research", payload=payload)
    payload["depth"] = 99
    task.payload["topics"].append("mutated")
    assert task.payload == {"topics": ["AI", "ML", "mutated"], "depth": 2}
    result = {"partial": [1]}
    claimed = bob.claim(task.id, lease=_LONG)
    reported = bob.progress(claimed, 0.5, result=result)
    result["partial"].append(2)
    stored = alice.get(task.id)
    assert stored is not None
    assert stored.payload == {"topics": ["AI", "ML"], "depth": 2}
    assert stored.result == reported.result == {"partial": [1]}


def test_task_history_is_the_hub_history_of_its_record(hub: statehub.Hub) -> None:
    claimed = _in_state(hub, "claimed")
    bob = _tasks(hub, BOB)
    bob.progress(claimed, 0.5, result={"partial": "x"})
    bob.complete(claimed, result={"final": "y"})
    assert _labels(hub, claimed.key) == [
        (ALICE, "create"),
        (BOB, "claim"),
        (BOB, "progress"),
        (BOB, "complete"),
    ]
    changes = hub.history(key=claimed.key)
    assert [change.version for change in changes] == [1, 2, 3, 4]
    statuses = [hub.agent(CAROL).get(claimed.key, at=c.revision)["status"] for c in changes]
    assert statuses == ["pending", "claimed", "claimed", "completed"]


# =========================================================================== illegal transitions

_Attempt = Callable[[statehub.Hub, Task], object]

_ILLEGAL: dict[str, tuple[str, _Attempt, str]] = {
    # name: (state of the task, the attempt, the status the error names)
    "complete_pending": ("pending", lambda h, t: _tasks(h, BOB).complete(t.id, "x"), "pending"),
    "fail_pending": ("pending", lambda h, t: _tasks(h, BOB).fail(t.id, "x"), "pending"),
    "progress_pending": ("pending", lambda h, t: _tasks(h, BOB).progress(t.id, 0.5), "pending"),
    "renew_pending": ("pending", lambda h, t: _tasks(h, BOB).renew(t.id), "pending"),
    "release_pending": ("pending", lambda h, t: _tasks(h, BOB).release(t.id), "pending"),
    "retry_pending": ("pending", lambda h, t: _tasks(h, ALICE).retry(t.id), "pending"),
    "complete_not_held": (
        "claimed",
        lambda h, t: _tasks(h, CAROL).complete(t.id, "x"),
        "claimed",
    ),
    "fail_not_held": ("claimed", lambda h, t: _tasks(h, CAROL).fail(t.id, "x"), "claimed"),
    "progress_not_held": (
        "claimed",
        lambda h, t: _tasks(h, CAROL).progress(t.id, 0.5),
        "claimed",
    ),
    "renew_not_held": ("claimed", lambda h, t: _tasks(h, CAROL).renew(t.id), "claimed"),
    "release_not_held": ("claimed", lambda h, t: _tasks(h, CAROL).release(t.id), "claimed"),
    "complete_someone_elses_task_with_its_fence": (
        "claimed",
        lambda h, t: _tasks(h, CAROL).complete(t, "x"),
        "claimed",
    ),
    "retry_claimed": ("claimed", lambda h, t: _tasks(h, ALICE).retry(t.id), "claimed"),
    "complete_completed": (
        "completed",
        lambda h, t: _tasks(h, BOB).complete(t, "again"),
        "completed",
    ),
    "fail_completed": ("completed", lambda h, t: _tasks(h, BOB).fail(t, "x"), "completed"),
    "progress_completed": (
        "completed",
        lambda h, t: _tasks(h, BOB).progress(t, 0.5),
        "completed",
    ),
    "claim_completed": (
        "completed",
        lambda h, t: _tasks(h, CAROL).claim(t.id, lease=_LONG),
        "completed",
    ),
    "retry_completed": ("completed", lambda h, t: _tasks(h, ALICE).retry(t.id), "completed"),
    "complete_failed": ("failed", lambda h, t: _tasks(h, BOB).complete(t, "x"), "failed"),
    "fail_failed": ("failed", lambda h, t: _tasks(h, BOB).fail(t, "again"), "failed"),
    "release_failed": ("failed", lambda h, t: _tasks(h, BOB).release(t), "failed"),
    "claim_failed": (
        "failed",
        lambda h, t: _tasks(h, CAROL).claim(t.id, lease=_LONG),
        "failed",
    ),
}
"""Every illegal transition, from each status, by the holder and by others."""


@pytest.mark.parametrize("case", list(_ILLEGAL))
def test_task_illegal_transition_raises_and_writes_nothing(hub: statehub.Hub, case: str) -> None:
    state, attempt, status = _ILLEGAL[case]
    task = _in_state(hub, state)
    with _writes_nothing(hub), pytest.raises(IllegalTransition) as info:
        attempt(hub, task)
    error = info.value
    assert not isinstance(error, TaskClaimed)
    assert isinstance(error, statehub.StatehubError)
    assert (error.task_id, error.status) == (task.id, status)
    assert error.action in case
    assert task.id in str(error)
    assert error.action in str(error)


def test_task_missing_task_raises_task_not_found_and_writes_nothing(hub: statehub.Hub) -> None:
    _pending(hub, "Research")
    bob = _tasks(hub, BOB)
    attempts: list[Callable[[], object]] = [
        lambda: bob.claim("no-such-task"),
        lambda: bob.progress("no-such-task", 0.5),
        lambda: bob.renew("no-such-task"),
        lambda: bob.complete("no-such-task", "x"),
        lambda: bob.fail("no-such-task", "x"),
        lambda: bob.release("no-such-task"),
        lambda: bob.retry("no-such-task"),
    ]
    for attempt in attempts:
        with _writes_nothing(hub), pytest.raises(TaskNotFound) as info:
            attempt()
        assert isinstance(info.value, LookupError)
        assert info.value.task_id == "no-such-task"
    assert bob.get("no-such-task") is None


def test_task_bad_arguments_raise_and_write_nothing(hub: statehub.Hub) -> None:
    claimed = _in_state(hub, "claimed")
    bob = _tasks(hub, BOB)
    refused: list[tuple[type[Exception], Callable[[], object]]] = [
        (statehub.InvalidArgument, lambda: bob.create("")),
        (statehub.InvalidValue, lambda: bob.create("Research", payload={"when": {1, 2}})),
        (statehub.InvalidKey, lambda: bob.create("Research", task_id="a/b")),
        (statehub.InvalidKey, lambda: bob.create("Research", task_id="")),
        (statehub.InvalidKey, lambda: bob.claim("a b")),
        (statehub.InvalidArgument, lambda: bob.claim(claimed.id, lease=0)),
        (statehub.InvalidArgument, lambda: bob.claim(claimed.id, lease=-1)),
        (statehub.InvalidArgument, lambda: bob.next(lease=cast(float, "soon"))),
        (statehub.InvalidArgument, lambda: bob.progress(claimed, 1.5)),
        (statehub.InvalidArgument, lambda: bob.progress(claimed, -0.1)),
        (statehub.InvalidArgument, lambda: bob.progress(claimed, math.nan)),
        (statehub.InvalidArgument, lambda: bob.progress(claimed, True)),
        (statehub.InvalidValue, lambda: bob.progress(claimed, 0.5, result=object())),
        (statehub.InvalidValue, lambda: bob.complete(claimed, result={1j})),
        (statehub.InvalidArgument, lambda: bob.fail(claimed, error=cast(str, 42))),
        (statehub.InvalidArgument, lambda: bob.complete(claimed.id, "x", fence=0)),
        (statehub.InvalidArgument, lambda: bob.renew(claimed, lease=cast(float, "1"))),
        (statehub.InvalidArgument, lambda: bob.list(status=cast(Any, "done"))),
    ]
    for error, attempt in refused:
        with _writes_nothing(hub), pytest.raises(error):
            attempt()
    assert _tasks(hub, ALICE).get(claimed.id) == claimed


# =========================================================================== leases and fencing


def test_task_expired_claim_reads_as_pending_and_can_be_claimed_again(hub: statehub.Hub) -> None:
    (task,) = _pending(hub, "Research")
    bob, carol = _tasks(hub, BOB), _tasks(hub, CAROL)
    claimed = bob.claim(task.id, lease=_SHORT)
    revision = hub.revision
    _wait_past(claimed.lease_expires_ts)
    assert hub.revision == revision  # nothing is written when a lease runs out
    expired = carol.get(task.id)
    assert expired is not None
    assert (expired.status, expired.assignee, expired.fence) == ("pending", BOB, claimed.fence)
    assert carol.list(status="pending") == [expired]
    assert carol.list(status="claimed") == []
    retaken = carol.claim(task.id, lease=_LONG)
    assert (retaken.status, retaken.assignee, retaken.attempts) == ("claimed", CAROL, 2)
    assert retaken.fence > claimed.fence
    assert [label for _, label in _labels(hub, task.key)] == ["create", "claim", "claim"]


def test_task_stale_claimer_is_refused_by_its_fence_and_writes_nothing(hub: statehub.Hub) -> None:
    (task,) = _pending(hub, "Research")
    bob, carol = _tasks(hub, BOB), _tasks(hub, CAROL)
    stale = bob.claim(task.id, lease=_SHORT)
    _wait_past(stale.lease_expires_ts)
    current = carol.claim(task.id, lease=_LONG)
    late_writes: list[Callable[[], object]] = [
        lambda: bob.progress(stale, 0.9, result="late"),
        lambda: bob.renew(stale),
        lambda: bob.complete(stale, result="late"),
        lambda: bob.fail(stale, error="late"),
        lambda: bob.release(stale),
        lambda: bob.complete(task.id, result="late", fence=stale.fence),
    ]
    for late in late_writes:
        with _writes_nothing(hub), pytest.raises(StaleClaim) as info:
            late()
        error = info.value
        assert isinstance(error, statehub.StaleFenceError)
        assert (error.task_id, error.key) == (task.id, task.key)
        assert (error.fence, error.current, error.holder) == (stale.fence, current.fence, CAROL)
        assert str(stale.fence) in str(error)
    with _writes_nothing(hub), pytest.raises(IllegalTransition):
        bob.complete(task.id, result="late, without the fence")
    done = carol.complete(current, result="on time")
    assert (done.result, done.assignee) == ("on time", CAROL)
    with _writes_nothing(hub), pytest.raises(StaleClaim):
        bob.complete(stale, result="later still")


def test_task_holder_of_an_expired_claim_nobody_took_may_still_finish(hub: statehub.Hub) -> None:
    (first, second) = _pending(hub, "Research", "Write")
    bob = _tasks(hub, BOB)
    slow = bob.claim(first.id, lease=_SHORT)
    slower = bob.claim(second.id, lease=_SHORT)
    _wait_past(max(slow.lease_expires_ts or 0, slower.lease_expires_ts or 0))
    revived = bob.progress(slow, 0.5)  # a heartbeat: claimed again, for a lease more
    assert (revived.status, revived.fence) == ("claimed", slow.fence)
    assert revived.lease_expires_ts is not None
    assert revived.lease_expires_ts > _now()
    done = bob.complete(slower, result="late but done")
    assert (done.status, done.result, done.fence) == ("completed", "late but done", slower.fence)


# =========================================================================== listing and next


def test_task_list_filters_by_status_and_assignee_in_id_order(hub: statehub.Hub) -> None:
    tasks = _pending(hub, "a", "b", "c", "d", "e")
    bob, carol = _tasks(hub, BOB), _tasks(hub, CAROL)
    bob.claim(tasks[0].id, lease=_LONG)
    bob.complete(bob.claim(tasks[1].id, lease=_LONG), result=1)
    carol.fail(carol.claim(tasks[2].id, lease=_LONG), error="no")
    carol.claim(tasks[3].id, lease=_LONG)
    alice = _tasks(hub, ALICE)

    def titles(status: Any = None, assignee: str | None = None) -> list[str]:
        return [task.title for task in alice.list(status, assignee=assignee)]

    assert titles() == ["a", "b", "c", "d", "e"]
    assert titles("pending") == ["e"]
    assert titles("claimed") == ["a", "d"]
    assert titles("completed") == ["b"]
    assert titles("failed") == ["c"]
    assert titles(assignee=BOB) == ["a", "b"]
    assert titles("claimed", assignee=CAROL) == ["d"]
    assert titles(assignee=ALICE) == []


def test_task_next_claims_the_oldest_pending_task_and_then_none(hub: statehub.Hub) -> None:
    tasks = _pending(hub, "first", "second", "third")
    bob, carol = _tasks(hub, BOB), _tasks(hub, CAROL)
    carol.claim(tasks[1].id, lease=_LONG)
    got = bob.next(lease=_LONG)
    assert got is not None
    assert (got.id, got.status, got.assignee, got.lease) == (tasks[0].id, "claimed", BOB, _LONG)
    got = bob.next(lease=_LONG)
    assert got is not None
    assert got.id == tasks[2].id
    with _writes_nothing(hub):
        assert bob.next() is None
        assert carol.next() is None


def test_task_next_takes_a_task_whose_claim_expired(hub: statehub.Hub) -> None:
    tasks = _pending(hub, "first", "second")
    bob, carol = _tasks(hub, BOB), _tasks(hub, CAROL)
    carol.claim(tasks[1].id, lease=_LONG)
    dropped = bob.next(lease=_SHORT)
    assert dropped is not None
    assert dropped.id == tasks[0].id
    _wait_past(dropped.lease_expires_ts)
    taken = carol.next(lease=_LONG)
    assert taken is not None
    assert (taken.id, taken.assignee, taken.attempts) == (tasks[0].id, CAROL, 2)
    assert taken.fence > dropped.fence


def test_task_next_by_threads_claims_each_task_exactly_once(hub: statehub.Hub) -> None:
    tasks = _pending(hub, *(f"task {n}" for n in range(12)))
    names = [f"worker-{n}" for n in range(4)]
    barrier = threading.Barrier(len(names), timeout=_PATIENCE)

    def drain(name: str) -> list[str]:
        worker = _tasks(hub, name)
        done: list[str] = []
        barrier.wait()
        while (task := worker.next(lease=_LONG)) is not None:
            worker.complete(task, result={"by": name})
            done.append(task.id)
        return done

    with ThreadPoolExecutor(len(names)) as pool:
        done = [task_id for ids in pool.map(drain, names) for task_id in ids]
    assert sorted(done) == [task.id for task in tasks]
    finished = _tasks(hub, ALICE).list()
    assert [task.status for task in finished] == ["completed"] * len(tasks)
    for task in finished:
        assert task.result == {"by": task.assignee}
        assert task.attempts == 1
        labels = Counter(label for _, label in _labels(hub, task.key))
        assert labels == {"create": 1, "claim": 1, "complete": 1}


# =========================================================================== counters


def test_task_counters_use_the_builtin_tasks_reducer_in_the_transitions_own_commit(
    hub: statehub.Hub,
) -> None:
    key = "global/task_counts"
    alice = _tasks(hub, ALICE, counters=key)
    bob = _tasks(hub, BOB, counters=key)
    first, second, third = (alice.create(title) for title in ("a", "b", "c"))
    bob.complete(bob.claim(first.id, lease=_LONG), result=1)
    failing = bob.claim(second.id, lease=_LONG)
    with _writes_nothing(hub), pytest.raises(IllegalTransition):
        alice.complete(failing, result="not mine")  # refused: no count either
    bob.fail(failing, error="no")
    counts = hub.agent(CAROL).get(key)
    assert (counts["total"], counts["completed"], counts["failed"]) == (3, 1, 1)
    assert [task["id"] for task in counts["tasks"]] == [first.id, second.id, third.id]
    task_revisions = {
        change.revision
        for change in hub.history(prefix="task/")
        if change.label in ("create", "complete", "fail")
    }
    counter_changes = hub.history(key=key)
    assert {change.revision for change in counter_changes} == task_revisions
    assert [change.label for change in counter_changes] == [
        "ADD",
        "ADD",
        "ADD",
        "COMPLETE",
        "FAIL",
    ]
    assert {change.cause["reducer"] for change in counter_changes} == {"tasks"}
    # The same reducer, by name, for counters kept by hand.
    carol = hub.agent(CAROL)
    carol.dispatch("global/manual", {"type": "ADD", "task": "Research"}, reducer="tasks")
    carol.dispatch("global/manual", {"type": "COMPLETE"}, reducer="tasks")
    assert carol.get("global/manual") == {
        "tasks": ["Research"],
        "total": 1,
        "completed": 1,
        "failed": 0,
    }


# =========================================================================== the API itself


def test_task_agent_tasks_is_available_on_every_agent(hub: statehub.Hub) -> None:
    agent = hub.agent(ALICE)
    tasks = agent.tasks
    if isinstance(agent, Blocking):
        assert isinstance(tasks, Blocking)
    else:
        assert isinstance(tasks, Tasks)
        assert tasks.agent is agent
    created = tasks.create("Research")
    assert created.created_by == ALICE
    assert tasks.get(created.id) == created


def test_task_async_twin_has_every_method_as_a_coroutine_function() -> None:
    public = {
        name
        for name, value in vars(Tasks).items()
        if not name.startswith("_") and inspect.isfunction(value)
    }
    assert public == {
        "get",
        "list",
        "create",
        "claim",
        "next",
        "progress",
        "renew",
        "complete",
        "fail",
        "release",
        "retry",
    }
    for name in public:
        assert inspect.iscoroutinefunction(getattr(AsyncTasks, name)), name
        assert getattr(AsyncTasks, name).__doc__ == getattr(Tasks, name).__doc__


def test_tasks_suite_exports_exactly_its_tests_and_no_name_of_the_other_parts() -> None:
    tests = {
        name
        for name, value in globals().items()
        if name.startswith("test_") and inspect.isfunction(value)
    }
    assert sorted(__all__) == sorted(tests) == __all__
    assert not set(__all__) & (set(conformance.__all__) | set(lifecycle.__all__))
