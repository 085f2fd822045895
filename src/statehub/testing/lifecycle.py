"""The conformance suite, second part: locks, TTL, checkpoints, rollback, diff, watch.

This module is the second part of the conformance suite of
:mod:`statehub.testing.conformance`, and follows the same contract: every test takes
the ``hub`` fixture (an open, fresh, empty hub on the backend under test; ``tmp_path``
too where a test writes files) and knows nothing of the backend it runs on. Run it
exactly like the first part, with a star import next to that one::

    from statehub.testing.conformance import *  # noqa: F403
    from statehub.testing.lifecycle import *  # noqa: F403

``__all__`` lists exactly the test functions (and none shares a name with the first
part, which a test below checks), so the star import brings in nothing else.

The sections: locks (leases, fences), TTL (expiry and its logged removal),
checkpoints, time travel at checkpoints, rollback, diff, compaction, watch and
``wait_for``, export and import. Tests are named for the behaviour they pin down.

Time: nothing here sleeps to let another thread get somewhere. Threads are
synchronised with :class:`threading.Event`, or the writes happen first and a watch
reads them with ``since=``. Leases and TTLs are short (a few tenths of a second) and
the tests wait for their deadline to pass by polling with a deadline of their own
(:func:`_eventually`): waiting for a clock is the one use of time here.

Imports: ``statehub.import_file(path, into=hub)`` takes a :class:`statehub.Hub`. A
hub fixture that is a facade over one (the asyncio API's ``AsyncHub`` exposes it as
``.sync``) is unwrapped for that call only (:func:`_plain`); everything else goes
through the fixture as given.
"""

from __future__ import annotations

import copy
import inspect
import json
import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest

import statehub
from statehub.testing import conformance
from statehub.testing.conformance import (
    ALICE,
    BOB,
    CAROL,
    _apply_json_patch,
    _assert_same_json,
    _writes_nothing,
)

__all__ = [
    "test_a_key_removed_by_a_rollback_reads_as_absent_at_that_revision",
    "test_agent_diff_never_shows_other_agents_private_keys",
    "test_agent_watch_yields_only_keys_the_agent_may_see",
    "test_checkpoint_is_one_small_commit_whatever_the_size_of_the_hub",
    "test_checkpoint_names_must_be_one_key_segment",
    "test_checkpoint_names_the_current_revision_and_is_listed_with_its_agent_and_time",
    "test_checkpoints_are_listed_oldest_first",
    "test_compact_before_a_checkpoint_name_keeps_history_from_that_checkpoint",
    "test_compact_drops_history_before_the_revision_and_moves_the_oldest_revision",
    "test_compact_keeps_reads_at_live_checkpoints_working",
    "test_compact_keeps_reads_from_the_boundary_on_working",
    "test_compact_keeps_time_travel_of_values_logged_as_patches_working",
    "test_compact_never_drops_the_newest_change",
    "test_compact_older_than_drops_only_changes_older_than_that_age",
    "test_compact_twice_or_backwards_drops_nothing_more",
    "test_compact_with_bad_arguments_raises_invalid_argument",
    "test_compacted_checkpoint_reads_do_not_resurrect_keys_deleted_after_the_checkpoint",
    "test_corrupt_or_hand_edited_export_raises_invalid_argument_naming_it_and_writes_nothing",
    "test_deleted_checkpoint_is_forgotten_and_its_name_can_be_reused",
    "test_deleted_checkpoint_no_longer_protects_its_revision_from_compaction",
    "test_diff_between_revision_numbers_and_checkpoint_names_agree",
    "test_diff_in_reverse_swaps_added_and_removed",
    "test_diff_lists_added_removed_and_changed_keys",
    "test_diff_of_a_revision_with_itself_is_empty",
    "test_diff_patches_turn_each_old_value_into_the_new_one",
    "test_diff_render_shows_one_line_per_key_and_the_patch_of_changed_ones",
    "test_diff_shows_only_user_keys_never_statehubs_own_rows",
    "test_diff_under_a_prefix_compares_only_those_keys",
    "test_duplicate_checkpoint_name_raises_invalid_argument_and_writes_nothing",
    "test_expired_key_is_removed_by_an_expire_change_attributed_to_statehub",
    "test_expired_key_nobody_touches_is_removed_by_the_sweep_of_a_later_commit",
    "test_expired_lease_not_taken_over_still_accepts_its_holders_fenced_write",
    "test_export_of_a_state_only_import_can_be_imported_again_with_history",
    "test_export_with_history_after_compaction_round_trips_oldest_revision_and_checkpoints",
    "test_export_with_history_round_trips_state_revisions_history_and_checkpoints",
    "test_fence_of_another_agents_lease_raises_stale_fence_error_and_writes_nothing",
    "test_fence_on_a_key_with_no_lock_raises_stale_fence_error_and_writes_nothing",
    "test_hub_locks_lists_every_held_lock_and_no_expired_or_released_one",
    "test_hub_watch_sees_statehubs_own_rows_too",
    "test_import_into_a_non_empty_hub_is_refused_and_writes_nothing",
    "test_import_of_an_export_with_history_reproduces_it_on_this_backend",
    "test_key_with_a_ttl_reads_as_absent_once_it_expires",
    "test_lease_expires_by_itself_and_then_blocks_nobody",
    "test_lifecycle_suite_exports_exactly_its_tests_and_no_name_of_the_first_part",
    "test_lock_as_a_context_manager_releases_the_lease_on_exit",
    "test_lock_grants_a_lease_whose_fence_is_the_revision_that_granted_it",
    "test_lock_held_by_another_agent_raises_locked_error_naming_holder_and_expiry",
    "test_lock_holder_writes_the_locked_key_with_or_without_its_fence",
    "test_lock_on_a_key_the_agent_may_not_write_is_refused",
    "test_lock_or_renew_with_a_bad_ttl_raises_invalid_argument_and_writes_nothing",
    "test_lock_wait_that_runs_out_raises_locked_error",
    "test_lock_with_wait_gets_the_lease_once_the_holder_releases_it",
    "test_lock_with_wait_waits_for_an_abandoned_lease_to_expire",
    "test_locked_key_refuses_every_write_by_another_agent_and_writes_nothing",
    "test_locks_renewals_and_releases_are_logged_for_the_hub_only",
    "test_merge_and_dispatch_keep_the_expiry",
    "test_put_without_ttl_clears_the_expiry",
    "test_release_frees_the_key_and_a_second_release_returns_false",
    "test_renew_extends_the_lease_and_keeps_its_fence",
    "test_rollback_fails_cleanly_when_a_key_under_the_prefix_is_locked_by_another_agent",
    "test_rollback_fails_cleanly_when_a_key_under_the_prefix_is_owned_by_another_agent",
    "test_rollback_keeps_history_and_is_logged_as_rollback",
    "test_rollback_never_touches_keys_the_agent_cannot_see",
    "test_rollback_only_touches_keys_under_the_prefix",
    "test_rollback_restores_changed_keys_and_deletes_created_ones_in_one_commit",
    "test_rollback_to_a_revision_number_restores_that_revision",
    "test_rollback_with_nothing_to_undo_returns_none_and_uses_no_revision",
    "test_scan_at_a_revision_or_checkpoint_is_the_snapshot_of_then",
    "test_scan_at_never_shows_other_agents_private_keys",
    "test_state_only_export_holds_the_live_user_keys_only",
    "test_state_only_import_restores_every_key_in_one_commit",
    "test_time_travel_to_a_checkpoint_reads_each_key_as_it_was_then",
    "test_time_travel_to_a_compacted_revision_raises_compacted_error_naming_the_oldest",
    "test_ttl_given_to_merge_or_dispatch_sets_a_new_expiry",
    "test_ttl_must_be_a_positive_number_of_seconds",
    "test_unknown_checkpoint_raises_unknown_checkpoint_naming_it",
    "test_wait_for_returns_true_once_the_revision_is_reached_and_false_on_timeout",
    "test_watch_ends_after_its_timeout_without_changes",
    "test_watch_is_resumable_from_any_revision_still_in_history",
    "test_watch_of_a_commit_of_several_keys_yields_them_together_in_key_order",
    "test_watch_only_yields_keys_under_its_prefix",
    "test_watch_since_yields_every_later_change_in_revision_order",
    "test_watch_without_since_starts_at_the_head_when_it_is_called",
    "test_watch_yields_changes_committed_by_other_threads_while_it_waits",
    "test_write_with_the_fence_of_a_lease_taken_over_raises_stale_fence_error",
]

_SYSTEM_AGENT = "_statehub"
"""Whom expiry changes are attributed to (not a valid agent name)."""

_PATIENCE = 5.0
"""The longest a test waits for a deadline to pass or a thread to get somewhere."""

_MARGIN = 0.05
"""Seconds waited past a deadline, against clocks that differ a little (a server's)."""


# =========================================================================== helpers


def _eventually(condition: Callable[[], bool], what: str, *, interval: float = 0.01) -> None:
    """Poll ``condition`` until it holds; fail after :data:`_PATIENCE` seconds.

    Only for waiting for a clock (a lease or a TTL to run out, a sweep to be due):
    threads are synchronised with events, never with this.
    """
    deadline = time.monotonic() + _PATIENCE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not the case after {_PATIENCE} s: {what}")
        time.sleep(interval)


def _wait_past(timestamp: float | None) -> None:
    """Return once the wall clock is safely past ``timestamp`` (seconds since the epoch)."""
    assert timestamp is not None
    _eventually(lambda: time.time() > timestamp + _MARGIN, f"the clock to pass {timestamp}")


def _plain(hub: statehub.Hub) -> statehub.Hub:
    """The :class:`statehub.Hub` behind the fixture, for ``statehub.import_file(into=)``."""
    return cast(statehub.Hub, getattr(hub, "sync", hub))


def _views(hub: statehub.Hub, at: int | str | None = None) -> dict[str, dict[str, Any]]:
    """What each test agent sees (its private keys and the shared ones), now or ``at``."""
    return {name: hub.agent(name).scan("", at=at) for name in (ALICE, BOB, CAROL)}


def _entries(hub: statehub.Hub) -> dict[str, list[tuple[Any, ...]]]:
    """Every entry each test agent sees, with all its metadata."""
    return {
        name: [
            (
                entry.key,
                json.dumps(entry.value, sort_keys=True),
                entry.version,
                entry.created_rev,
                entry.modified_rev,
                entry.updated_by,
                entry.updated_ts,
                entry.expires_ts,
                entry.owner,
            )
            for entry in hub.agent(name).entries("")
        ]
        for name in (ALICE, BOB, CAROL)
    }


def _lock_keys(hub: statehub.Hub) -> list[str]:
    return [lock.key for lock in hub.locks()]


def _history_at(hub: statehub.Hub, revision: int) -> list[statehub.Change]:
    return hub.history(since=revision - 1, until=revision)


def _seven_revisions(hub: statehub.Hub) -> dict[int, dict[str, Any]]:
    """Seven commits under ``global/``; returns what Alice saw at each revision 0-7."""
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    alice.put("global/a", 1)  # 1
    bob.put("global/b", "b1")  # 2
    alice.put("global/still", "untouched since 3")  # 3
    alice.put("global/a", 2)  # 4
    bob.delete("global/b")  # 5
    alice.merge("global/c", {"x": 1})  # 6
    alice.put("global/a", 3)  # 7
    assert hub.revision == 7
    return {revision: alice.scan("global/", at=revision) for revision in range(8)}


# =========================================================================== locks


def test_lock_grants_a_lease_whose_fence_is_the_revision_that_granted_it(
    hub: statehub.Hub,
) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/plan", ["draft"])
    before = time.time()
    lease = alice.lock("global/plan", ttl=30)
    assert lease.key == "global/plan"
    assert lease.fence == hub.revision == 2
    assert before + 29 < lease.expires_ts < time.time() + 31
    assert lease.expires_at == datetime.fromtimestamp(lease.expires_ts, UTC)
    entry = alice.entry("global/plan")
    assert entry is not None
    assert (entry.value, entry.version) == (["draft"], 1)  # locking does not write the key


def test_lock_held_by_another_agent_raises_locked_error_naming_holder_and_expiry(
    hub: statehub.Hub,
) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    lease = alice.lock("global/plan", ttl=30)
    with _writes_nothing(hub), pytest.raises(statehub.LockedError) as info:
        bob.lock("global/plan", ttl=30)
    assert isinstance(info.value, statehub.StatehubError)
    assert (info.value.key, info.value.holder) == ("global/plan", ALICE)
    assert info.value.expires_at == lease.expires_at
    assert ALICE in str(info.value)
    assert [(lock.holder, lock.fence) for lock in hub.locks()] == [(ALICE, lease.fence)]


_LOCKED = "global/plan"
"""The key the locked-write tests lock."""


def _locked_put(agent: statehub.Agent) -> object:
    return agent.put(_LOCKED, ["theirs"])


def _locked_put_cas(agent: statehub.Agent) -> object:
    return agent.put(_LOCKED, ["theirs"], expect_version=2)


def _locked_put_ttl(agent: statehub.Agent) -> object:
    return agent.put(_LOCKED, ["theirs"], ttl=30)


def _locked_merge(agent: statehub.Agent) -> object:
    return agent.merge(_LOCKED, {"theirs": True})


def _locked_dispatch(agent: statehub.Agent) -> object:
    return agent.dispatch(_LOCKED, "theirs", reducer="append")


def _locked_delete(agent: statehub.Agent) -> object:
    return agent.delete(_LOCKED)


def _locked_update(agent: statehub.Agent) -> object:
    return agent.update(_LOCKED, lambda value: [*value, "theirs"])


def _locked_tx_put(agent: statehub.Agent) -> object:
    with agent.transaction() as tx:
        tx.put("global/free", "side effect")
        tx.put(_LOCKED, ["theirs"])
    return tx.revision


def _locked_tx_merge(agent: statehub.Agent) -> object:
    with agent.transaction() as tx:
        tx.merge(_LOCKED, {"theirs": True})
        tx.put("global/free", "side effect")
    return tx.revision


def _locked_tx_dispatch(agent: statehub.Agent) -> object:
    with agent.transaction() as tx:
        tx.dispatch(_LOCKED, "theirs", reducer="append")
    return tx.revision


def _locked_tx_delete(agent: statehub.Agent) -> object:
    with agent.transaction() as tx:
        tx.put("global/free", "side effect")
        tx.delete(_LOCKED)
    return tx.revision


def _locked_rollback_key(agent: statehub.Agent) -> object:
    return agent.rollback("before", prefix=_LOCKED)


def _locked_rollback_scope(agent: statehub.Agent) -> object:
    # global/free changed too; the rollback is all or nothing.
    return agent.rollback("before", prefix="global/")


_LOCKED_WRITES: dict[str, Callable[[statehub.Agent], object]] = {
    "put": _locked_put,
    "put_expect_version": _locked_put_cas,
    "put_ttl": _locked_put_ttl,
    "merge": _locked_merge,
    "dispatch": _locked_dispatch,
    "delete": _locked_delete,
    "update": _locked_update,
    "transaction_put": _locked_tx_put,
    "transaction_merge": _locked_tx_merge,
    "transaction_dispatch": _locked_tx_dispatch,
    "transaction_delete": _locked_tx_delete,
    "rollback_key": _locked_rollback_key,
    "rollback_scope": _locked_rollback_scope,
}


@pytest.mark.parametrize("write", list(_LOCKED_WRITES))
def test_locked_key_refuses_every_write_by_another_agent_and_writes_nothing(
    hub: statehub.Hub, write: str
) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    alice.put(_LOCKED, ["v1"])
    alice.checkpoint("before")
    alice.put(_LOCKED, ["v1", "v2"])
    alice.put("global/free", "changed after the checkpoint")
    lease = alice.lock(_LOCKED, ttl=30)
    with _writes_nothing(hub), pytest.raises(statehub.LockedError) as info:
        _LOCKED_WRITES[write](bob)
    assert (info.value.key, info.value.holder) == (_LOCKED, ALICE)
    assert info.value.expires_at == lease.expires_at
    assert bob.get(_LOCKED) == ["v1", "v2"]
    # The holder itself is not blocked.
    assert alice.put(_LOCKED, ["mine"]).value == ["mine"]


def test_lock_holder_writes_the_locked_key_with_or_without_its_fence(hub: statehub.Hub) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    alice.put("global/doc", {"v": 0})
    alice.checkpoint("start")
    lease = alice.lock("global/doc", ttl=30)
    assert alice.put("global/doc", {"v": 1}, fence=lease.fence).version == 2
    assert alice.merge("global/doc", {"m": 1}, fence=lease.fence).value == {"v": 1, "m": 1}
    dispatched = alice.dispatch("global/doc", {"d": 1}, reducer="merge", fence=lease.fence)
    assert dispatched.value == {"v": 1, "m": 1, "d": 1}
    assert alice.put("global/doc", {"v": 2}).version == 5  # no fence: the holder may
    with alice.transaction() as tx:
        tx.merge("global/doc", {"tx": True}, fence=lease.fence)
        tx.put("global/other", 1)
    assert bob.get("global/doc") == {"v": 2, "tx": True}
    assert alice.rollback("start", prefix="global/doc") is not None
    assert bob.get("global/doc") == {"v": 0}
    assert alice.delete("global/doc", fence=lease.fence) is not None
    assert bob.get("global/doc") is None
    assert [lock.key for lock in hub.locks()] == ["global/doc"]  # writes keep the lock


def test_lock_as_a_context_manager_releases_the_lease_on_exit(hub: statehub.Hub) -> None:
    coordinator, researcher = hub.agent("coordinator"), hub.agent("researcher")
    with coordinator.lock("global/task_plan", ttl=30, wait=5) as lease:
        coordinator.put("global/task_plan", ["step1", "step2"], fence=lease.fence)
        with pytest.raises(statehub.LockedError) as info:
            researcher.put("global/task_plan", ["modified"])
        assert info.value.holder == "coordinator"
        assert _lock_keys(hub) == ["global/task_plan"]
    assert hub.locks() == []
    assert researcher.put("global/task_plan", ["modified"]).value == ["modified"]
    with pytest.raises(RuntimeError), coordinator.lock("global/task_plan", ttl=30):
        raise RuntimeError("the block failed")
    assert hub.locks() == []


def test_lock_with_wait_gets_the_lease_once_the_holder_releases_it(hub: statehub.Hub) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    held = alice.lock("global/plan", ttl=30)
    bob_is_waiting = threading.Event()
    released: list[bool] = []

    def release() -> None:
        assert bob_is_waiting.wait(_PATIENCE)
        released.append(held.release())

    thread = threading.Thread(target=release)
    thread.start()
    started = time.monotonic()
    bob_is_waiting.set()
    try:
        taken = bob.lock("global/plan", ttl=30, wait=_PATIENCE * 2)
    finally:
        thread.join(_PATIENCE)
    assert released == [True]
    assert time.monotonic() - started < _PATIENCE * 2  # not the 30 s of Alice's lease
    assert taken.fence > held.fence
    assert [(lock.holder, lock.fence) for lock in hub.locks()] == [(BOB, taken.fence)]


def test_lock_with_wait_waits_for_an_abandoned_lease_to_expire(hub: statehub.Hub) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    abandoned = alice.lock("global/plan", ttl=0.3)
    taken = bob.lock("global/plan", ttl=30, wait=_PATIENCE)
    assert time.time() > abandoned.expires_ts - _MARGIN
    assert taken.fence > abandoned.fence
    assert [(lock.holder, lock.fence) for lock in hub.locks()] == [(BOB, taken.fence)]


def test_lock_wait_that_runs_out_raises_locked_error(hub: statehub.Hub) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    alice.lock("global/plan", ttl=30)
    started = time.monotonic()
    with _writes_nothing(hub), pytest.raises(statehub.LockedError) as info:
        bob.lock("global/plan", ttl=30, wait=0.2)
    assert time.monotonic() - started >= 0.2
    assert info.value.holder == ALICE


def test_renew_extends_the_lease_and_keeps_its_fence(hub: statehub.Hub) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    lease = alice.lock("global/plan", ttl=0.3)
    fence, first_expiry = lease.fence, lease.expires_ts
    lease.renew(30)
    assert lease.fence == fence
    assert lease.expires_ts > first_expiry + 29
    [state] = hub.locks()
    assert (state.key, state.holder, state.fence) == ("global/plan", ALICE, fence)
    assert state.expires_ts == lease.expires_ts
    _wait_past(first_expiry)  # the renewed lease outlives its first ttl
    with pytest.raises(statehub.LockedError) as info:
        bob.put("global/plan", "theirs")
    assert info.value.expires_ts == lease.expires_ts
    assert alice.put("global/plan", "mine", fence=fence).value == "mine"


def test_release_frees_the_key_and_a_second_release_returns_false(hub: statehub.Hub) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    lease = alice.lock("global/plan", ttl=30)
    assert lease.release() is True
    assert hub.locks() == []
    assert bob.put("global/plan", "theirs").value == "theirs"
    assert lease.release() is False
    with _writes_nothing(hub), pytest.raises(statehub.StaleFenceError):
        alice.put("global/plan", "mine", fence=lease.fence)
    with _writes_nothing(hub), pytest.raises(statehub.StaleFenceError):
        lease.renew(30)
    assert bob.lock("global/plan", ttl=30).fence > lease.fence


def test_lease_expires_by_itself_and_then_blocks_nobody(hub: statehub.Hub) -> None:
    alice, bob, carol = hub.agent(ALICE), hub.agent(BOB), hub.agent(CAROL)
    lease = alice.lock("global/plan", ttl=0.3)
    with pytest.raises(statehub.LockedError):
        bob.put("global/plan", "too early")
    _wait_past(lease.expires_ts)
    assert hub.locks() == []
    assert bob.put("global/plan", "after expiry").value == "after expiry"
    assert bob.merge("global/plan", {"merged": 1}).value == {"merged": 1}
    assert bob.delete("global/plan") is not None
    assert carol.lock("global/plan", ttl=30).fence > lease.fence


def test_write_with_the_fence_of_a_lease_taken_over_raises_stale_fence_error(
    hub: statehub.Hub,
) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    old = alice.lock("global/plan", ttl=0.3)
    alice.put("global/plan", ["alice's"], fence=old.fence)
    _wait_past(old.expires_ts)
    new = bob.lock("global/plan", ttl=30)
    assert new.fence > old.fence
    late_writes: list[Callable[[], object]] = [
        lambda: alice.put("global/plan", ["late"], fence=old.fence),
        lambda: alice.merge("global/plan", {"late": 1}, fence=old.fence),
        lambda: alice.dispatch("global/plan", "late", reducer="append", fence=old.fence),
        lambda: alice.delete("global/plan", fence=old.fence),
        lambda: _fenced_transaction(alice, old.fence),
    ]
    for write in late_writes:
        with _writes_nothing(hub), pytest.raises(statehub.StaleFenceError) as info:
            write()
        assert (info.value.key, info.value.fence, info.value.current) == (
            "global/plan",
            old.fence,
            new.fence,
        )
    with _writes_nothing(hub), pytest.raises(statehub.LockedError):
        alice.put("global/plan", ["no fence"])
    with _writes_nothing(hub), pytest.raises(statehub.StaleFenceError):
        old.renew(30)
    assert old.release() is False
    assert bob.put("global/plan", ["bob's"], fence=new.fence).value == ["bob's"]
    assert [(lock.holder, lock.fence) for lock in hub.locks()] == [(BOB, new.fence)]


def _fenced_transaction(agent: statehub.Agent, fence: int) -> object:
    with agent.transaction() as tx:
        tx.put("global/unlocked", "side effect")
        tx.put("global/plan", ["late"], fence=fence)
    return tx.revision


def test_fence_on_a_key_with_no_lock_raises_stale_fence_error_and_writes_nothing(
    hub: statehub.Hub,
) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/plan", "v1")
    with _writes_nothing(hub), pytest.raises(statehub.StaleFenceError) as info:
        alice.put("global/plan", "v2", fence=1)
    assert (info.value.key, info.value.fence, info.value.current) == ("global/plan", 1, None)
    with _writes_nothing(hub), pytest.raises(statehub.StaleFenceError):
        _fenced_transaction(alice, 1)


def test_fence_of_another_agents_lease_raises_stale_fence_error_and_writes_nothing(
    hub: statehub.Hub,
) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    lease = alice.lock("global/plan", ttl=30)
    with _writes_nothing(hub), pytest.raises(statehub.StaleFenceError):
        bob.put("global/plan", "theirs", fence=lease.fence)
    assert bob.get("global/plan") is None


def test_expired_lease_not_taken_over_still_accepts_its_holders_fenced_write(
    hub: statehub.Hub,
) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    lease = alice.lock("global/plan", ttl=0.3)
    _wait_past(lease.expires_ts)
    assert alice.put("global/plan", "late but safe", fence=lease.fence).value == "late but safe"
    assert bob.put("global/plan", "nobody is blocked").value == "nobody is blocked"


def test_hub_locks_lists_every_held_lock_and_no_expired_or_released_one(
    hub: statehub.Hub,
) -> None:
    alice, bob, carol = hub.agent(ALICE), hub.agent(BOB), hub.agent(CAROL)
    assert hub.locks() == []
    first = alice.lock("global/a", ttl=30)
    second = bob.lock("task/1/status", ttl=60)
    short = carol.lock("global/short", ttl=0.3)
    carol.lock("global/released", ttl=30).release()
    assert _lock_keys(hub) == ["global/a", "global/short", "task/1/status"]
    _wait_past(short.expires_ts)
    assert [(lock.key, lock.holder, lock.fence, lock.expires_ts) for lock in hub.locks()] == [
        ("global/a", ALICE, first.fence, first.expires_ts),
        ("task/1/status", BOB, second.fence, second.expires_ts),
    ]


def test_locks_renewals_and_releases_are_logged_for_the_hub_only(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    lease = alice.lock("global/plan", ttl=30)
    lease.renew(60)
    lease.release()
    assert [(c.revision, c.op, c.agent) for c in hub.history()] == [
        (1, "lock", ALICE),
        (2, "renew", ALICE),
        (3, "unlock", ALICE),
    ]
    assert alice.history() == []  # statehub's own rows are not in agents' histories


@pytest.mark.parametrize(
    ("key", "error"),
    [
        ("agent/bob/notes", statehub.AccessDenied),
        ("_locks/global/plan", statehub.InvalidKey),
        ("global//plan", statehub.InvalidKey),
    ],
)
def test_lock_on_a_key_the_agent_may_not_write_is_refused(
    hub: statehub.Hub, key: str, error: type[Exception]
) -> None:
    with _writes_nothing(hub), pytest.raises(error):
        hub.agent(ALICE).lock(key, ttl=30)


@pytest.mark.parametrize("bad", [0, -1, "30", True, math.nan, math.inf], ids=repr)
def test_lock_or_renew_with_a_bad_ttl_raises_invalid_argument_and_writes_nothing(
    hub: statehub.Hub, bad: Any
) -> None:
    alice = hub.agent(ALICE)
    with _writes_nothing(hub), pytest.raises(statehub.InvalidArgument):
        alice.lock("global/plan", ttl=bad)
    lease = alice.lock("global/plan", ttl=30)
    with _writes_nothing(hub), pytest.raises(statehub.InvalidArgument):
        lease.renew(bad)
    with _writes_nothing(hub), pytest.raises(statehub.InvalidArgument):
        alice.lock("global/other", ttl=30, wait=-1)


# =========================================================================== TTL


def test_key_with_a_ttl_reads_as_absent_once_it_expires(hub: statehub.Hub) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    alice.put("global/other", "stays")
    entry = alice.put("global/heartbeat", "alive", ttl=0.3)
    assert entry.expires_ts == pytest.approx(entry.updated_ts + 0.3)
    assert entry.expires_at == datetime.fromtimestamp(entry.updated_ts + 0.3, UTC)
    assert bob.get("global/heartbeat") == "alive"
    _wait_past(entry.expires_ts)
    assert bob.get("global/heartbeat") is None
    assert bob.get("global/heartbeat", "gone") == "gone"
    assert bob.entry("global/heartbeat") is None
    assert bob.scan("global/") == {"global/other": "stays"}
    assert [e.key for e in bob.entries("global/")] == ["global/other"]
    created = bob.put("global/heartbeat", "again", expect_version=0)  # absent: creatable
    assert (created.version, created.replaced) == (1, None)


def test_expired_key_is_removed_by_an_expire_change_attributed_to_statehub(
    hub: statehub.Hub,
) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    first = alice.put("global/heartbeat", "alive", ttl=0.3)
    _wait_past(first.expires_ts)
    again = bob.put("global/heartbeat", "back")
    assert (again.version, again.replaced) == (1, None)
    changes = hub.history(key="global/heartbeat")
    assert [(c.revision, c.op, c.agent, c.prev_version, c.version) for c in changes] == [
        (1, "put", ALICE, 0, 1),
        (2, "expire", _SYSTEM_AGENT, 1, 0),
        (3, "put", BOB, 0, 1),
    ]
    assert [c.key for c in _history_at(hub, 2)] == ["global/heartbeat"]  # a commit of its own
    assert again.modified_rev == hub.revision == 3
    # The log, not the clock, is the history: the value is there at revision 1.
    assert bob.get("global/heartbeat", at=1) == "alive"
    assert bob.get("global/heartbeat", at=2) is None


def test_expired_key_nobody_touches_is_removed_by_the_sweep_of_a_later_commit(
    hub: statehub.Hub,
) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    entry = alice.put("global/heartbeat", "alive", ttl=0.2)
    _wait_past(entry.expires_ts)
    ticks = iter(range(1_000_000))

    def swept() -> bool:
        bob.put("global/tick", next(ticks))  # any commit, once a sweep is due
        return any(c.op == "expire" for c in hub.history(key="global/heartbeat"))

    _eventually(swept, "a sweep to remove the expired key", interval=0.05)
    [expire] = [c for c in hub.history(key="global/heartbeat") if c.op == "expire"]
    assert (expire.agent, expire.prev_version, expire.version) == (_SYSTEM_AGENT, 1, 0)
    assert [c.key for c in _history_at(hub, expire.revision)] == ["global/heartbeat"]
    assert alice.history(key="global/heartbeat")[-1] == expire


def test_put_without_ttl_clears_the_expiry(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    first = alice.put("global/doc", 1, ttl=0.3)
    second = alice.put("global/doc", 2)
    assert second.expires_ts is None
    assert second.expires_at is None
    _wait_past(first.expires_ts)
    assert alice.get("global/doc") == 2
    entry = alice.entry("global/doc")
    assert entry is not None
    assert entry.expires_ts is None


def test_merge_and_dispatch_keep_the_expiry(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    first = alice.put("global/doc", {"a": 1}, ttl=0.4)
    merged = alice.merge("global/doc", {"b": 2})
    dispatched = alice.dispatch("global/doc", {"c": 3}, reducer="merge")
    with alice.transaction() as tx:
        tx.merge("global/doc", {"d": 4})
    assert merged.expires_ts == dispatched.expires_ts == first.expires_ts
    entry = alice.entry("global/doc")
    assert entry is not None
    assert (entry.value, entry.expires_ts) == ({"a": 1, "b": 2, "c": 3, "d": 4}, first.expires_ts)
    _wait_past(first.expires_ts)
    assert alice.get("global/doc") is None


def test_ttl_given_to_merge_or_dispatch_sets_a_new_expiry(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    assert alice.put("global/doc", {"a": 1}).expires_ts is None
    merged = alice.merge("global/doc", {"b": 2}, ttl=30)
    assert merged.expires_ts == pytest.approx(merged.updated_ts + 30)
    dispatched = alice.dispatch("global/log", "x", reducer="append", ttl=60)
    assert dispatched.expires_ts == pytest.approx(dispatched.updated_ts + 60)


@pytest.mark.parametrize("bad", [0, -1, "1", True, math.nan, math.inf, 10**10], ids=repr)
def test_ttl_must_be_a_positive_number_of_seconds(hub: statehub.Hub, bad: Any) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/doc", {"a": 1})
    writes: list[Callable[[], object]] = [
        lambda: alice.put("global/doc", 1, ttl=bad),
        lambda: alice.merge("global/doc", {"b": 1}, ttl=bad),
        lambda: alice.dispatch("global/log", 1, reducer="append", ttl=bad),
    ]
    for write in writes:
        with _writes_nothing(hub), pytest.raises(statehub.InvalidArgument):
            write()


# =========================================================================== checkpoints


def test_checkpoint_names_the_current_revision_and_is_listed_with_its_agent_and_time(
    hub: statehub.Hub,
) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    alice.put("global/doc", {"title": "Draft"})
    bob.put("global/notes", "n")
    state = bob.scan("")
    before = time.time()
    checkpoint = alice.checkpoint("before-write")
    assert (checkpoint.name, checkpoint.agent) == ("before-write", ALICE)
    assert checkpoint.revision == hub.revision
    assert before - 1 < checkpoint.timestamp < time.time() + 1
    assert checkpoint.time == datetime.fromtimestamp(checkpoint.timestamp, UTC)
    assert hub.checkpoints() == [checkpoint]
    assert bob.scan("", at="before-write") == state
    assert bob.scan("", at=checkpoint.revision) == state


def test_checkpoint_is_one_small_commit_whatever_the_size_of_the_hub(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    with alice.transaction() as tx:
        for number in range(300):
            tx.put(f"global/items/{number:03}", {"number": number, "text": "x" * 50})
    head = hub.revision
    checkpoint = alice.checkpoint("big")
    assert checkpoint.revision == hub.revision == head + 1
    assert [c.key for c in hub.history(since=head)] == ["_checkpoints/big"]
    assert alice.scan("global/items/", at="big") == alice.scan("global/items/", at=head)
    assert len(alice.scan("global/items/", at="big")) == 300


def test_duplicate_checkpoint_name_raises_invalid_argument_and_writes_nothing(
    hub: statehub.Hub,
) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    alice.put("global/doc", 1)
    first = alice.checkpoint("v1")
    alice.put("global/doc", 2)
    for agent in (alice, bob):
        with _writes_nothing(hub), pytest.raises(statehub.InvalidArgument) as info:
            agent.checkpoint("v1")
        assert "v1" in str(info.value)
    assert hub.checkpoints() == [first]
    assert bob.get("global/doc", at="v1") == 1


def test_checkpoints_are_listed_oldest_first(hub: statehub.Hub) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    made: list[statehub.Checkpoint] = []
    for number, (agent, name) in enumerate([(alice, "zeta"), (bob, "alpha"), (alice, "mid")]):
        agent.put("global/doc", number)
        made.append(agent.checkpoint(name))
    listed = hub.checkpoints()
    assert listed == made
    assert [(c.name, c.agent) for c in listed] == [("zeta", ALICE), ("alpha", BOB), ("mid", ALICE)]
    assert [c.revision for c in listed] == [2, 4, 6]


def test_deleted_checkpoint_is_forgotten_and_its_name_can_be_reused(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/doc", "v1")
    alice.checkpoint("cp")
    alice.put("global/doc", "v2")
    assert alice.delete_checkpoint("cp") is True
    assert hub.checkpoints() == []
    with pytest.raises(statehub.UnknownCheckpoint):
        alice.get("global/doc", at="cp")
    with _writes_nothing(hub):
        assert alice.delete_checkpoint("cp") is False
    again = alice.checkpoint("cp")
    assert hub.checkpoints() == [again]
    assert alice.get("global/doc", at="cp") == "v2"


def _unknown_get(hub: statehub.Hub) -> object:
    return hub.agent(ALICE).get("global/doc", at="nope")


def _unknown_scan(hub: statehub.Hub) -> object:
    return hub.agent(ALICE).scan("global/", at="nope")


def _unknown_hub_diff_a(hub: statehub.Hub) -> object:
    return hub.diff("nope")


def _unknown_hub_diff_b(hub: statehub.Hub) -> object:
    return hub.diff(1, "nope")


def _unknown_agent_diff(hub: statehub.Hub) -> object:
    return hub.agent(ALICE).diff("nope", "head")


def _unknown_rollback(hub: statehub.Hub) -> object:
    return hub.agent(ALICE).rollback("nope")


def _unknown_compact(hub: statehub.Hub) -> object:
    return hub.compact(before="nope")


_UNKNOWN_CHECKPOINT_USES: dict[str, Callable[[statehub.Hub], object]] = {
    "get_at": _unknown_get,
    "scan_at": _unknown_scan,
    "hub_diff_a": _unknown_hub_diff_a,
    "hub_diff_b": _unknown_hub_diff_b,
    "agent_diff": _unknown_agent_diff,
    "rollback": _unknown_rollback,
    "compact_before": _unknown_compact,
}


@pytest.mark.parametrize("use", list(_UNKNOWN_CHECKPOINT_USES))
def test_unknown_checkpoint_raises_unknown_checkpoint_naming_it(
    hub: statehub.Hub, use: str
) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/doc", 1)
    alice.checkpoint("known")
    alice.put("global/doc", 2)
    with _writes_nothing(hub), pytest.raises(statehub.UnknownCheckpoint) as info:
        _UNKNOWN_CHECKPOINT_USES[use](hub)
    assert isinstance(info.value, LookupError)
    assert info.value.name == "nope"
    assert "nope" in str(info.value)


@pytest.mark.parametrize("name", ["a/b", "", "head", "has space", "../up"])
def test_checkpoint_names_must_be_one_key_segment(hub: statehub.Hub, name: str) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/doc", 1)
    with _writes_nothing(hub), pytest.raises(statehub.InvalidKey):
        alice.checkpoint(name)


# =========================================================================== time travel


def test_time_travel_to_a_checkpoint_reads_each_key_as_it_was_then(hub: statehub.Hub) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    alice.put("global/doc", {"title": "Draft"})
    bob.put("global/gone", "here then")
    alice.checkpoint("before-write")
    alice.put("global/doc", {"title": "ERROR: write failed"})
    bob.delete("global/gone")
    bob.put("global/new", "created later")
    assert bob.get("global/doc", at="before-write") == {"title": "Draft"}
    assert bob.get("global/gone", at="before-write") == "here then"
    assert bob.get("global/new", at="before-write") is None
    assert bob.get("global/new", "absent then", at="before-write") == "absent then"
    assert bob.get("global/doc", at="head") == {"title": "ERROR: write failed"}


def test_scan_at_a_revision_or_checkpoint_is_the_snapshot_of_then(hub: statehub.Hub) -> None:
    past = _seven_revisions(hub)
    alice = hub.agent(ALICE)
    assert past[0] == {}
    assert past[2] == {"global/a": 1, "global/b": "b1"}
    assert past[5] == {"global/a": 2, "global/still": "untouched since 3"}
    assert past[7] == alice.scan("global/") == alice.scan("global/", at="head")
    alice.checkpoint("seven")
    alice.put("global/a", 4)
    assert alice.scan("global/", at="seven") == past[7]
    assert alice.scan("global/c", at=6) == {"global/c": {"x": 1}}
    assert alice.scan("task/", at=7) == {}


def test_scan_at_never_shows_other_agents_private_keys(hub: statehub.Hub) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    alice.put("agent/alice/notes", "secret")
    bob.put("agent/bob/notes", "bob's")
    alice.put("global/doc", 1)
    alice.checkpoint("cp")
    assert bob.scan("", at="cp") == {"agent/bob/notes": "bob's", "global/doc": 1}
    assert alice.scan("", at="cp") == {"agent/alice/notes": "secret", "global/doc": 1}
    assert bob.scan("agent/", at="cp") == {"agent/bob/notes": "bob's"}
    with pytest.raises(statehub.AccessDenied):
        bob.scan("agent/alice/", at="cp")
    with pytest.raises(statehub.AccessDenied):
        bob.get("agent/alice/notes", at="cp")


# =========================================================================== rollback


def test_rollback_restores_changed_keys_and_deletes_created_ones_in_one_commit(
    hub: statehub.Hub,
) -> None:
    coordinator, bob = hub.agent("coordinator"), hub.agent(BOB)
    coordinator.put("global/doc", {"title": "Draft", "tags": ["a"]})
    coordinator.put("global/removed", "restore me")
    coordinator.put("global/same", "unchanged")
    checkpoint = coordinator.checkpoint("before-write")
    coordinator.put("global/doc", {"title": "ERROR: write failed"})
    bob.delete("global/removed")
    bob.put("global/created", "delete me")
    head = hub.revision
    revision = coordinator.rollback("before-write", prefix="global/")
    assert revision == hub.revision == head + 1
    assert bob.scan("global/") == bob.scan("global/", at="before-write")
    assert bob.scan("global/") == {
        "global/doc": {"title": "Draft", "tags": ["a"]},
        "global/removed": "restore me",
        "global/same": "unchanged",
    }
    changes = _history_at(hub, head + 1)
    assert [(c.key, c.op, c.agent) for c in changes] == [
        ("global/created", "rollback", "coordinator"),
        ("global/doc", "rollback", "coordinator"),
        ("global/removed", "rollback", "coordinator"),
    ]
    assert {c.version for c in changes if c.key == "global/created"} == {0}
    for change in changes:
        assert change.label is not None
        assert "before-write" in change.label
        assert "before-write" in json.dumps(change.cause)
        assert str(checkpoint.revision) in json.dumps(change.cause)


def test_rollback_only_touches_keys_under_the_prefix(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/doc", {"title": "Draft"})
    alice.put("global/other", "o1")
    alice.checkpoint("cp")
    alice.put("global/doc", {"title": "Final"})
    alice.put("global/doc/part", "created under the prefix")
    alice.put("global/other", "o2")
    alice.put("task/1/status", "new")
    alice.rollback("cp", prefix="global/doc")
    assert alice.get("global/doc") == {"title": "Draft"}
    assert alice.get("global/doc/part") is None
    assert alice.get("global/other") == "o2"
    assert alice.get("task/1/status") == "new"
    alice.rollback("cp", prefix="task/")
    assert alice.get("task/1/status") is None
    assert alice.get("global/other") == "o2"


def test_rollback_keeps_history_and_is_logged_as_rollback(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/doc", "v1")
    alice.checkpoint("cp")
    alice.put("global/doc", "v2")
    history = hub.history()
    head = hub.revision
    revision = alice.rollback("cp")
    assert revision is not None
    after = hub.history()
    assert after[: len(history)] == history
    [change] = after[len(history) :]
    assert (change.revision, change.key, change.op, change.agent) == (
        revision,
        "global/doc",
        "rollback",
        ALICE,
    )
    assert (change.prev_version, change.version) == (2, 3)
    assert change.label is not None
    assert "cp" in change.label
    assert alice.get("global/doc", at=head) == "v2"
    assert alice.get("global/doc") == "v1"
    assert alice.entry("global/doc") is not None


def test_rollback_to_a_revision_number_restores_that_revision(hub: statehub.Hub) -> None:
    past = _seven_revisions(hub)
    alice = hub.agent(ALICE)
    alice.rollback(2, prefix="global/")
    assert alice.scan("global/") == past[2]
    alice.rollback(0)
    assert alice.scan("global/") == {}


def test_rollback_with_nothing_to_undo_returns_none_and_uses_no_revision(
    hub: statehub.Hub,
) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/doc", "v1")
    alice.checkpoint("cp")
    alice.put("global/other", "elsewhere")
    with _writes_nothing(hub):
        assert alice.rollback("cp", prefix="global/doc") is None
    alice.put("global/doc", "v2")
    alice.put("global/doc", "v1")  # back to the same value
    with _writes_nothing(hub):
        assert alice.rollback("cp", prefix="global/doc") is None


def test_rollback_fails_cleanly_when_a_key_under_the_prefix_is_locked_by_another_agent(
    hub: statehub.Hub,
) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    alice.put("global/doc/a", "a1")
    alice.put("global/doc/b", "b1")
    alice.checkpoint("cp")
    alice.put("global/doc/a", "a2")
    alice.put("global/doc/b", "b2")
    lease = bob.lock("global/doc/b", ttl=30)
    with _writes_nothing(hub), pytest.raises(statehub.LockedError) as info:
        alice.rollback("cp", prefix="global/doc/")
    assert (info.value.key, info.value.holder) == ("global/doc/b", BOB)
    assert alice.get("global/doc/a") == "a2"  # all or nothing
    lease.release()
    assert alice.rollback("cp", prefix="global/doc/") is not None
    assert alice.scan("global/doc/") == {"global/doc/a": "a1", "global/doc/b": "b1"}


def test_rollback_fails_cleanly_when_a_key_under_the_prefix_is_owned_by_another_agent(
    hub: statehub.Hub,
) -> None:
    alice, carol = hub.agent(ALICE), hub.agent(CAROL)
    alice.put("global/doc/a", "a1")
    alice.checkpoint("cp")
    alice.put("global/doc/a", "a2")
    carol.put("global/doc/carols", "owned", owner=True)
    with _writes_nothing(hub), pytest.raises(statehub.AccessDenied) as info:
        alice.rollback("cp", prefix="global/doc/")
    assert info.value.key == "global/doc/carols"
    assert info.value.owner == CAROL
    assert alice.get("global/doc/a") == "a2"
    assert carol.rollback("cp", prefix="global/doc/") is not None  # the owner may
    assert alice.scan("global/doc/") == {"global/doc/a": "a1"}


def test_rollback_never_touches_keys_the_agent_cannot_see(hub: statehub.Hub) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    alice.put("agent/alice/notes", "v1")
    bob.put("global/doc", "v1")
    bob.checkpoint("cp")
    alice.put("agent/alice/notes", "v2")
    alice.put("agent/alice/later", "created after the checkpoint")
    bob.put("global/doc", "v2")
    bob.rollback("cp")  # everything bob may see
    assert bob.get("global/doc") == "v1"
    assert alice.scan("agent/alice/") == {
        "agent/alice/later": "created after the checkpoint",
        "agent/alice/notes": "v2",
    }
    with _writes_nothing(hub), pytest.raises(statehub.AccessDenied):
        bob.rollback("cp", prefix="agent/alice/")
    alice.rollback("cp", prefix="agent/alice/")
    assert alice.scan("agent/alice/") == {"agent/alice/notes": "v1"}


# =========================================================================== diff


def _diff_setup(hub: statehub.Hub) -> statehub.Checkpoint:
    alice = hub.agent(ALICE)
    alice.put("global/doc", {"title": "Draft", "tags": ["a", "b"], "meta": {"n": 1}})
    alice.put("global/removed", "bye")
    alice.put("global/same", [1, 2, 3])
    alice.put("task/1/status", "open")
    checkpoint = alice.checkpoint("before")
    alice.put("global/doc", {"title": "Final", "tags": ["a", "c", "b"], "extra": None})
    alice.delete("global/removed")
    alice.put("global/added", {"n": 1})
    alice.put("task/1/status", "done")
    alice.put("global/same", [1, 2, 3])  # a new version, the same value
    return checkpoint


def test_diff_lists_added_removed_and_changed_keys(hub: statehub.Hub) -> None:
    checkpoint = _diff_setup(hub)
    diff = hub.diff("before", "head")
    assert isinstance(diff, statehub.Diff)
    assert bool(diff) is True
    assert (diff.a, diff.b, diff.prefix) == (checkpoint.revision, hub.revision, "")
    assert diff.added == {"global/added": {"n": 1}}
    assert diff.removed == {"global/removed": "bye"}
    assert sorted(diff.changed) == ["global/doc", "task/1/status"]
    doc = diff.changed["global/doc"]
    assert doc.key == "global/doc"
    assert doc.old == {"title": "Draft", "tags": ["a", "b"], "meta": {"n": 1}}
    assert doc.new == {"title": "Final", "tags": ["a", "c", "b"], "extra": None}
    assert hub.diff("before") == diff  # b defaults to the head


def test_diff_patches_turn_each_old_value_into_the_new_one(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    pairs: dict[str, tuple[Any, Any]] = {
        "global/nested": ({"a": {"b": [1, {"c": 2}]}}, {"a": {"b": [1, {"c": 3}, 4]}}),
        "global/list": (list(range(10)), [0, 2, 3, 99, 5, 6, 7, 8, 9, 10]),
        "global/kind": ({"x": 1}, ["x", 1]),
        "global/null": (None, {"now": "set"}),
        "global/types": ({"v": 1}, {"v": 1.0}),
        "global/pointer": ({"a/b": 1, "m~n": 2}, {"a/b": 2, "m~n": 3, "": 4}),
    }
    for key, (old, _) in pairs.items():
        alice.put(key, old)
    alice.checkpoint("old")
    for key, (_, new) in pairs.items():
        alice.put(key, new)
    diff = hub.diff("old")
    assert sorted(diff.changed) == sorted(pairs)
    for key, (old, new) in pairs.items():
        change = diff.changed[key]
        _assert_same_json(change.old, old)
        _assert_same_json(change.new, new)
        assert isinstance(change.patch, list)
        assert change.patch
        _assert_same_json(_apply_json_patch(old, change.patch), new)


def test_diff_under_a_prefix_compares_only_those_keys(hub: statehub.Hub) -> None:
    _diff_setup(hub)
    diff = hub.diff("before", prefix="global/")
    assert diff.prefix == "global/"
    assert set(diff.added) | set(diff.removed) | set(diff.changed) == {
        "global/added",
        "global/removed",
        "global/doc",
    }
    only_task = hub.agent(BOB).diff("before", prefix="task/")
    assert (only_task.added, only_task.removed, sorted(only_task.changed)) == (
        {},
        {},
        ["task/1/status"],
    )


def test_diff_of_a_revision_with_itself_is_empty(hub: statehub.Hub) -> None:
    _diff_setup(hub)
    sides: list[tuple[int | str, int | str]] = [("before", "before"), ("head", "head"), (3, 3)]
    for a, b in sides:
        diff = hub.diff(a, b)
        assert (diff.added, diff.removed, diff.changed) == ({}, {}, {})
        assert bool(diff) is False
        assert diff.render() == []


def test_diff_in_reverse_swaps_added_and_removed(hub: statehub.Hub) -> None:
    _diff_setup(hub)
    forward, backward = hub.diff("before", "head"), hub.diff("head", "before")
    assert backward.added == forward.removed
    assert backward.removed == forward.added
    assert sorted(backward.changed) == sorted(forward.changed)
    for key, change in backward.changed.items():
        assert (change.old, change.new) == (forward.changed[key].new, forward.changed[key].old)
        _assert_same_json(_apply_json_patch(change.old, change.patch), change.new)


def test_diff_between_revision_numbers_and_checkpoint_names_agree(hub: statehub.Hub) -> None:
    checkpoint = _diff_setup(hub)
    by_name = hub.diff("before", "head")
    by_number = hub.diff(checkpoint.revision, hub.revision)
    assert by_name == by_number
    agent_view = hub.agent(ALICE).diff(checkpoint.revision)
    assert (agent_view.added, agent_view.removed) == (by_name.added, by_name.removed)


def test_diff_render_shows_one_line_per_key_and_the_patch_of_changed_ones(
    hub: statehub.Hub,
) -> None:
    writer = hub.agent("writer")
    writer.put("global/doc", {"title": "Draft"})
    writer.put("global/old", 1)
    writer.checkpoint("before-edit")
    writer.put("global/doc", {"title": "Final"})
    writer.delete("global/old")
    writer.put("global/new", 2)
    assert hub.diff("before-edit", prefix="global/doc").render() == [
        "~ global/doc",
        '    ~ /title → "Final"',
    ]
    lines = hub.diff("before-edit").render()
    assert len(lines) == 4
    assert lines[0] == "~ global/doc"
    assert lines[1].startswith("    ")
    assert lines[2].startswith("+ global/new")
    assert "2" in lines[2]
    assert lines[3].startswith("- global/old")
    assert "1" in lines[3]


def test_agent_diff_never_shows_other_agents_private_keys(hub: statehub.Hub) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    alice.put("agent/alice/changed", "v1")
    alice.put("agent/alice/removed", "bye")
    alice.checkpoint("cp")
    alice.put("agent/alice/changed", "v2")
    alice.delete("agent/alice/removed")
    alice.put("agent/alice/added", "new")
    bob.put("global/shared", "s")
    seen_by_bob = bob.diff("cp")
    assert (seen_by_bob.added, seen_by_bob.removed, seen_by_bob.changed) == (
        {"global/shared": "s"},
        {},
        {},
    )
    assert bob.diff("cp", prefix="agent/") == statehub.Diff(seen_by_bob.a, seen_by_bob.b, "agent/")
    with pytest.raises(statehub.AccessDenied):
        bob.diff("cp", prefix="agent/alice/")
    seen_by_alice = alice.diff("cp")
    assert seen_by_alice.added == {"agent/alice/added": "new", "global/shared": "s"}
    assert seen_by_alice.removed == {"agent/alice/removed": "bye"}
    assert sorted(seen_by_alice.changed) == ["agent/alice/changed"]
    assert hub.diff("cp") == seen_by_alice  # the hub sees every key


def test_diff_shows_only_user_keys_never_statehubs_own_rows(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/doc", 1)
    lease = alice.lock("global/doc", ttl=30)
    alice.checkpoint("cp")
    lease.renew(60)
    alice.checkpoint("cp2")
    alice.delete_checkpoint("cp")
    diff = hub.diff(0, "head")
    assert set(diff.added) == {"global/doc"}
    assert (diff.removed, diff.changed) == ({}, {})
    assert not hub.diff(1, "head")


# =========================================================================== compaction


def test_compact_drops_history_before_the_revision_and_moves_the_oldest_revision(
    hub: statehub.Hub,
) -> None:
    _seven_revisions(hub)
    history = hub.history()
    assert hub.oldest_revision == 0
    dropped = hub.compact(before=5)
    assert dropped > 0
    assert hub.oldest_revision == 4
    assert hub.history() == [c for c in history if c.revision >= 5]
    assert hub.history(since=4) == [c for c in history if c.revision >= 5]
    assert hub.agent(BOB).history() == [c for c in history if c.revision >= 5]
    watched = list(hub.watch("global/", since=4, timeout=0))
    assert watched == [c for c in history if c.revision >= 5]
    assert hub.revision == 7
    # Compaction touches history only: state, versions and new commits go on as before.
    entry = hub.agent(ALICE).entry("global/a")
    assert entry is not None
    assert (entry.value, entry.version, entry.created_rev) == (3, 3, 1)
    assert hub.agent(ALICE).put("global/a", 4).modified_rev == 8


def test_compact_keeps_reads_from_the_boundary_on_working(hub: statehub.Hub) -> None:
    past = _seven_revisions(hub)
    hub.compact(before=5)
    alice = hub.agent(ALICE)
    for revision in range(4, 8):
        assert alice.scan("global/", at=revision) == past[revision]
        for key in ("global/a", "global/b", "global/c", "global/still"):
            assert alice.get(key, at=revision) == past[revision].get(key)
    diff = hub.diff(4, 7)
    assert (diff.added, diff.removed) == ({"global/c": {"x": 1}}, {"global/b": "b1"})
    assert sorted(diff.changed) == ["global/a"]
    assert (diff.changed["global/a"].old, diff.changed["global/a"].new) == (2, 3)
    alice.rollback(4)
    assert alice.scan("global/") == past[4]


def _compacted_get(hub: statehub.Hub, revision: int) -> object:
    return hub.agent(ALICE).get("global/a", at=revision)


def _compacted_scan(hub: statehub.Hub, revision: int) -> object:
    return hub.agent(ALICE).scan("global/", at=revision)


def _compacted_hub_diff(hub: statehub.Hub, revision: int) -> object:
    return hub.diff(revision, "head")


def _compacted_diff_b(hub: statehub.Hub, revision: int) -> object:
    return hub.diff(5, revision)


def _compacted_agent_diff(hub: statehub.Hub, revision: int) -> object:
    return hub.agent(ALICE).diff(revision)


def _compacted_history(hub: statehub.Hub, revision: int) -> object:
    return hub.history(since=revision)


def _compacted_agent_history(hub: statehub.Hub, revision: int) -> object:
    return hub.agent(ALICE).history(key="global/a", since=revision)


def _compacted_watch(hub: statehub.Hub, revision: int) -> object:
    return next(iter(hub.watch("global/", since=revision, timeout=0)), None)


def _compacted_agent_watch(hub: statehub.Hub, revision: int) -> object:
    return next(iter(hub.agent(ALICE).watch(since=revision, timeout=0)), None)


def _compacted_rollback(hub: statehub.Hub, revision: int) -> object:
    return hub.agent(ALICE).rollback(revision)


_COMPACTED_READS: dict[str, Callable[[statehub.Hub, int], object]] = {
    "get_at": _compacted_get,
    "scan_at": _compacted_scan,
    "hub_diff": _compacted_hub_diff,
    "hub_diff_b": _compacted_diff_b,
    "agent_diff": _compacted_agent_diff,
    "history_since": _compacted_history,
    "agent_history_since": _compacted_agent_history,
    "watch_since": _compacted_watch,
    "agent_watch_since": _compacted_agent_watch,
    "rollback": _compacted_rollback,
}


@pytest.mark.parametrize("read", list(_COMPACTED_READS))
def test_time_travel_to_a_compacted_revision_raises_compacted_error_naming_the_oldest(
    hub: statehub.Hub, read: str
) -> None:
    _seven_revisions(hub)
    hub.compact(before=5)
    for revision in (0, 1, 3):
        with _writes_nothing(hub), pytest.raises(statehub.CompactedError) as info:
            _COMPACTED_READS[read](hub, revision)
        assert isinstance(info.value, LookupError)
        assert (info.value.revision, info.value.oldest) == (revision, hub.oldest_revision)
        assert info.value.oldest == 4
        assert "4" in str(info.value)


def test_compact_keeps_reads_at_live_checkpoints_working(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/doc", {"title": "Draft"})
    alice.put("global/list", list(range(5)))
    checkpoint = alice.checkpoint("keep")
    at_checkpoint = alice.scan("global/")
    for number in range(5):
        alice.put("global/doc", {"title": f"edit {number}"})
        alice.dispatch("global/list", number, reducer="append")
    alice.put("global/later", "after the checkpoint")
    diff_before = hub.diff("keep")
    hub.compact(before="head")
    assert hub.oldest_revision == hub.revision - 1
    assert alice.scan("global/", at="keep") == at_checkpoint
    assert alice.scan("global/", at=checkpoint.revision) == at_checkpoint
    assert alice.get("global/doc", at="keep") == {"title": "Draft"}
    assert hub.diff("keep") == diff_before
    with pytest.raises(statehub.CompactedError):
        alice.get("global/doc", at=checkpoint.revision + 1)
    with pytest.raises(statehub.CompactedError):
        alice.get("global/doc", at=checkpoint.revision - 1)
    assert alice.rollback("keep") is not None
    assert alice.scan("global/") == at_checkpoint


def test_compacted_checkpoint_reads_do_not_resurrect_keys_deleted_after_the_checkpoint(
    hub: statehub.Hub,
) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/gone", "deleted after the checkpoint")  # 1
    alice.checkpoint("keep")  # 2
    alice.delete("global/gone")  # 3
    for number in range(3):
        alice.put("global/x", number)  # 4, 5, 6
    past = {revision: alice.scan("global/", at=revision) for revision in range(4, 7)}
    assert all("global/gone" not in snapshot for snapshot in past.values())
    hub.compact(before=6)
    assert alice.get("global/gone", at="keep") == "deleted after the checkpoint"
    for revision in (5, 6):
        assert alice.get("global/gone", at=revision) is None
        assert alice.scan("global/", at=revision) == past[revision]
    assert alice.get("global/gone", at="head") is None
    assert hub.diff("keep").removed == {"global/gone": "deleted after the checkpoint"}


def test_deleted_checkpoint_no_longer_protects_its_revision_from_compaction(
    hub: statehub.Hub,
) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/doc", "v1")
    checkpoint = alice.checkpoint("temporary")
    alice.put("global/doc", "v2")
    alice.put("global/doc", "v3")
    assert alice.delete_checkpoint("temporary") is True
    hub.compact(before="head")
    with pytest.raises(statehub.CompactedError):
        alice.get("global/doc", at=checkpoint.revision)
    with pytest.raises(statehub.UnknownCheckpoint):
        alice.get("global/doc", at="temporary")


def test_compact_keeps_time_travel_of_values_logged_as_patches_working(
    hub: statehub.Hub,
) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/big", [f"item {number:04} " + "x" * 30 for number in range(40)])
    for number in range(40):
        alice.dispatch("global/big", f"appended {number:04}", reducer="append")
        alice.merge("global/doc", {f"field{number}": "y" * 20})
    past = {revision: alice.scan("global/", at=revision) for revision in range(hub.revision + 1)}
    middle = hub.revision // 2 + 1
    hub.compact(before=middle)
    for revision in range(middle - 1, hub.revision + 1):
        assert alice.scan("global/", at=revision) == past[revision]
    assert hub.history()[0].revision == middle


def test_compact_before_a_checkpoint_name_keeps_history_from_that_checkpoint(
    hub: statehub.Hub,
) -> None:
    alice = hub.agent(ALICE)
    for number in range(3):
        alice.put("global/doc", number)
    checkpoint = alice.checkpoint("from-here")
    alice.put("global/doc", 3)
    hub.compact(before="from-here")
    assert hub.oldest_revision == checkpoint.revision - 1
    assert [c.revision for c in hub.history()] == [checkpoint.revision, checkpoint.revision + 1]
    assert alice.get("global/doc", at="from-here") == 2


def test_compact_older_than_drops_only_changes_older_than_that_age(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/old", 1)
    last_old = alice.put("global/old", 2)
    _wait_past(last_old.updated_ts + 0.5)
    first_new = alice.put("global/new", 1)
    alice.put("global/new", 2)
    dropped = hub.compact(older_than=0.25)
    assert dropped > 0
    assert hub.oldest_revision == first_new.modified_rev - 1
    assert [c.revision for c in hub.history()] == [first_new.modified_rev, hub.revision]
    assert alice.get("global/old", at=first_new.modified_rev - 1) == 2
    with pytest.raises(statehub.CompactedError):
        alice.get("global/old", at=1)


def test_compact_never_drops_the_newest_change(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    for number in range(3):
        alice.put("global/doc", number)
    newest = hub.history()[-1]
    hub.compact(older_than=0)
    assert hub.history() == [newest]
    assert hub.oldest_revision == 2
    assert list(hub.watch(since=hub.oldest_revision, timeout=0)) == [newest]
    hub.compact(before="head")
    assert hub.history() == [newest]
    assert alice.get("global/doc", at="head") == 2
    alice.put("global/doc", 3)
    assert [c.revision for c in hub.history()] == [3, 4]


def test_compact_twice_or_backwards_drops_nothing_more(hub: statehub.Hub) -> None:
    _seven_revisions(hub)
    assert hub.compact(before=5) > 0
    history = hub.history()
    assert hub.compact(before=5) == 0
    assert hub.compact(before=4) == 0
    # Like etcd: compacting to a revision already compacted away says so.
    with pytest.raises(statehub.CompactedError) as info:
        hub.compact(before=2)
    assert info.value.oldest == 4
    assert hub.oldest_revision == 4
    assert hub.history() == history


def test_compact_with_bad_arguments_raises_invalid_argument(hub: statehub.Hub) -> None:
    _seven_revisions(hub)
    bad_calls: list[Callable[[], object]] = [
        lambda: hub.compact(),
        lambda: hub.compact(before=3, older_than=10),
        lambda: hub.compact(before=8),
        lambda: hub.compact(before=-1),
        lambda: hub.compact(older_than=-1),
        lambda: hub.compact(older_than="10"),  # type: ignore[arg-type]
    ]
    for call in bad_calls:
        with pytest.raises(statehub.InvalidArgument):
            call()
    assert hub.oldest_revision == 0
    assert len(hub.history()) == 7


# =========================================================================== watch


def test_watch_since_yields_every_later_change_in_revision_order(hub: statehub.Hub) -> None:
    _seven_revisions(hub)
    watched = list(hub.watch("global/", since=0, timeout=0.1))
    assert watched == hub.history(prefix="global/")
    assert [c.revision for c in watched] == list(range(1, 8))
    assert [c.revision for c in hub.watch("global/", since=4, timeout=0)] == [5, 6, 7]


def test_watch_yields_changes_committed_by_other_threads_while_it_waits(
    hub: statehub.Hub,
) -> None:
    start = hub.revision
    watching = threading.Event()
    per_writer = 15

    def write(name: str) -> None:
        assert watching.wait(_PATIENCE)
        agent = hub.agent(name)
        for number in range(per_writer):
            agent.put(f"global/{name}", number)

    writers = [threading.Thread(target=write, args=(name,)) for name in (ALICE, BOB)]
    for thread in writers:
        thread.start()
    seen: list[statehub.Change] = []
    try:
        changes = hub.watch("global/", since=start, timeout=_PATIENCE)
        watching.set()
        for change in changes:
            seen.append(change)
            if len(seen) == 2 * per_writer:
                break
    finally:
        watching.set()
        for thread in writers:
            thread.join(_PATIENCE)
    assert [c.revision for c in seen] == list(range(start + 1, start + 2 * per_writer + 1))
    for name in (ALICE, BOB):
        mine = [c for c in seen if c.key == f"global/{name}"]
        assert [c.agent for c in mine] == [name] * per_writer
        assert [c.version for c in mine] == list(range(1, per_writer + 1))
    assert seen == hub.history(since=start)


def test_watch_without_since_starts_at_the_head_when_it_is_called(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/before", "not seen")
    changes = iter(hub.watch("global/", timeout=1))
    entry = alice.put("global/after", "seen")
    first = next(changes, None)
    assert first is not None, "the change committed after watch() was called was missed"
    assert (first.revision, first.key) == (entry.modified_rev, "global/after")


def test_watch_only_yields_keys_under_its_prefix(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/docs/a", 1)
    alice.put("global/other", 1)
    alice.put("task/1/status", "open")
    alice.put("global/docs/b", 2)
    alice.put("global/docs", "the parent key itself")
    assert [(c.revision, c.key) for c in hub.watch("global/docs/", since=0, timeout=0)] == [
        (1, "global/docs/a"),
        (4, "global/docs/b"),
    ]
    assert [c.key for c in hub.watch("task/", since=0, timeout=0)] == ["task/1/status"]


def test_watch_ends_after_its_timeout_without_changes(hub: statehub.Hub) -> None:
    hub.agent(ALICE).put("global/doc", 1)
    started = time.monotonic()
    assert list(hub.watch("global/", since=hub.revision, timeout=0.2)) == []
    assert time.monotonic() - started >= 0.2
    assert list(hub.agent(BOB).watch("global/", since=1, timeout=0.1)) == []


def test_watch_is_resumable_from_any_revision_still_in_history(hub: statehub.Hub) -> None:
    _seven_revisions(hub)
    everything = list(hub.watch(since=0, timeout=0))
    for since in range(8):
        assert list(hub.watch(since=since, timeout=0)) == [
            c for c in everything if c.revision > since
        ]
    # Resuming where a stopped watcher left off loses and repeats nothing.
    seen: list[statehub.Change] = []
    for change in hub.watch(since=0, timeout=0):
        seen.append(change)
        if len(seen) == 3:
            break
    hub.agent(BOB).put("global/after", "the stop")
    seen.extend(hub.watch(since=seen[-1].revision, timeout=0))
    assert seen == hub.history()


def test_watch_of_a_commit_of_several_keys_yields_them_together_in_key_order(
    hub: statehub.Hub,
) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/first", 0)
    with alice.transaction() as tx:
        tx.put("global/c", 3)
        tx.put("global/a", 1)
        tx.merge("global/b", {"b": 2})
    watched = list(hub.watch("global/", since=1, timeout=0))
    assert [(c.revision, c.key) for c in watched] == [
        (2, "global/a"),
        (2, "global/b"),
        (2, "global/c"),
    ]


def test_agent_watch_yields_only_keys_the_agent_may_see(hub: statehub.Hub) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    alice.put("agent/alice/notes", "secret")
    bob.put("agent/bob/notes", "bob's")
    alice.put("global/doc", 1)
    alice.lock("global/doc", ttl=30)
    alice.checkpoint("cp")
    assert [c.key for c in bob.watch(since=0, timeout=0)] == ["agent/bob/notes", "global/doc"]
    assert [c.key for c in alice.watch(since=0, timeout=0)] == [
        "agent/alice/notes",
        "global/doc",
    ]
    assert [c.key for c in bob.watch("agent/", since=0, timeout=0)] == ["agent/bob/notes"]
    with pytest.raises(statehub.AccessDenied):
        list(bob.watch("agent/alice/", since=0, timeout=0))


def test_hub_watch_sees_statehubs_own_rows_too(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("agent/alice/notes", "secret")
    lease = alice.lock("global/doc", ttl=30)
    alice.checkpoint("cp")
    lease.release()
    assert [(c.key, c.op) for c in hub.watch(since=0, timeout=0)] == [
        ("agent/alice/notes", "put"),
        ("_locks/global/doc", "lock"),
        ("_checkpoints/cp", "checkpoint"),
        ("_locks/global/doc", "unlock"),
    ]


def test_wait_for_returns_true_once_the_revision_is_reached_and_false_on_timeout(
    hub: statehub.Hub,
) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    alice.put("global/doc", 1)
    assert hub.wait_for(1, timeout=0) is True
    assert bob.wait_for(0) is True
    started = time.monotonic()
    assert hub.wait_for(2, timeout=0.1) is False
    assert time.monotonic() - started >= 0.1
    assert bob.wait_for(2, timeout=0.05) is False
    go = threading.Event()

    def write() -> None:
        assert go.wait(_PATIENCE)
        alice.put("global/doc", 2)

    thread = threading.Thread(target=write)
    thread.start()
    try:
        go.set()
        assert bob.wait_for(2, timeout=_PATIENCE) is True
    finally:
        thread.join(_PATIENCE)
    assert bob.get("global/doc") == 2  # read-after-write across agents
    with pytest.raises(statehub.InvalidArgument):
        hub.wait_for(-1, timeout=0)


# =========================================================================== export, import


def _populate(hub: statehub.Hub) -> list[str]:
    """Every kind of change, on every scope; returns the live checkpoints' names."""
    alice, bob, carol = hub.agent(ALICE), hub.agent(BOB), hub.agent(CAROL)
    alice.put("global/doc", {"title": "Draft", "tags": []})
    bob.merge("global/doc", {"status": "open"})
    alice.dispatch("global/log", "started", reducer="append")
    alice.put("global/big", [f"line {number:03} " + "z" * 30 for number in range(30)])
    for number in range(4):
        bob.dispatch("global/big", f"appended {number}", reducer="append")
    alice.put("agent/alice/notes", {"private": True})
    bob.put("agent/bob/todo", [1, 2])
    with carol.transaction(label="setup") as tx:
        tx.put("task/1/status", "open")
        tx.put("global/null", None)
        tx.put("global/unicode", "naïve ☃ \u0000 end")
    alice.checkpoint("first")
    for number in range(4, 8):
        bob.dispatch("global/big", f"appended {number}", reducer="append")
    alice.put("global/doc", {"title": "Final"})
    carol.delete("task/1/status")
    carol.put("global/owned", 1, owner=True)
    alice.put("global/temp", "expires in an hour", ttl=3600)
    lease = bob.lock("global/locked", ttl=3600)
    bob.put("global/locked", "guarded", fence=lease.fence)
    bob.checkpoint("second")
    alice.update("global/counter", lambda value: (value or 0) + 1)
    assert alice.rollback("first", prefix="global/big") is not None
    carol.checkpoint("dropped")
    carol.delete_checkpoint("dropped")
    alice.put("agent/alice/notes", {"private": True, "edited": 1.5})
    return ["first", "second"]


def _assert_same_hub(copy_: statehub.Hub, original: statehub.Hub, checkpoints: list[str]) -> None:
    """Assert that ``copy_`` reads exactly like ``original``, now and at every revision."""
    assert copy_.revision == original.revision
    assert copy_.oldest_revision == original.oldest_revision
    assert copy_.history() == original.history()
    assert copy_.checkpoints() == original.checkpoints()
    assert [checkpoint.name for checkpoint in copy_.checkpoints()] == checkpoints
    assert copy_.locks() == original.locks()
    assert _entries(copy_) == _entries(original)
    for revision in range(original.oldest_revision, original.revision + 1):
        assert _views(copy_, revision) == _views(original, revision), revision
    for name in checkpoints:
        assert _views(copy_, name) == _views(original, name), name


def _document(hub: statehub.Hub, path: Path, *, history: bool = True) -> dict[str, Any]:
    """``hub``'s export, less what differs between two hubs of the same content."""
    hub.export(path, history=history)
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    del document["exported_at"], document["hub"]  # when, and the hub's own name
    return document


def test_export_with_history_round_trips_state_revisions_history_and_checkpoints(
    hub: statehub.Hub, tmp_path: Path
) -> None:
    checkpoints = _populate(hub)
    path = tmp_path / "export.json"
    assert hub.export(path, history=True) == hub.revision
    with statehub.open("memory://") as copy_:
        assert statehub.import_file(path, into=copy_) == hub.revision
        _assert_same_hub(copy_, hub, checkpoints)
        assert _document(copy_, tmp_path / "again.json") == _document(hub, path)
        # The copy is a working hub: locks, checkpoints and revisions carry on.
        with pytest.raises(statehub.LockedError):
            copy_.agent(ALICE).put("global/locked", "blocked")
        with pytest.raises(statehub.InvalidArgument):
            copy_.agent(ALICE).checkpoint("first")
        assert copy_.agent(ALICE).put("global/doc", 1).modified_rev == hub.revision + 1


def test_import_of_an_export_with_history_reproduces_it_on_this_backend(
    hub: statehub.Hub, tmp_path: Path
) -> None:
    path = tmp_path / "export.json"
    with statehub.open("memory://") as source:
        checkpoints = _populate(source)
        source.export(path, history=True)
        assert statehub.import_file(path, into=_plain(hub)) == source.revision
        _assert_same_hub(hub, source, checkpoints)
        assert _document(hub, tmp_path / "again.json") == _document(source, path)
    bob = hub.agent(BOB)
    with pytest.raises(statehub.AccessDenied):
        bob.put("global/owned", 2)
    assert bob.put("global/locked", "fenced", fence=hub.locks()[0].fence).version == 2


def test_export_with_history_after_compaction_round_trips_oldest_revision_and_checkpoints(
    hub: statehub.Hub, tmp_path: Path
) -> None:
    checkpoints = _populate(hub)
    hub.compact(before=hub.revision - 3)
    oldest = hub.oldest_revision
    assert oldest > 0
    path = tmp_path / "export.json"
    hub.export(path, history=True)
    with statehub.open("memory://") as copy_:
        statehub.import_file(path, into=copy_)
        _assert_same_hub(copy_, hub, checkpoints)
        named = {checkpoint.revision for checkpoint in hub.checkpoints()}
        dropped = max(set(range(oldest)) - named)
        for compacted in (hub, copy_):
            with pytest.raises(statehub.CompactedError) as info:
                compacted.agent(ALICE).get("global/doc", at=dropped)
            assert info.value.oldest == oldest


def test_state_only_export_holds_the_live_user_keys_only(hub: statehub.Hub, tmp_path: Path) -> None:
    _populate(hub)
    short = hub.agent(ALICE).put("global/expiring", "soon gone", ttl=0.2)
    _wait_past(short.expires_ts)
    path = tmp_path / "state.json"
    assert hub.export(path) == hub.revision
    document = json.loads(path.read_text(encoding="utf-8"))
    assert (document["format"], document["version"], document["history"]) == (
        "statehub-export",
        1,
        False,
    )
    assert "changes" not in document
    keys = [entry["key"] for entry in document["entries"]]
    assert keys == sorted(keys)
    expected = {**_views(hub)[ALICE], **_views(hub)[BOB], **_views(hub)[CAROL]}
    assert {entry["key"]: entry["value"] for entry in document["entries"]} == expected
    assert "global/expiring" not in keys
    assert not any(key.startswith("_") for key in keys)


def test_state_only_import_restores_every_key_in_one_commit(
    hub: statehub.Hub, tmp_path: Path
) -> None:
    _populate(hub)
    path = tmp_path / "state.json"
    hub.export(path)
    with statehub.open("memory://") as copy_:
        assert statehub.import_file(path, into=copy_, as_agent="restorer") == 1
        assert _views(copy_) == _views(hub)
        changes = copy_.history()
        assert {(c.revision, c.agent, c.version) for c in changes} == {(1, "restorer", 1)}
        assert sorted(c.key for c in changes) == sorted(
            {key for view in _views(hub).values() for key in view}
        )
        assert copy_.checkpoints() == []
        assert copy_.locks() == []


def test_export_of_a_state_only_import_can_be_imported_again_with_history(
    hub: statehub.Hub, tmp_path: Path
) -> None:
    _populate(hub)
    hub.export(tmp_path / "state.json")
    with statehub.open("memory://") as first, statehub.open("memory://") as second:
        statehub.import_file(tmp_path / "state.json", into=first)
        first.export(tmp_path / "history.json", history=True)
        statehub.import_file(tmp_path / "history.json", into=second)
        _assert_same_hub(second, first, [])


def test_import_into_a_non_empty_hub_is_refused_and_writes_nothing(
    hub: statehub.Hub, tmp_path: Path
) -> None:
    with statehub.open("memory://") as source:
        _populate(source)
        source.export(tmp_path / "history.json", history=True)
        source.export(tmp_path / "state.json")
    hub.agent(ALICE).put("global/already", "here")
    for name in ("history.json", "state.json"):
        with _writes_nothing(hub), pytest.raises(statehub.InvalidArgument) as info:
            statehub.import_file(tmp_path / name, into=_plain(hub))
        assert "empty" in str(info.value)
    assert hub.checkpoints() == []


def _small_export(tmp_path: Path) -> dict[str, Any]:
    """An export with history of a small hub: three keys, a checkpoint, six revisions."""
    path = tmp_path / "source.json"
    with statehub.open("memory://") as source:
        alice = source.agent(ALICE)
        alice.put("global/a", 1)
        alice.put("global/b", [1, 2])
        alice.checkpoint("cp")
        alice.put("global/c", {"c": True})
        alice.put("global/a", 2)
        alice.delete("global/b")
        source.export(path, history=True)
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    assert [entry["key"] for entry in document["entries"]] == [
        "_checkpoints/cp",
        "global/a",
        "global/c",
    ]
    assert [change["revision"] for change in document["changes"]] == [1, 2, 3, 4, 5, 6]
    return document


def _set(document: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    target = document
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value


def _swap_changes(document: dict[str, Any]) -> None:
    changes = document["changes"]
    changes[1], changes[2] = changes[2], changes[1]


def _duplicate_entry(document: dict[str, Any]) -> None:
    document["entries"].append(copy.deepcopy(document["entries"][1]))


def _drop_version(document: dict[str, Any]) -> None:
    del document["entries"][2]["version"]


def _state_only_reserved_key(document: dict[str, Any]) -> None:
    document["history"] = False
    del document["changes"]


_CORRUPTIONS: dict[str, tuple[Callable[[dict[str, Any]], None] | None, list[str]]] = {
    "not_json": (None, ["not JSON"]),
    "wrong_format_tag": (lambda d: _set(d, ("format",), "something-else"), ["format"]),
    "no_format_tag": (lambda d: d.pop("format"), ["format"]),
    "newer_format_version": (lambda d: _set(d, ("version",), 2), ["version", "2"]),
    "bad_key_in_entries": (
        lambda d: _set(d, ("entries", 1, "key"), "global//a"),
        ["entries[1]", "global//a"],
    ),
    "unscoped_key_in_entries": (
        lambda d: _set(d, ("entries", 2, "key"), "elsewhere/c"),
        ["entries[2]", "elsewhere/c"],
    ),
    "string_version_in_entries": (
        lambda d: _set(d, ("entries", 1, "version"), "2"),
        ["entries[1]", "global/a", "version"],
    ),
    "float_version_in_entries": (
        lambda d: _set(d, ("entries", 2, "version"), 1.5),
        ["entries[2]", "global/c", "version"],
    ),
    "missing_version_in_entries": (_drop_version, ["entries[2]", "global/c", "version"]),
    "duplicate_key_in_entries": (_duplicate_entry, ["global/a"]),
    "entries_not_a_list": (lambda d: _set(d, ("entries",), {"global/a": 1}), ["entries"]),
    "change_out_of_order": (_swap_changes, ["changes[2]", "revision"]),
    "string_revision_in_changes": (
        lambda d: _set(d, ("changes", 0, "revision"), "1"),
        ["changes[0]", "revision"],
    ),
    "string_version_in_changes": (
        lambda d: _set(d, ("changes", 4, "version"), "2"),
        ["changes[4]", "global/a", "version"],
    ),
    "bad_key_in_changes": (
        lambda d: _set(d, ("changes", 3, "key"), "global/c/"),
        ["changes[3]", "global/c/"],
    ),
    "unknown_op_in_changes": (
        lambda d: _set(d, ("changes", 3, "op"), "teleport"),
        ["changes[3]", "teleport"],
    ),
    "revision_not_the_last_change": (
        lambda d: _set(d, ("revision",), 9),
        ["revision", "9"],
    ),
    "reserved_key_in_a_state_only_export": (
        _state_only_reserved_key,
        ["entries[0]", "_checkpoints"],
    ),
}


@pytest.mark.parametrize("corruption", list(_CORRUPTIONS))
def test_corrupt_or_hand_edited_export_raises_invalid_argument_naming_it_and_writes_nothing(
    hub: statehub.Hub, tmp_path: Path, corruption: str
) -> None:
    edit, fragments = _CORRUPTIONS[corruption]
    document = _small_export(tmp_path)
    path = tmp_path / "edited.json"
    if edit is None:
        path.write_text(json.dumps(document)[:-40], encoding="utf-8")
    else:
        edit(document)
        path.write_text(json.dumps(document), encoding="utf-8")
    with _writes_nothing(hub), pytest.raises(statehub.InvalidArgument) as info:
        statehub.import_file(path, into=_plain(hub))
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not named in {message!r}"
    assert hub.revision == 0
    assert hub.checkpoints() == []
    assert hub.agent(ALICE).scan("") == {}


# =========================================================================== the suite itself


def test_lifecycle_suite_exports_exactly_its_tests_and_no_name_of_the_first_part() -> None:
    tests = {
        name
        for name, value in globals().items()
        if name.startswith("test_") and inspect.isfunction(value)
    }
    assert sorted(__all__) == sorted(tests) == __all__
    assert not set(__all__) & set(conformance.__all__)


def test_a_key_removed_by_a_rollback_reads_as_absent_at_that_revision(
    hub: statehub.Hub,
) -> None:
    alice = hub.agent(ALICE)
    alice.checkpoint("empty")
    alice.put("global/doc", {"title": "Draft"})
    revision = alice.rollback("empty", prefix="global/")
    assert revision is not None
    assert alice.get("global/doc", at=revision) is None
    assert alice.get("global/doc", at=revision - 1) == {"title": "Draft"}
    (change,) = hub.history(key="global/doc", since=revision - 1)
    assert (change.op, change.version, change.patch) == (
        "rollback",
        0,
        [{"op": "remove", "path": ""}],
    )
