"""The conformance suite: what every statehub backend must do, as plain pytest tests.

Every test takes one fixture, ``hub``: an open :class:`statehub.Hub` on the backend
under test, fresh and empty (revision 0). Nothing here knows which backend it runs
on; a backend is done when the whole suite passes.

To run the suite against a backend, define the ``hub`` fixture and star-import the
tests into a test module. ``__all__`` lists exactly the test functions, so the star
import brings in nothing else::

    # tests/conftest.py: let pytest show the values an assert in the suite compared
    import pytest

    pytest.register_assert_rewrite("statehub.testing")

    # tests/test_my_backend.py
    from collections.abc import Iterator
    from pathlib import Path

    import pytest

    import statehub
    from statehub.testing.conformance import *  # noqa: F403


    @pytest.fixture
    def hub(tmp_path: Path) -> Iterator[statehub.Hub]:
        with statehub.open(f"sqlite:///{tmp_path}/hub.db") as opened:
            yield opened

statehub's own ``tests/conftest.py`` parametrizes ``hub`` over every built-in backend,
and ``tests/test_conformance.py`` is that star import, so each test runs once per
backend.

What the fixture must give: an empty hub whose agents' names are all free and whose
``max_value_bytes`` is the default (16 MiB); a test may lower ``max_value_bytes`` and
may close the hub (the fixture's teardown closing it again must be harmless). The
Hypothesis tests reuse the test's one hub for all their examples (each example works
under keys of its own) and run with ``deadline=None``.

The sections: writes and reads, compare-and-set, merge, reducers, transactions,
revisions, policy (scopes and ownership), keys, values (JSON, limits, copies),
history, time travel, closed hubs. Tests are named for the behaviour they pin down.
"""

from __future__ import annotations

import copy
import datetime as dt
import decimal
import enum
import json
import math
import random
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import statehub
from statehub.codec import MAX_DEPTH
from statehub.testing.rfc7396 import APPENDIX_A

__all__ = [
    "test_access_denied_is_a_permission_error_naming_key_and_agent",
    "test_agent_history_never_shows_other_agents_private_keys",
    "test_an_agents_own_private_keys_are_readable_and_writable_by_it",
    "test_another_agents_private_key_is_denied_even_when_absent",
    "test_another_agents_private_key_is_denied_for_every_operation",
    "test_appending_to_a_list_is_logged_as_one_add_op_after_the_first_versions",
    "test_builtin_reducers_by_name",
    "test_change_patches_replayed_in_order_reproduce_every_value",
    "test_change_timestamp_is_the_commit_time_of_the_entry",
    "test_changes_of_one_revision_are_listed_in_key_order",
    "test_closed_hub_raises_hub_closed_for_every_operation",
    "test_closing_a_hub_twice_is_harmless",
    "test_concurrent_dispatches_from_threads_lose_no_action",
    "test_concurrent_merges_from_threads_keep_every_field",
    "test_concurrent_updates_from_threads_lose_no_increment",
    "test_concurrent_writers_get_distinct_gap_free_revisions",
    "test_conflict_error_is_a_statehub_error_naming_key_and_versions",
    "test_delete_change_records_previous_version_and_removes_the_root",
    "test_delete_of_a_missing_key_returns_none_and_uses_no_revision",
    "test_delete_removes_the_key_and_returns_the_deleted_entry",
    "test_delete_with_stale_expect_version_raises_conflict_and_keeps_the_key",
    "test_deleting_an_owned_key_clears_its_ownership",
    "test_dict_keys_with_pointer_characters_round_trip",
    "test_dispatch_applies_the_registered_reducer_inside_the_commit",
    "test_dispatch_is_logged_with_the_reducer_and_action_as_cause",
    "test_dispatch_label_is_the_action_type_unless_a_label_is_given",
    "test_dispatch_result_over_the_size_limit_raises_value_too_large_and_writes_nothing",
    "test_dispatch_with_an_unknown_builtin_name_raises_unknown_reducer",
    "test_dispatch_with_no_reducer_raises_unknown_reducer_and_writes_nothing",
    "test_dispatching_in_sequence_accumulates_and_bumps_the_version",
    "test_entries_are_listed_in_key_order",
    "test_entry_agrees_with_the_entry_returned_by_put",
    "test_entry_is_immutable",
    "test_entry_of_a_missing_key_is_none",
    "test_every_commit_advances_the_revision_by_exactly_one",
    "test_every_write_is_attributed_to_its_agent",
    "test_expect_version_after_delete_is_zero",
    "test_expect_version_of_the_wrong_type_raises_invalid_argument_and_writes_nothing",
    "test_expect_version_on_a_missing_key_raises_conflict_with_actual_zero",
    "test_expect_version_zero_creates_only_when_the_key_is_absent",
    "test_failed_writes_use_no_revision",
    "test_get_at_after_head_raises_invalid_argument",
    "test_get_at_each_revision_returns_the_value_of_that_revision",
    "test_get_at_every_revision_equals_what_get_returned_right_after_that_commit",
    "test_get_at_head_equals_get",
    "test_get_at_of_the_wrong_type_raises_invalid_argument",
    "test_get_at_replays_a_long_run_of_appends",
    "test_get_at_replays_field_edits_of_a_large_document",
    "test_get_at_tells_apart_values_that_python_calls_equal",
    "test_get_at_zero_returns_the_default",
    "test_get_of_a_missing_key_returns_the_default",
    "test_get_of_a_stored_null_returns_null_not_the_default",
    "test_global_and_task_scopes_are_shared_by_every_agent",
    "test_history_arguments_of_the_wrong_type_raise_invalid_argument",
    "test_history_filtered_by_agent",
    "test_history_filtered_by_key",
    "test_history_filtered_by_prefix",
    "test_history_filters_combine",
    "test_history_is_append_only",
    "test_history_limit_returns_the_oldest_matching_changes",
    "test_history_lists_one_change_per_key_per_commit_oldest_first",
    "test_history_of_a_new_hub_is_empty",
    "test_history_since_is_exclusive_and_until_is_inclusive",
    "test_hub_history_shows_every_agents_keys",
    "test_hub_used_as_a_context_manager_is_closed_on_exit",
    "test_invalid_agent_names_raise_invalid_key",
    "test_invalid_key_raises_invalid_key_before_anything_is_written",
    "test_invalid_prefix_raises_invalid_key",
    "test_invalid_value_is_a_type_error_naming_the_path_inside_the_value",
    "test_key_of_1024_characters_is_accepted_and_1025_refused",
    "test_keys_with_every_allowed_character_round_trip",
    "test_label_of_the_wrong_type_raises_invalid_argument",
    "test_long_random_sequence_of_large_values_matches_the_model",
    "test_merge_adds_and_replaces_fields",
    "test_merge_follows_rfc7396",
    "test_merge_into_a_missing_key_creates_it",
    "test_merge_is_logged_with_the_merge_patch_as_cause",
    "test_merge_null_member_deletes_the_field",
    "test_merge_onto_a_non_object_value_starts_from_an_empty_object",
    "test_merge_recurses_into_nested_objects",
    "test_merge_result_over_the_size_limit_raises_value_too_large_and_writes_nothing",
    "test_merge_with_a_non_json_patch_raises_invalid_value_and_writes_nothing",
    "test_merge_with_a_non_object_patch_replaces_the_value",
    "test_merge_with_stale_expect_version_raises_conflict_and_writes_nothing",
    "test_merges_of_different_fields_by_different_agents_keep_both",
    "test_mutating_a_change_patch_does_not_change_the_log",
    "test_mutating_a_merge_patch_or_action_after_the_call_does_not_change_the_store",
    "test_mutating_a_past_value_does_not_change_the_past",
    "test_mutating_a_scan_result_does_not_change_the_store",
    "test_mutating_a_value_read_with_get_does_not_change_the_store",
    "test_mutating_an_entry_value_does_not_change_the_store",
    "test_mutating_the_value_after_put_does_not_change_the_store",
    "test_new_hub_is_empty_at_revision_zero",
    "test_non_json_value_raises_invalid_value_naming_key_and_type_and_writes_nothing",
    "test_nothing_changes_uses_no_revision",
    "test_overwrite_bumps_the_version_and_says_what_it_replaced",
    "test_owned_key_is_writable_by_its_owner_alone",
    "test_owned_key_stays_readable_by_everyone",
    "test_owner_false_gives_ownership_up",
    "test_owner_keeps_ownership_across_plain_writes",
    "test_owner_of_the_wrong_type_raises_invalid_argument",
    "test_put_and_get_round_trip_every_kind_of_json_value",
    "test_put_returns_an_entry_with_its_metadata",
    "test_put_with_matching_expect_version_succeeds",
    "test_put_with_stale_expect_version_raises_conflict_and_writes_nothing",
    "test_recreating_a_deleted_key_restarts_its_version_at_one",
    "test_reducer_error_in_a_transaction_writes_nothing",
    "test_reducer_initial_state_is_used_while_the_key_is_absent",
    "test_reducer_mutating_the_action_does_not_change_the_logged_action",
    "test_reducer_registered_by_pattern_applies_to_matching_keys_only",
    "test_reducer_returning_non_json_raises_reducer_error_and_writes_nothing",
    "test_reducer_that_raises_raises_reducer_error_and_writes_nothing",
    "test_register_reducer_refuses_a_non_callable",
    "test_scan_does_not_return_deleted_keys",
    "test_scan_never_shows_other_agents_private_keys",
    "test_scan_returns_only_keys_under_the_prefix",
    "test_transaction_get_makes_the_commit_conditional",
    "test_transaction_get_of_an_unchanged_key_commits",
    "test_transaction_label_applies_to_its_changes",
    "test_transaction_mixing_every_kind_of_write",
    "test_transaction_of_several_keys_is_one_revision_with_one_change_per_key",
    "test_transaction_put_then_delete_of_a_new_key_writes_nothing",
    "test_transaction_reports_its_revision_and_entries",
    "test_transaction_several_ops_on_one_key_log_one_change",
    "test_transaction_value_is_copied_when_buffered",
    "test_transaction_whose_block_raises_writes_nothing",
    "test_transaction_with_a_denied_op_writes_nothing",
    "test_transaction_with_a_failing_compare_writes_nothing",
    "test_tuples_and_int_or_str_enums_are_stored_as_plain_json",
    "test_update_applies_the_function_to_the_current_value",
    "test_update_function_mutating_its_argument_does_not_change_the_past",
    "test_update_gives_up_with_conflict_after_its_retries",
    "test_update_is_logged_as_an_update",
    "test_update_is_not_fooled_by_a_key_deleted_and_created_again",
    "test_update_passes_the_default_when_the_key_is_missing",
    "test_update_retries_when_the_key_changes_between_read_and_write",
    "test_update_with_a_non_json_result_raises_invalid_value_and_writes_nothing",
    "test_value_at_the_default_size_limit_is_accepted_and_one_byte_more_refused",
    "test_value_nested_to_the_depth_limit_is_accepted_and_one_deeper_refused",
    "test_value_too_large_for_a_lowered_limit_carries_key_size_and_limit",
    "test_values_keep_their_exact_json_types",
]

ALICE = "alice"
BOB = "bob"
CAROL = "carol"
_AGENTS = (ALICE, BOB, CAROL)

_DEFAULT_LIMIT = 16 * 1024 * 1024


class _Absent:
    """Marks a key that does not exist (distinct from a stored ``null``)."""

    def __repr__(self) -> str:
        return "<absent>"

    def __deepcopy__(self, memo: dict[int, Any]) -> _Absent:
        return self


_ABSENT: Any = _Absent()


# =========================================================================== helpers


def _canonical(value: Any) -> str:
    """JSON text with sorted keys: equal iff the values are the same JSON value.

    Unlike ``==``, it tells ``1``, ``1.0`` and ``True`` apart, and ``0.0`` from ``-0.0``.
    """
    if value is _ABSENT:
        return "<absent>"
    return json.dumps(value, sort_keys=True, allow_nan=False)


def _assert_same_json(actual: Any, expected: Any) -> None:
    assert _canonical(actual) == _canonical(expected), f"{actual!r} != {expected!r}"


def _observable_state(hub: statehub.Hub) -> tuple[int, list[statehub.Change], list[Any]]:
    """Everything a write could change: revision, log, and every test agent's view."""
    return hub.revision, hub.history(), [hub.agent(name).scan("") for name in _AGENTS]


@contextmanager
def _writes_nothing(hub: statehub.Hub) -> Iterator[None]:
    """Assert that the block leaves revision, history and every value as they were."""
    before = _observable_state(hub)
    yield
    assert _observable_state(hub) == before


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396, written here again so the suite does not trust statehub's own."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = _merge_patch(result.get(name), value)
    return result


_INDEX_RE = re.compile(r"0|[1-9][0-9]*")


def _tokens(pointer: str) -> list[str]:
    if pointer == "":
        return []
    assert pointer.startswith("/"), f"bad JSON Pointer {pointer!r}"
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/")]


def _index(container: list[Any], token: str, *, allow_end: bool) -> int:
    if allow_end and token == "-":
        return len(container)
    assert _INDEX_RE.fullmatch(token), f"bad list index {token!r}"
    index = int(token)
    assert index <= len(container) - (0 if allow_end else 1), f"index {index} out of range"
    return index


def _walk(doc: Any, tokens: list[str]) -> Any:
    for token in tokens:
        if isinstance(doc, list):
            doc = doc[_index(doc, token, allow_end=False)]
        else:
            assert isinstance(doc, dict), f"cannot descend into {doc!r}"
            assert token in doc, f"no member {token!r} in {doc!r}"
            doc = doc[token]
    return doc


def _add(doc: Any, tokens: list[str], value: Any) -> Any:
    if not tokens:
        return value
    parent = _walk(doc, tokens[:-1])
    if isinstance(parent, list):
        parent.insert(_index(parent, tokens[-1], allow_end=True), value)
    else:
        assert isinstance(parent, dict), f"cannot add into {parent!r}"
        parent[tokens[-1]] = value
    return doc


def _remove(doc: Any, tokens: list[str]) -> Any:
    if not tokens:
        return _ABSENT
    parent = _walk(doc, tokens[:-1])
    if isinstance(parent, list):
        del parent[_index(parent, tokens[-1], allow_end=False)]
    else:
        assert isinstance(parent, dict), f"cannot remove from {parent!r}"
        assert tokens[-1] in parent, f"no member {tokens[-1]!r} to remove"
        del parent[tokens[-1]]
    return doc


def _apply_json_patch(doc: Any, patch: list[dict[str, Any]]) -> Any:
    """Apply an RFC 6902 patch to a copy of ``doc`` (``_ABSENT``: no document yet).

    Written here again, so that a patch statehub both makes and applies wrongly in
    the same way is still caught. A ``remove`` at the root gives ``_ABSENT``.
    """
    assert isinstance(patch, list), f"a JSON Patch is a list, not {patch!r}"
    doc = copy.deepcopy(doc)
    for op in patch:
        kind, tokens = op["op"], _tokens(op["path"])
        if doc is _ABSENT:
            assert kind == "add", f"{op!r} applied to an absent key"
            assert not tokens, f"{op!r} applied to an absent key"
        if kind == "add":
            doc = _add(doc, tokens, copy.deepcopy(op["value"]))
        elif kind == "remove":
            doc = _remove(doc, tokens)
        elif kind == "replace":
            _walk(doc, tokens)
            doc = _add(_remove(doc, tokens), tokens, copy.deepcopy(op["value"]))
        elif kind in ("move", "copy"):
            source = _tokens(op["from"])
            value = copy.deepcopy(_walk(doc, source))
            if kind == "move":
                doc = _remove(doc, source)
            doc = _add(doc, tokens, value)
        elif kind == "test":
            _assert_same_json(_walk(doc, tokens), op["value"])
        else:
            raise AssertionError(f"unknown JSON Patch op {kind!r}")
    return doc


def _revisions(changes: list[statehub.Change]) -> list[int]:
    return sorted({change.revision for change in changes})


# =========================================================================== writes and reads


def test_new_hub_is_empty_at_revision_zero(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    assert hub.revision == 0
    assert hub.history() == []
    assert alice.scan("") == {}
    assert alice.get("global/anything") is None
    assert alice.entry("global/anything") is None


_ROUND_TRIP_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**63 - 1,
    -(2**63),
    2**64 - 1,
    1.5,
    -0.0,
    1e308,
    5e-324,
    "",
    "in_progress",
    "héllo wörld ✓ 你好 🚀",
    "line\nbreak\ttab\x00nul\u2028sep",
    [],
    {},
    [1, "two", 3.0, None, True, [], {}],
    {"draft": "Written", "nested": {"list": [1, {"deep": [None]}], "empty": {}}},
]


@pytest.mark.parametrize("value", _ROUND_TRIP_VALUES, ids=repr)
def test_put_and_get_round_trip_every_kind_of_json_value(hub: statehub.Hub, value: Any) -> None:
    alice = hub.agent(ALICE)
    entry = alice.put("global/value", value)
    _assert_same_json(entry.value, value)
    _assert_same_json(alice.get("global/value", default="missing"), value)
    stored = alice.entry("global/value")
    assert stored is not None
    _assert_same_json(stored.value, value)
    _assert_same_json(hub.agent(BOB).scan("global/")["global/value"], value)


def test_values_keep_their_exact_json_types(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/types", {"int": 1, "float": 1.0, "bool": True, "zero": 0, "neg": -0.0})
    got = alice.get("global/types")
    assert type(got["int"]) is int
    assert type(got["float"]) is float
    assert got["bool"] is True
    assert type(got["zero"]) is int
    assert str(got["neg"]) == "-0.0"


def test_put_returns_an_entry_with_its_metadata(hub: statehub.Hub) -> None:
    coordinator = hub.agent("coordinator")
    before = time.time()
    entry = coordinator.put("global/task_status", "in_progress")
    after = time.time()
    assert entry.key == "global/task_status"
    assert entry.value == "in_progress"
    assert entry.version == 1
    assert entry.created_rev == entry.modified_rev == 1 == hub.revision
    assert entry.updated_by == "coordinator"
    assert entry.replaced is None
    assert entry.owner is None
    assert entry.updated_at.tzinfo is not None
    assert entry.updated_at.utcoffset() == dt.timedelta(0)
    assert before - 1 <= entry.updated_at.timestamp() <= after + 1


def test_overwrite_bumps_the_version_and_says_what_it_replaced(hub: statehub.Hub) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    alice.put("global/doc", "v1")
    alice.put("global/other", "x")
    entry = bob.put("global/doc", "v2")
    assert (entry.value, entry.version, entry.created_rev, entry.modified_rev) == ("v2", 2, 1, 3)
    assert entry.updated_by == BOB
    assert entry.replaced is not None
    assert (entry.replaced.value, entry.replaced.version) == ("v1", 1)
    assert entry.replaced.updated_by == ALICE
    assert entry.replaced.modified_rev == 1


def test_get_of_a_missing_key_returns_the_default(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    marker: list[str] = []
    assert alice.get("global/missing") is None
    assert alice.get("global/missing", default=None) is None
    assert alice.get("global/missing", "fallback") == "fallback"
    assert alice.get("global/missing", default=marker) is marker


def test_get_of_a_stored_null_returns_null_not_the_default(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/null", None)
    assert alice.get("global/null", default="missing") is None
    entry = alice.entry("global/null")
    assert entry is not None
    assert entry.value is None
    assert "global/null" in alice.scan("global/")


def test_entry_of_a_missing_key_is_none(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    assert alice.entry("global/missing") is None
    alice.put("global/gone", 1)
    alice.delete("global/gone")
    assert alice.entry("global/gone") is None


def test_entry_agrees_with_the_entry_returned_by_put(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/doc", {"a": 1})
    written = alice.put("global/doc", {"a": 2})
    read = hub.agent(BOB).entry("global/doc")
    assert read is not None
    assert (read.key, read.value, read.version) == (written.key, written.value, written.version)
    assert (read.created_rev, read.modified_rev) == (written.created_rev, written.modified_rev)
    assert (read.updated_by, read.updated_at) == (written.updated_by, written.updated_at)
    assert read.owner == written.owner


def test_entry_is_immutable(hub: statehub.Hub) -> None:
    entry = hub.agent(ALICE).put("global/doc", 1)
    with pytest.raises(AttributeError):
        entry.version = 5  # type: ignore[misc]
    assert hub.agent(ALICE).entry("global/doc") is not None


def test_delete_removes_the_key_and_returns_the_deleted_entry(hub: statehub.Hub) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    alice.put("global/doc", "draft")
    alice.put("global/doc", "final")
    deleted = bob.delete("global/doc")
    assert deleted is not None
    assert (deleted.key, deleted.value, deleted.version) == ("global/doc", "final", 2)
    assert hub.revision == 3
    assert bob.get("global/doc", "gone") == "gone"
    assert bob.entry("global/doc") is None
    assert "global/doc" not in alice.scan("")


def test_delete_of_a_missing_key_returns_none_and_uses_no_revision(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/other", 1)
    with _writes_nothing(hub):
        assert alice.delete("global/never") is None
    alice.put("global/gone", 1)
    alice.delete("global/gone")
    with _writes_nothing(hub):
        assert alice.delete("global/gone") is None


def test_recreating_a_deleted_key_restarts_its_version_at_one(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/doc", "a")
    alice.put("global/doc", "b")
    alice.delete("global/doc")
    entry = alice.put("global/doc", "c")
    assert entry.version == 1
    assert entry.created_rev == entry.modified_rev == 4
    assert entry.replaced is None
    changes = hub.history(key="global/doc")
    assert [(c.prev_version, c.version) for c in changes] == [(0, 1), (1, 2), (2, 0), (0, 1)]


def test_scan_returns_only_keys_under_the_prefix(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/team/a", 1)
    alice.put("global/team/b", 2)
    alice.put("global/teammate", 3)
    alice.put("task/7/status", "open")
    assert alice.scan("global/team/") == {"global/team/a": 1, "global/team/b": 2}
    assert alice.scan("global/team") == {
        "global/team/a": 1,
        "global/team/b": 2,
        "global/teammate": 3,
    }
    assert alice.scan("task/") == {"task/7/status": "open"}
    assert alice.scan("global/nothing/") == {}
    assert alice.scan("") == {
        "global/team/a": 1,
        "global/team/b": 2,
        "global/teammate": 3,
        "task/7/status": "open",
    }


def test_scan_does_not_return_deleted_keys(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/a", 1)
    alice.put("global/b", 2)
    alice.delete("global/a")
    assert alice.scan("global/") == {"global/b": 2}


def test_entries_are_listed_in_key_order(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    for key in ["global/b", "global/a/z", "global/a", "global/A", "global/a-b", "global/0"]:
        alice.put(key, key)
    keys = [entry.key for entry in alice.entries("global/")]
    assert keys == sorted(keys)
    assert list(alice.scan("global/")) == keys


def test_every_write_is_attributed_to_its_agent(hub: statehub.Hub) -> None:
    hub.register_reducer("global/log", statehub.reducers.append)
    hub.agent("writer").put("global/doc", 1)
    hub.agent("merger").merge("global/doc", {"a": 1})
    hub.agent("dispatcher").dispatch("global/log", "x")
    hub.agent("updater").update("global/doc", lambda value: value)
    hub.agent("deleter").delete("global/doc")
    assert [(c.key, c.op, c.agent) for c in hub.history()] == [
        ("global/doc", "put", "writer"),
        ("global/doc", "merge", "merger"),
        ("global/log", "dispatch", "dispatcher"),
        ("global/doc", "update", "updater"),
        ("global/doc", "delete", "deleter"),
    ]
    entry = hub.agent("reader").entry("global/log")
    assert entry is not None
    assert entry.updated_by == "dispatcher"


def test_update_applies_the_function_to_the_current_value(hub: statehub.Hub) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    for agent in (alice, bob, alice):
        entry = agent.update("global/counter", lambda value: (value or 0) + 1)
    assert (entry.value, entry.version, entry.updated_by) == (3, 3, ALICE)
    assert entry.replaced is not None
    assert entry.replaced.value == 2
    assert bob.get("global/counter") == 3


def test_update_is_not_fooled_by_a_key_deleted_and_created_again(hub: statehub.Hub) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    alice.put("global/list", ["first"])
    seen: list[Any] = []

    def append_mine(value: Any) -> list[Any]:
        if not seen:  # between update's read and its commit, once: back at version 1
            bob.delete("global/list")
            bob.put("global/list", ["theirs"])
        seen.append(value)
        return [*value, "mine"]

    entry = alice.update("global/list", append_mine)
    assert seen == [["first"], ["theirs"]]
    assert entry.value == ["theirs", "mine"]
    assert entry.replaced is not None
    assert entry.replaced.value == ["theirs"]


def test_update_passes_the_default_when_the_key_is_missing(hub: statehub.Hub) -> None:
    seen: list[Any] = []

    def record(value: Any) -> Any:
        seen.append(value)
        return value * 2

    entry = hub.agent(ALICE).update("global/x", record, default=21)
    assert seen == [21]
    assert (entry.value, entry.version) == (42, 1)


def test_update_is_logged_as_an_update(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/n", 1)
    alice.update("global/n", lambda value: value + 1)
    change = hub.history()[-1]
    assert (change.op, change.agent, change.prev_version, change.version) == (
        "update",
        ALICE,
        1,
        2,
    )
    assert _apply_json_patch(1, change.patch) == 2


def test_update_retries_when_the_key_changes_between_read_and_write(hub: statehub.Hub) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    alice.put("global/counter", 10)
    calls: list[Any] = []

    def interfering_increment(value: Any) -> Any:
        calls.append(value)
        if len(calls) == 1:
            bob.put("global/counter", 100)  # a write between this read and its commit
        return value + 1

    entry = alice.update("global/counter", interfering_increment)
    assert calls == [10, 100]
    assert (entry.value, entry.version) == (101, 3)
    assert [c.op for c in hub.history(key="global/counter")] == ["put", "put", "update"]
    assert hub.revision == 3


def test_update_gives_up_with_conflict_after_its_retries(hub: statehub.Hub) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    alice.put("global/counter", 0)
    calls: list[Any] = []

    def always_interfered(value: Any) -> Any:
        calls.append(value)
        bob.put("global/counter", value + 1000)
        return value + 1

    with pytest.raises(statehub.ConflictError) as info:
        alice.update("global/counter", always_interfered, retries=3)
    assert len(calls) == 3
    assert info.value.key == "global/counter"
    assert info.value.actual == info.value.expected + 1
    assert [c.agent for c in hub.history(key="global/counter")] == [ALICE, BOB, BOB, BOB]
    assert hub.revision == 4


def test_update_with_a_non_json_result_raises_invalid_value_and_writes_nothing(
    hub: statehub.Hub,
) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/when", "now")
    with _writes_nothing(hub), pytest.raises(statehub.InvalidValue):
        alice.update("global/when", lambda value: dt.datetime.now(dt.UTC))


def test_concurrent_updates_from_threads_lose_no_increment(hub: statehub.Hub) -> None:
    threads, increments = 4, 25

    def work(number: int) -> None:
        agent = hub.agent(f"worker{number}")
        for _ in range(increments):
            agent.update("global/counter", lambda value: (value or 0) + 1)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, range(threads)))
    total = threads * increments
    assert hub.agent(ALICE).get("global/counter") == total
    changes = hub.history(key="global/counter")
    assert [c.version for c in changes] == list(range(1, total + 1))
    assert hub.revision == total


# =========================================================================== compare-and-set


def test_put_with_matching_expect_version_succeeds(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/doc", "v1")
    entry = alice.put("global/doc", "v2", expect_version=1)
    assert (entry.value, entry.version) == ("v2", 2)
    entry = hub.agent(BOB).put("global/doc", "v3", expect_version=2)
    assert (entry.value, entry.version) == ("v3", 3)


def test_put_with_stale_expect_version_raises_conflict_and_writes_nothing(
    hub: statehub.Hub,
) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    alice.put("global/doc", "v1")
    bob.put("global/doc", "bob's v2")
    with _writes_nothing(hub), pytest.raises(statehub.ConflictError) as info:
        alice.put("global/doc", "alice's v2", expect_version=1)
    assert (info.value.key, info.value.expected, info.value.actual) == ("global/doc", 1, 2)
    assert alice.get("global/doc") == "bob's v2"


def test_expect_version_zero_creates_only_when_the_key_is_absent(hub: statehub.Hub) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    entry = alice.put("global/doc", "new", expect_version=0)
    assert (entry.value, entry.version) == ("new", 1)
    with _writes_nothing(hub), pytest.raises(statehub.ConflictError) as info:
        bob.put("global/doc", "also new", expect_version=0)
    assert (info.value.key, info.value.expected, info.value.actual) == ("global/doc", 0, 1)
    assert bob.get("global/doc") == "new"


def test_expect_version_on_a_missing_key_raises_conflict_with_actual_zero(
    hub: statehub.Hub,
) -> None:
    alice = hub.agent(ALICE)
    with _writes_nothing(hub), pytest.raises(statehub.ConflictError) as info:
        alice.put("global/doc", "v", expect_version=1)
    assert (info.value.key, info.value.expected, info.value.actual) == ("global/doc", 1, 0)


def test_expect_version_after_delete_is_zero(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/doc", "v1")
    alice.delete("global/doc", expect_version=1)
    with _writes_nothing(hub), pytest.raises(statehub.ConflictError):
        alice.put("global/doc", "v", expect_version=1)
    assert alice.put("global/doc", "again", expect_version=0).version == 1


def test_delete_with_stale_expect_version_raises_conflict_and_keeps_the_key(
    hub: statehub.Hub,
) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/doc", "v1")
    alice.put("global/doc", "v2")
    with _writes_nothing(hub), pytest.raises(statehub.ConflictError) as info:
        alice.delete("global/doc", expect_version=1)
    assert (info.value.expected, info.value.actual) == (1, 2)
    assert alice.get("global/doc") == "v2"


def test_merge_with_stale_expect_version_raises_conflict_and_writes_nothing(
    hub: statehub.Hub,
) -> None:
    alice = hub.agent(ALICE)
    alice.merge("global/report", {"a": 1})
    assert alice.merge("global/report", {"b": 2}, expect_version=1).version == 2
    with _writes_nothing(hub), pytest.raises(statehub.ConflictError) as info:
        alice.merge("global/report", {"c": 3}, expect_version=1)
    assert (info.value.expected, info.value.actual) == (1, 2)
    assert alice.get("global/report") == {"a": 1, "b": 2}


def test_conflict_error_is_a_statehub_error_naming_key_and_versions(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/doc", "v1")
    with pytest.raises(statehub.StatehubError) as info:
        alice.put("global/doc", "v", expect_version=7)
    assert isinstance(info.value, statehub.ConflictError)
    message = str(info.value)
    assert "global/doc" in message
    assert "7" in message
    assert "1" in message


_BAD_VERSIONS: list[Any] = ["1", 1.0, True, False, -1, [1], "0"]


@pytest.mark.parametrize("operation", ["put", "merge", "delete", "transaction"])
def test_expect_version_of_the_wrong_type_raises_invalid_argument_and_writes_nothing(
    hub: statehub.Hub, operation: str
) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/doc", {"v": 1})

    def write(bad: Any) -> object:
        if operation == "put":
            return alice.put("global/doc", "x", expect_version=bad)
        if operation == "merge":
            return alice.merge("global/doc", {"x": 1}, expect_version=bad)
        if operation == "delete":
            return alice.delete("global/doc", expect_version=bad)
        with alice.transaction() as tx:
            tx.put("global/other", 1)
            tx.put("global/doc", "x", expect_version=bad)
        return tx.revision

    for bad in _BAD_VERSIONS:
        with _writes_nothing(hub), pytest.raises(statehub.InvalidArgument):
            write(bad)


# =========================================================================== merge


def test_merge_into_a_missing_key_creates_it(hub: statehub.Hub) -> None:
    entry = hub.agent(ALICE).merge("global/report", {"research": "done"})
    assert (entry.value, entry.version, entry.replaced) == ({"research": "done"}, 1, None)


def test_merge_adds_and_replaces_fields(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/report", {"a": 1, "b": 2})
    entry = alice.merge("global/report", {"b": 3, "c": 4})
    assert entry.value == {"a": 1, "b": 3, "c": 4}
    assert entry.version == 2
    assert entry.replaced is not None
    assert entry.replaced.value == {"a": 1, "b": 2}


def test_merge_null_member_deletes_the_field(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/report", {"a": 1, "b": 2})
    alice.merge("global/report", {"a": None, "missing": None})
    assert alice.get("global/report") == {"b": 2}


def test_merge_recurses_into_nested_objects(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/cfg", {"db": {"host": "a", "port": 1}, "tags": ["x"]})
    alice.merge("global/cfg", {"db": {"port": 2, "user": "u"}, "tags": ["y"]})
    assert alice.get("global/cfg") == {"db": {"host": "a", "port": 2, "user": "u"}, "tags": ["y"]}


def test_merge_with_a_non_object_patch_replaces_the_value(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/doc", {"a": 1})
    assert alice.merge("global/doc", [1, 2]).value == [1, 2]
    assert alice.merge("global/doc", "text").value == "text"


def test_merge_onto_a_non_object_value_starts_from_an_empty_object(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/doc", [1, 2, 3])
    assert alice.merge("global/doc", {"a": 1, "b": None}).value == {"a": 1}


@pytest.mark.parametrize(("original", "patch", "result"), APPENDIX_A)
def test_merge_follows_rfc7396(hub: statehub.Hub, original: Any, patch: Any, result: Any) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/doc", original)
    _assert_same_json(alice.merge("global/doc", patch).value, result)
    _assert_same_json(alice.get("global/doc", "missing"), result)


def test_merges_of_different_fields_by_different_agents_keep_both(hub: statehub.Hub) -> None:
    researcher, writer = hub.agent("researcher"), hub.agent("writer")
    researcher.merge("global/report", {"research": "done"})
    writer.merge("global/report", {"draft": "Written"})
    assert writer.get("global/report") == {"research": "done", "draft": "Written"}


def test_concurrent_merges_from_threads_keep_every_field(hub: statehub.Hub) -> None:
    threads, fields = 4, 15

    def work(number: int) -> None:
        agent = hub.agent(f"worker{number}")
        for field in range(fields):
            agent.merge("global/report", {f"w{number}": {f"f{field}": field}})

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, range(threads)))
    expected = {f"w{n}": {f"f{f}": f for f in range(fields)} for n in range(threads)}
    assert hub.agent(ALICE).get("global/report") == expected
    assert hub.revision == threads * fields


def test_merge_is_logged_with_the_merge_patch_as_cause(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/report", {"a": 1})
    alice.merge("global/report", {"a": None, "b": {"c": 2}})
    change = hub.history()[-1]
    assert (change.op, change.agent, change.prev_version, change.version) == ("merge", ALICE, 1, 2)
    assert change.cause == {"patch": {"a": None, "b": {"c": 2}}}
    _assert_same_json(_apply_json_patch({"a": 1}, change.patch), {"b": {"c": 2}})


def test_merge_result_over_the_size_limit_raises_value_too_large_and_writes_nothing(
    hub: statehub.Hub,
) -> None:
    hub.max_value_bytes = 100
    alice = hub.agent(ALICE)
    alice.put("global/doc", {"text": "x" * 60})
    with _writes_nothing(hub), pytest.raises(statehub.ValueTooLarge) as info:
        alice.merge("global/doc", {"more": "y" * 30})
    assert info.value.key == "global/doc"
    assert info.value.limit == 100
    assert info.value.size > 100


def test_merge_with_a_non_json_patch_raises_invalid_value_and_writes_nothing(
    hub: statehub.Hub,
) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/doc", {"a": 1})
    with _writes_nothing(hub), pytest.raises(statehub.InvalidValue) as info:
        alice.merge("global/doc", {"when": dt.date(2024, 1, 1)})
    assert info.value.key == "global/doc"


# =========================================================================== reducers


def _task_reducer(state: Any, action: Any) -> Any:
    """The lesson's reducer: a task list with counters."""
    state = state or {"tasks": [], "completed": 0}
    if action["type"] == "ADD":
        return {**state, "tasks": [*state["tasks"], action["task"]]}
    if action["type"] == "COMPLETE":
        return {**state, "completed": state["completed"] + 1}
    return state


def test_dispatch_applies_the_registered_reducer_inside_the_commit(hub: statehub.Hub) -> None:
    hub.register_reducer("global/tasks", _task_reducer)
    coordinator, worker = hub.agent("coordinator"), hub.agent("worker")
    first = coordinator.dispatch("global/tasks", {"type": "ADD", "task": "Research"})
    assert (first.value, first.version, first.replaced) == (
        {"tasks": ["Research"], "completed": 0},
        1,
        None,
    )
    worker.dispatch("global/tasks", {"type": "ADD", "task": "Write"})
    last = worker.dispatch("global/tasks", {"type": "COMPLETE"})
    assert last.value == {"tasks": ["Research", "Write"], "completed": 1}
    assert last.version == 3
    assert coordinator.get("global/tasks") == last.value


def test_dispatching_in_sequence_accumulates_and_bumps_the_version(hub: statehub.Hub) -> None:
    hub.register_reducer("global/log", statehub.reducers.append)
    alice = hub.agent(ALICE)
    for number in range(5):
        entry = alice.dispatch("global/log", {"n": number})
        assert entry.version == number + 1
    assert alice.get("global/log") == [{"n": n} for n in range(5)]


def test_dispatch_label_is_the_action_type_unless_a_label_is_given(hub: statehub.Hub) -> None:
    hub.register_reducer("global/tasks", _task_reducer)
    coordinator = hub.agent("coordinator")
    coordinator.dispatch("global/tasks", {"type": "ADD", "task": "Research"})
    coordinator.dispatch("global/tasks", {"type": "COMPLETE"}, label="finished")
    coordinator.dispatch("global/log", "plain", reducer="append")
    labels = [change.label for change in hub.history()]
    assert labels == ["ADD", "finished", None]


def test_dispatch_is_logged_with_the_reducer_and_action_as_cause(hub: statehub.Hub) -> None:
    hub.register_reducer("global/tasks", _task_reducer)
    alice = hub.agent(ALICE)
    alice.dispatch("global/tasks", {"type": "ADD", "task": "Research"})
    alice.dispatch("global/log", "hello", reducer="append")
    registered, builtin = hub.history()
    assert registered.op == builtin.op == "dispatch"
    assert registered.cause == {
        "reducer": "_task_reducer",
        "action": {"type": "ADD", "task": "Research"},
    }
    assert builtin.cause == {"reducer": "append", "action": "hello"}


def test_dispatch_with_no_reducer_raises_unknown_reducer_and_writes_nothing(
    hub: statehub.Hub,
) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/tasks", [])
    with _writes_nothing(hub), pytest.raises(statehub.UnknownReducer) as info:
        alice.dispatch("global/tasks", {"type": "ADD"})
    assert isinstance(info.value, LookupError)
    assert "global/tasks" in str(info.value)


def test_dispatch_with_an_unknown_builtin_name_raises_unknown_reducer(hub: statehub.Hub) -> None:
    with _writes_nothing(hub), pytest.raises(statehub.UnknownReducer):
        hub.agent(ALICE).dispatch("global/log", 1, reducer="no-such-reducer")


def test_reducer_that_raises_raises_reducer_error_and_writes_nothing(hub: statehub.Hub) -> None:
    def broken(state: Any, action: Any) -> Any:
        raise KeyError("boom")

    hub.register_reducer("global/tasks", broken)
    alice = hub.agent(ALICE)
    alice.put("global/tasks", {"tasks": []})
    with _writes_nothing(hub), pytest.raises(statehub.ReducerError) as info:
        alice.dispatch("global/tasks", {"type": "ADD"})
    assert isinstance(info.value.__cause__, KeyError)
    assert "global/tasks" in str(info.value)


def test_reducer_returning_non_json_raises_reducer_error_and_writes_nothing(
    hub: statehub.Hub,
) -> None:
    hub.register_reducer("global/tags", lambda state, action: {*(state or []), action})
    alice = hub.agent(ALICE)
    alice.put("global/tags", ["a"])
    with _writes_nothing(hub), pytest.raises(statehub.ReducerError):
        alice.dispatch("global/tags", "b")
    with _writes_nothing(hub), pytest.raises(statehub.ReducerError):
        alice.dispatch("global/nan", 1, reducer=lambda state, action: float("nan"))


def test_dispatch_result_over_the_size_limit_raises_value_too_large_and_writes_nothing(
    hub: statehub.Hub,
) -> None:
    hub.max_value_bytes = 50
    alice = hub.agent(ALICE)
    alice.dispatch("global/log", "x" * 20, reducer="append")
    with _writes_nothing(hub), pytest.raises(statehub.ValueTooLarge):
        alice.dispatch("global/log", "y" * 30, reducer="append")
    assert alice.get("global/log") == ["x" * 20]


def test_reducer_initial_state_is_used_while_the_key_is_absent(hub: statehub.Hub) -> None:
    seen: list[Any] = []

    def counting(state: Any, action: Any) -> Any:
        seen.append(copy.deepcopy(state))
        return {"count": state["count"] + action}

    hub.register_reducer("global/counter", counting, initial={"count": 10})
    alice = hub.agent(ALICE)
    assert alice.dispatch("global/counter", 1).value == {"count": 11}
    assert alice.dispatch("global/counter", 2).value == {"count": 13}
    alice.delete("global/counter")
    assert alice.dispatch("global/counter", 5).value == {"count": 15}
    assert seen == [{"count": 10}, {"count": 11}, {"count": 10}]
    hub.register_reducer("global/plain", lambda state, action: [state, action])
    assert alice.dispatch("global/plain", 1).value == [None, 1]


def test_reducer_registered_by_pattern_applies_to_matching_keys_only(hub: statehub.Hub) -> None:
    hub.register_reducer("task/*/log", statehub.reducers.append)
    alice = hub.agent(ALICE)
    assert alice.dispatch("task/1/log", "a").value == ["a"]
    assert alice.dispatch("task/abc/log", "b").value == ["b"]
    for key in ("task/1/other", "task/1/x/log", "global/log"):
        with _writes_nothing(hub), pytest.raises(statehub.UnknownReducer):
            alice.dispatch(key, "c")


_BUILTIN_CASES: list[tuple[str, Any, Any, Any]] = [
    ("append", _ABSENT, "a", ["a"]),
    ("append", ["a"], {"b": 1}, ["a", {"b": 1}]),
    ("extend", _ABSENT, [1, 2], [1, 2]),
    ("extend", [0], [1, 2], [0, 1, 2]),
    ("add", _ABSENT, 5, 5),
    ("add", 5, 2.5, 7.5),
    ("max", _ABSENT, 3, 3),
    ("max", 3, 1, 3),
    ("max", 3, 9, 9),
    ("min", 3, 1, 1),
    ("min", 3, 9, 3),
    ("union", ["a", "b"], ["b", "c", "a", "d"], ["a", "b", "c", "d"]),
    ("merge", {"a": 1, "b": 2}, {"a": None, "c": 3}, {"b": 2, "c": 3}),
    ("replace", {"a": 1}, [1], [1]),
]


@pytest.mark.parametrize(("name", "state", "action", "result"), _BUILTIN_CASES)
def test_builtin_reducers_by_name(
    hub: statehub.Hub, name: str, state: Any, action: Any, result: Any
) -> None:
    alice = hub.agent(ALICE)
    if state is not _ABSENT:
        alice.put("global/value", state)
    entry = alice.dispatch("global/value", action, reducer=name)
    _assert_same_json(entry.value, result)
    _assert_same_json(alice.get("global/value"), result)
    assert hub.history()[-1].cause == {"reducer": name, "action": action}


def test_reducer_mutating_the_action_does_not_change_the_logged_action(
    hub: statehub.Hub,
) -> None:
    def careless(state: Any, action: Any) -> Any:
        action["seen"] = True
        return [*(state or []), action]

    action = {"type": "ADD", "task": "Research"}
    hub.agent(ALICE).dispatch("global/tasks", action, reducer=careless)
    assert action == {"type": "ADD", "task": "Research"}
    assert hub.history()[-1].cause == {
        "reducer": "careless",
        "action": {"type": "ADD", "task": "Research"},
    }


def test_register_reducer_refuses_a_non_callable(hub: statehub.Hub) -> None:
    with pytest.raises(statehub.InvalidArgument):
        hub.register_reducer("global/x", "append")  # type: ignore[arg-type]
    with pytest.raises(statehub.InvalidKey):
        hub.register_reducer("global//x", statehub.reducers.append)


def test_concurrent_dispatches_from_threads_lose_no_action(hub: statehub.Hub) -> None:
    hub.register_reducer("global/log", statehub.reducers.append)
    threads, actions = 4, 20

    def work(number: int) -> None:
        agent = hub.agent(f"worker{number}")
        for action in range(actions):
            agent.dispatch("global/log", [number, action])

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, range(threads)))
    log = hub.agent(ALICE).get("global/log")
    assert sorted(map(tuple, log)) == [(n, a) for n in range(threads) for a in range(actions)]
    for number in range(threads):
        assert [a for n, a in log if n == number] == list(range(actions))


# =========================================================================== transactions


def test_transaction_of_several_keys_is_one_revision_with_one_change_per_key(
    hub: statehub.Hub,
) -> None:
    planner = hub.agent("planner")
    planner.put("global/before", 0)
    with planner.transaction() as tx:
        tx.put("global/plan", ["research", "write"])
        tx.merge("global/status", {"plan": "ready"})
        tx.put("task/1/owner", "planner")
    assert hub.revision == 2
    changes = hub.history(since=1)
    assert sorted(c.key for c in changes) == ["global/plan", "global/status", "task/1/owner"]
    assert {c.revision for c in changes} == {2}
    assert {c.agent for c in changes} == {"planner"}
    assert planner.get("global/status") == {"plan": "ready"}
    entries = [planner.entry(key) for key in ("global/plan", "global/status", "task/1/owner")]
    assert [e.modified_rev for e in entries if e is not None] == [2, 2, 2]


def test_transaction_reports_its_revision_and_entries(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/a", 1)
    alice.put("global/b", 1)
    with alice.transaction() as tx:
        tx.put("global/a", 2)
        tx.delete("global/b")
        tx.merge("global/c", {"x": 1})
    assert tx.revision == hub.revision == 3
    assert set(tx.entries) == {"global/a", "global/b", "global/c"}
    written = tx.entries["global/a"]
    assert written is not None
    assert (written.value, written.version, written.modified_rev) == (2, 2, 3)
    assert written.replaced is not None
    assert written.replaced.value == 1
    created = tx.entries["global/c"]
    assert created is not None
    assert (created.value, created.version) == ({"x": 1}, 1)
    assert tx.entries["global/b"] is None


def test_transaction_whose_block_raises_writes_nothing(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/a", 1)

    class Abort(Exception):
        pass

    with _writes_nothing(hub), pytest.raises(Abort), alice.transaction() as tx:  # noqa: PT012
        tx.put("global/a", 2)
        tx.put("global/b", 2)
        tx.delete("global/a")
        raise Abort
    assert tx.revision is None


def test_transaction_with_a_failing_compare_writes_nothing(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/a", 1)
    alice.put("global/b", 1)
    alice.put("global/b", 2)
    with (  # noqa: PT012
        _writes_nothing(hub),
        pytest.raises(statehub.ConflictError) as info,
        alice.transaction() as tx,
    ):
        tx.put("global/a", "new", expect_version=1)
        tx.put("global/b", "new", expect_version=1)
        tx.put("global/c", "new")
    assert (info.value.key, info.value.expected, info.value.actual) == ("global/b", 1, 2)


def test_transaction_get_makes_the_commit_conditional(hub: statehub.Hub) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    alice.put("global/balance", 100)
    with pytest.raises(statehub.ConflictError) as info, alice.transaction() as tx:  # noqa: PT012
        balance = tx.get("global/balance")
        bob.put("global/balance", 50)  # lands between the read and the commit
        tx.put("global/balance", balance - 30)
        tx.put("global/ledger", ["-30"])
    assert info.value.key == "global/balance"
    assert alice.get("global/balance") == 50
    assert alice.get("global/ledger") is None
    assert hub.revision == 2


def test_transaction_get_of_an_unchanged_key_commits(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/balance", 100)
    with alice.transaction() as tx:
        balance = tx.get("global/balance")
        missing = tx.get("global/missing", "none")
        tx.put("global/balance", balance - 30)
        tx.put("global/result", missing)
    assert alice.get("global/balance") == 70
    assert alice.get("global/result") == "none"
    assert tx.revision == 2


def test_nothing_changes_uses_no_revision(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/a", 1)
    with _writes_nothing(hub):
        with alice.transaction() as empty:
            pass
        with alice.transaction() as reads_only:
            reads_only.get("global/a")
        with alice.transaction() as deletes_nothing:
            deletes_nothing.delete("global/missing")
    assert empty.revision is None
    assert reads_only.revision is None
    assert deletes_nothing.revision is None
    assert alice.put("global/b", 1).modified_rev == 2


def test_transaction_several_ops_on_one_key_log_one_change(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/doc", {"a": 1})
    with alice.transaction() as tx:
        tx.put("global/doc", {"b": 2})
        tx.merge("global/doc", {"c": 3})
        tx.dispatch("global/doc", {"d": 4}, reducer="merge")
    assert alice.get("global/doc") == {"b": 2, "c": 3, "d": 4}
    changes = hub.history(key="global/doc")
    assert len(changes) == 2
    last = changes[-1]
    assert (last.revision, last.prev_version, last.version) == (2, 1, 2)
    _assert_same_json(_apply_json_patch({"a": 1}, last.patch), {"b": 2, "c": 3, "d": 4})


def test_transaction_put_then_delete_of_a_new_key_writes_nothing(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/a", 1)
    with _writes_nothing(hub), alice.transaction() as tx:
        tx.put("global/temp", 1)
        tx.delete("global/temp")
    assert tx.revision is None


def test_transaction_label_applies_to_its_changes(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    with alice.transaction(label="plan-v1") as tx:
        tx.put("global/a", 1)
        tx.put("global/b", 1, label="own-label")
    labels = {c.key: c.label for c in hub.history()}
    assert labels == {"global/a": "plan-v1", "global/b": "own-label"}
    alice.put("global/c", 1, label="single")
    assert hub.history()[-1].label == "single"


def test_transaction_mixing_every_kind_of_write(hub: statehub.Hub) -> None:
    hub.register_reducer("global/log", statehub.reducers.append)
    alice = hub.agent(ALICE)
    alice.put("global/old", "x")
    alice.put("global/report", {"a": 1})
    with alice.transaction() as tx:
        tx.put("global/new", [1])
        tx.merge("global/report", {"b": 2})
        tx.dispatch("global/log", "started")
        tx.delete("global/old")
        tx.put("agent/alice/notes", "mine")
    assert tx.revision == 3
    ops = {c.key: c.op for c in hub.history(since=2)}
    assert ops == {
        "global/new": "put",
        "global/report": "merge",
        "global/log": "dispatch",
        "global/old": "delete",
        "agent/alice/notes": "put",
    }
    assert alice.scan("") == {
        "agent/alice/notes": "mine",
        "global/log": ["started"],
        "global/new": [1],
        "global/report": {"a": 1, "b": 2},
    }


def test_reducer_error_in_a_transaction_writes_nothing(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/a", 1)

    def broken(state: Any, action: Any) -> Any:
        raise ValueError("no")

    with _writes_nothing(hub), pytest.raises(statehub.ReducerError), alice.transaction() as tx:  # noqa: PT012
        tx.put("global/a", 2)
        tx.dispatch("global/b", 1, reducer=broken)


def test_transaction_with_a_denied_op_writes_nothing(hub: statehub.Hub) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    alice.put("global/owned", "alice's", owner=True)
    bob.put("global/a", 1)
    with _writes_nothing(hub), pytest.raises(statehub.AccessDenied), bob.transaction() as tx:  # noqa: PT012
        tx.put("global/a", 2)
        tx.put("global/owned", "bob's")
    with _writes_nothing(hub), pytest.raises(statehub.AccessDenied), bob.transaction() as tx:  # noqa: PT012
        tx.put("global/a", 3)
        tx.put("agent/alice/notes", "bob's")


def test_transaction_value_is_copied_when_buffered(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    value: dict[str, Any] = {"items": [1]}
    with alice.transaction() as tx:
        tx.put("global/doc", value)
        value["items"].append(2)
        value["late"] = True
    assert alice.get("global/doc") == {"items": [1]}


# =========================================================================== revisions


def test_every_commit_advances_the_revision_by_exactly_one(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    hub.register_reducer("global/log", statehub.reducers.append)
    writes: list[Callable[[], object]] = [
        lambda: alice.put("global/a", 1),
        lambda: alice.put("global/a", 2, expect_version=1),
        lambda: alice.merge("global/b", {"x": 1}),
        lambda: alice.dispatch("global/log", 1),
        lambda: alice.update("global/a", lambda value: value + 1),
        lambda: alice.delete("global/a"),
        lambda: alice.put("agent/alice/x", 1),
        lambda: alice.put("task/9/status", "open"),
    ]
    for number, write in enumerate(writes, start=1):
        write()
        assert hub.revision == number
    assert _revisions(hub.history()) == list(range(1, len(writes) + 1))


def test_failed_writes_use_no_revision(hub: statehub.Hub) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    alice.put("global/a", 1)
    alice.put("global/owned", 1, owner=True)
    failures: list[Callable[[], object]] = [
        lambda: alice.put("global/a", 2, expect_version=5),
        lambda: bob.put("global/owned", 2),
        lambda: alice.dispatch("global/a", 1, reducer=lambda s, a: 1 / 0),
        lambda: alice.dispatch("global/none", 1),
        lambda: alice.put("global/bad", {1, 2}),
        lambda: alice.put("global//bad", 1),
        lambda: bob.put("agent/alice/x", 1),
    ]
    for failure in failures:
        with _writes_nothing(hub), pytest.raises(statehub.StatehubError):
            failure()
    entry = alice.put("global/a", 3)
    assert entry.modified_rev == hub.revision == 3
    assert _revisions(hub.history()) == [1, 2, 3]


def test_concurrent_writers_get_distinct_gap_free_revisions(hub: statehub.Hub) -> None:
    threads, writes = 4, 20

    def work(number: int) -> list[int]:
        agent = hub.agent(f"worker{number}")
        return [agent.put(f"global/w{number}/{i}", i).modified_rev for i in range(writes)]

    with ThreadPoolExecutor(threads) as pool:
        revisions = [rev for result in pool.map(work, range(threads)) for rev in result]
    total = threads * writes
    assert sorted(revisions) == list(range(1, total + 1))
    assert hub.revision == total
    changes = hub.history()
    assert [c.revision for c in changes] == list(range(1, total + 1))


# =========================================================================== policy: scopes


def test_an_agents_own_private_keys_are_readable_and_writable_by_it(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("agent/alice/notes", "mine")
    alice.merge("agent/alice/prefs", {"theme": "dark"})
    alice.dispatch("agent/alice/log", "x", reducer="append")
    alice.update("agent/alice/count", lambda value: (value or 0) + 1)
    alice.put("agent/alice", "root")
    assert alice.get("agent/alice/notes") == "mine"
    assert alice.get("agent/alice/notes", at=1) == "mine"
    entry = alice.entry("agent/alice/prefs")
    assert entry is not None
    assert entry.value == {"theme": "dark"}
    assert alice.scan("agent/alice/") == {
        "agent/alice/count": 1,
        "agent/alice/log": ["x"],
        "agent/alice/notes": "mine",
        "agent/alice/prefs": {"theme": "dark"},
    }
    assert len(alice.history(prefix="agent/alice/")) == 4
    assert alice.delete("agent/alice/notes") is not None


def _read_get(agent: statehub.Agent, key: str) -> object:
    return agent.get(key)


def _read_get_at(agent: statehub.Agent, key: str) -> object:
    return agent.get(key, at=1)


def _read_entry(agent: statehub.Agent, key: str) -> object:
    return agent.entry(key)


def _read_scan(agent: statehub.Agent, key: str) -> object:
    return agent.scan(key.rsplit("/", 1)[0] + "/")


def _read_history_key(agent: statehub.Agent, key: str) -> object:
    return agent.history(key=key)


def _read_history_prefix(agent: statehub.Agent, key: str) -> object:
    return agent.history(prefix=key.rsplit("/", 1)[0] + "/")


def _write_put(agent: statehub.Agent, key: str) -> object:
    return agent.put(key, "intruder")


def _write_put_owner(agent: statehub.Agent, key: str) -> object:
    return agent.put(key, "intruder", owner=True)


def _write_put_disown(agent: statehub.Agent, key: str) -> object:
    return agent.put(key, "intruder", owner=False)


def _write_put_cas(agent: statehub.Agent, key: str) -> object:
    return agent.put(key, "intruder", expect_version=1)


def _write_merge(agent: statehub.Agent, key: str) -> object:
    return agent.merge(key, {"intruder": True})


def _write_dispatch(agent: statehub.Agent, key: str) -> object:
    return agent.dispatch(key, "intruder", reducer="append")


def _write_delete(agent: statehub.Agent, key: str) -> object:
    return agent.delete(key)


def _write_update(agent: statehub.Agent, key: str) -> object:
    return agent.update(key, lambda value: "intruder")


def _write_transaction(agent: statehub.Agent, key: str) -> object:
    with agent.transaction() as tx:
        tx.put("global/side-effect", 1)
        tx.put(key, "intruder")
    return tx.revision


def _read_in_transaction(agent: statehub.Agent, key: str) -> object:
    with agent.transaction() as tx:
        tx.get(key)
        tx.put("global/side-effect", 1)
    return tx.revision


_PRIVATE_OPS: dict[str, Callable[[statehub.Agent, str], object]] = {
    "get": _read_get,
    "get_at": _read_get_at,
    "entry": _read_entry,
    "scan": _read_scan,
    "history_key": _read_history_key,
    "history_prefix": _read_history_prefix,
    "tx_get": _read_in_transaction,
    "put": _write_put,
    "put_owner": _write_put_owner,
    "merge": _write_merge,
    "dispatch": _write_dispatch,
    "delete": _write_delete,
    "update": _write_update,
    "transaction": _write_transaction,
}


@pytest.mark.parametrize("operation", list(_PRIVATE_OPS))
def test_another_agents_private_key_is_denied_for_every_operation(
    hub: statehub.Hub, operation: str
) -> None:
    hub.agent(BOB).put("agent/bob/notes", {"secret": 1})
    alice = hub.agent(ALICE)
    with _writes_nothing(hub), pytest.raises(statehub.AccessDenied) as info:
        _PRIVATE_OPS[operation](alice, "agent/bob/notes")
    assert info.value.agent == ALICE
    assert info.value.key.startswith("agent/bob")
    assert hub.agent(BOB).get("agent/bob/notes") == {"secret": 1}


@pytest.mark.parametrize("operation", ["get", "entry", "put", "merge", "delete", "history_key"])
def test_another_agents_private_key_is_denied_even_when_absent(
    hub: statehub.Hub, operation: str
) -> None:
    hub.agent(ALICE).put("global/x", 1)
    with _writes_nothing(hub), pytest.raises(statehub.AccessDenied):
        _PRIVATE_OPS[operation](hub.agent(ALICE), "agent/bob/nothing")


def test_access_denied_is_a_permission_error_naming_key_and_agent(hub: statehub.Hub) -> None:
    with pytest.raises(PermissionError) as info:
        hub.agent(ALICE).put("agent/bob/notes", 1)
    assert isinstance(info.value, statehub.AccessDenied)
    assert isinstance(info.value, statehub.StatehubError)
    assert "agent/bob/notes" in str(info.value)
    assert ALICE in str(info.value)


def test_scan_never_shows_other_agents_private_keys(hub: statehub.Hub) -> None:
    hub.agent("a").put("agent/a/x", 1)
    hub.agent("ab").put("agent/ab/x", 2)
    hub.agent("b").put("agent/b/x", 3)
    hub.agent("b").put("agent/b", 4)
    hub.agent("a").put("global/x", 5)
    a = hub.agent("a")
    assert a.scan("") == {"agent/a/x": 1, "global/x": 5}
    assert a.scan("agent/") == {"agent/a/x": 1}
    assert a.scan("agent/a") == {"agent/a/x": 1}
    assert a.scan("agent/b") == {}
    assert [entry.key for entry in a.entries("")] == ["agent/a/x", "global/x"]
    assert hub.agent("b").scan("agent/") == {"agent/b": 4, "agent/b/x": 3}
    assert hub.agent("c").scan("") == {"global/x": 5}


def test_agent_history_never_shows_other_agents_private_keys(hub: statehub.Hub) -> None:
    hub.agent("a").put("agent/a/x", 1)
    hub.agent("ab").put("agent/ab/x", 2)
    hub.agent("b").put("agent/b/x", 3)
    hub.agent("b").put("global/x", 4)
    a = hub.agent("a")
    assert [c.key for c in a.history()] == ["agent/a/x", "global/x"]
    assert [c.key for c in a.history(prefix="agent/")] == ["agent/a/x"]
    assert [c.key for c in a.history(prefix="agent/a")] == ["agent/a/x"]
    assert [c.key for c in a.history(agent="b")] == ["global/x"]
    assert a.history(agent="ab") == []


def test_hub_history_shows_every_agents_keys(hub: statehub.Hub) -> None:
    hub.agent("a").put("agent/a/x", 1)
    hub.agent("b").put("agent/b/x", 2)
    assert [c.key for c in hub.history()] == ["agent/a/x", "agent/b/x"]
    assert [c.key for c in hub.history(key="agent/b/x")] == ["agent/b/x"]


def test_global_and_task_scopes_are_shared_by_every_agent(hub: statehub.Hub) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    alice.put("global/status", "started")
    alice.put("task/42/result", {"draft": 1})
    bob.merge("task/42/result", {"review": 2})
    bob.put("global/status", "reviewed", expect_version=1)
    assert alice.get("task/42/result") == {"draft": 1, "review": 2}
    assert alice.get("global/status") == "reviewed"
    assert bob.delete("task/42/result") is not None
    assert alice.get("task/42/result") is None


# =========================================================================== policy: ownership


def test_owned_key_stays_readable_by_everyone(hub: statehub.Hub) -> None:
    entry = hub.agent(ALICE).put("global/plan", "alice's plan", owner=True)
    assert entry.owner == ALICE
    bob = hub.agent(BOB)
    assert bob.get("global/plan") == "alice's plan"
    read = bob.entry("global/plan")
    assert read is not None
    assert read.owner == ALICE
    assert bob.scan("global/") == {"global/plan": "alice's plan"}


_OWNED_KEY_WRITES: dict[str, Callable[[statehub.Agent, str], object]] = {
    "put": _write_put,
    "put_owner": _write_put_owner,
    "put_disown": _write_put_disown,
    "put_cas": _write_put_cas,
    "merge": _write_merge,
    "dispatch": _write_dispatch,
    "delete": _write_delete,
    "update": _write_update,
    "transaction": _write_transaction,
}


@pytest.mark.parametrize("operation", list(_OWNED_KEY_WRITES))
def test_owned_key_is_writable_by_its_owner_alone(hub: statehub.Hub, operation: str) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    alice.put("global/plan", ["alice's"], owner=True)
    with _writes_nothing(hub), pytest.raises(statehub.AccessDenied) as info:
        _OWNED_KEY_WRITES[operation](bob, "global/plan")
    assert (info.value.key, info.value.agent) == ("global/plan", BOB)
    # The owner itself may do the same.
    _OWNED_KEY_WRITES[operation](alice, "global/plan")


def test_owner_keeps_ownership_across_plain_writes(hub: statehub.Hub) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    alice.put("global/plan", {"v": 1}, owner=True)
    assert alice.put("global/plan", {"v": 2}).owner == ALICE
    assert alice.merge("global/plan", {"w": 1}).owner == ALICE
    alice.update("global/plan", lambda value: {**value, "u": 1})
    with _writes_nothing(hub), pytest.raises(statehub.AccessDenied):
        bob.put("global/plan", "bob's")
    assert alice.get("global/plan") == {"v": 2, "w": 1, "u": 1}


def test_owner_false_gives_ownership_up(hub: statehub.Hub) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    alice.put("global/plan", 1, owner=True)
    assert alice.put("global/plan", 2, owner=False).owner is None
    assert bob.put("global/plan", 3).value == 3
    assert bob.put("global/plan", 4, owner=True).owner == BOB
    with _writes_nothing(hub), pytest.raises(statehub.AccessDenied):
        alice.put("global/plan", 5)


def test_deleting_an_owned_key_clears_its_ownership(hub: statehub.Hub) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    alice.put("global/plan", 1, owner=True)
    alice.delete("global/plan")
    entry = bob.put("global/plan", 2)
    assert (entry.owner, entry.version) == (None, 1)
    assert alice.put("global/plan", 3).value == 3


@pytest.mark.parametrize("bad", ["yes", 1, 0, [True]], ids=repr)
def test_owner_of_the_wrong_type_raises_invalid_argument(hub: statehub.Hub, bad: Any) -> None:
    with _writes_nothing(hub), pytest.raises(statehub.InvalidArgument):
        hub.agent(ALICE).put("global/plan", 1, owner=bad)


# =========================================================================== keys

_BAD_KEYS: list[Any] = [
    "",
    "global",
    "global/",
    "/global/x",
    "global//x",
    "global/x/",
    "global/./x",
    "global/../x",
    "agent/b/../b/x",
    "agent/../x",
    "agent/-bob/x",
    "other/x",
    "Global/x",
    "_locks/x",
    "global/a b",
    "global/tab\t",
    "global/x\n",
    "global/é",
    "global/🚀",
    "global/x*",
    "global/" + "k" * 1018,
    123,
    None,
    b"global/x",
]


def _key_put(agent: statehub.Agent, key: Any) -> object:
    return agent.put(key, 1)


def _key_get(agent: statehub.Agent, key: Any) -> object:
    return agent.get(key)


def _key_merge(agent: statehub.Agent, key: Any) -> object:
    return agent.merge(key, {"a": 1})


def _key_dispatch(agent: statehub.Agent, key: Any) -> object:
    return agent.dispatch(key, 1, reducer="append")


def _key_update(agent: statehub.Agent, key: Any) -> object:
    return agent.update(key, lambda value: 1)


def _key_delete(agent: statehub.Agent, key: Any) -> object:
    return agent.delete(key)


def _key_entry(agent: statehub.Agent, key: Any) -> object:
    return agent.entry(key)


def _key_history(agent: statehub.Agent, key: Any) -> object:
    return agent.hub.history(key=key)


def _key_transaction(agent: statehub.Agent, key: Any) -> object:
    with agent.transaction() as tx:
        tx.put("global/side-effect", 1)
        tx.put(key, 1)
    return tx.revision


_KEY_OPS: dict[str, Callable[[statehub.Agent, Any], object]] = {
    "put": _key_put,
    "get": _key_get,
    "merge": _key_merge,
    "dispatch": _key_dispatch,
    "update": _key_update,
    "delete": _key_delete,
    "entry": _key_entry,
    "history": _key_history,
    "transaction": _key_transaction,
}


@pytest.mark.parametrize("key", _BAD_KEYS, ids=lambda key: repr(key)[:30])
def test_invalid_key_raises_invalid_key_before_anything_is_written(
    hub: statehub.Hub, key: Any
) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/existing", 1)
    for operation, call in _KEY_OPS.items():
        if operation == "history" and (key is None or str(key).startswith("_")):
            continue  # no key filter at all / the hub's own history may name reserved keys
        with _writes_nothing(hub), pytest.raises(statehub.InvalidKey) as info:
            call(alice, key)
        assert isinstance(info.value, ValueError), operation


def test_key_of_1024_characters_is_accepted_and_1025_refused(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    longest = "global/" + "k" * (1024 - len("global/"))
    assert len(longest) == 1024
    alice.put(longest, "long")
    assert alice.get(longest) == "long"
    assert alice.scan("global/") == {longest: "long"}
    assert [c.key for c in hub.history(key=longest)] == [longest]
    with _writes_nothing(hub), pytest.raises(statehub.InvalidKey):
        alice.put(longest + "k", "too long")


def test_keys_with_every_allowed_character_round_trip(hub: statehub.Hub) -> None:
    alice = hub.agent("Agent-1.x:y@z+w=v,u_t")
    keys = [
        "global/ABCxyz019_-.:@+=,",
        "global/a.b/..c/c..",
        "task/0/...",
        "agent/Agent-1.x:y@z+w=v,u_t/n",
    ]
    for number, key in enumerate(keys):
        alice.put(key, number)
    for number, key in enumerate(keys):
        assert alice.get(key) == number
    assert set(alice.scan("")) == set(keys)


@pytest.mark.parametrize("prefix", ["global//", "/global", "global/ x", "global/./", "global/é"])
def test_invalid_prefix_raises_invalid_key(hub: statehub.Hub, prefix: str) -> None:
    alice = hub.agent(ALICE)
    with pytest.raises(statehub.InvalidKey):
        alice.scan(prefix)
    with pytest.raises(statehub.InvalidKey):
        hub.history(prefix=prefix)


@pytest.mark.parametrize("name", ["", "-bob", "_bob", ".", "..", "a/b", "a b", "é", "x" * 129, 7])
def test_invalid_agent_names_raise_invalid_key(hub: statehub.Hub, name: Any) -> None:
    with pytest.raises(statehub.InvalidKey):
        hub.agent(name)
    with pytest.raises(statehub.InvalidKey):
        hub.history(agent=name)


# =========================================================================== values


class _Color(enum.Enum):
    RED = 1


class _Level(enum.IntEnum):
    HIGH = 2


class _Mode(enum.StrEnum):
    FAST = "fast"


def _not_json_cases() -> list[tuple[str, Any, str, str]]:
    """(id, value, type named in the error, JSON Pointer of the offending part)."""
    when = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    return [
        ("nan", float("nan"), "float", ""),
        ("inf", float("inf"), "float", ""),
        ("-inf", float("-inf"), "float", ""),
        ("datetime", when, "datetime", ""),
        ("date", dt.date(2024, 1, 1), "date", ""),
        ("set", {1, 2}, "set", ""),
        ("frozenset", frozenset({1}), "frozenset", ""),
        ("bytes", b"raw", "bytes", ""),
        ("bytearray", bytearray(b"raw"), "bytearray", ""),
        ("complex", 1j, "complex", ""),
        ("decimal", decimal.Decimal("1.5"), "Decimal", ""),
        ("object", object(), "object", ""),
        ("function", len, "builtin_function_or_method", ""),
        ("plain-enum", _Color.RED, "_Color", ""),
        ("int-key", {1: "one"}, "int", ""),
        ("tuple-key", {("a",): 1}, "tuple", ""),
        ("none-key", {None: 1}, "NoneType", ""),
        ("int-over-64-bits", 2**64, "int", ""),
        ("int-under-64-bits", -(2**63) - 1, "int", ""),
        ("nested-datetime", {"a": [when]}, "datetime", "/a/0"),
        ("nested-set", [1, {"b": {2}}], "set", "/1/b"),
        ("nested-nan", {"x": {"y": float("nan")}}, "float", "/x/y"),
        ("escaped-path", {"a/b": {"~c": b""}}, "bytes", "/a~1b/~0c"),
    ]


@pytest.mark.parametrize(
    ("value", "type_name", "path"),
    [pytest.param(v, t, p, id=i) for i, v, t, p in _not_json_cases()],
)
def test_non_json_value_raises_invalid_value_naming_key_and_type_and_writes_nothing(
    hub: statehub.Hub, value: Any, type_name: str, path: str
) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/doc", "kept")
    with _writes_nothing(hub), pytest.raises(statehub.InvalidValue) as info:
        alice.put("global/doc", value)
    error = info.value
    assert isinstance(error, TypeError)
    assert error.key == "global/doc"
    assert error.type_name == type_name
    assert error.path == path
    assert "global/doc" in str(error)
    assert type_name in str(error)
    with _writes_nothing(hub), pytest.raises(statehub.InvalidValue), alice.transaction() as tx:  # noqa: PT012
        tx.put("global/other", 1)
        tx.put("global/doc", value)
    assert alice.get("global/doc") == "kept"


def test_invalid_value_is_a_type_error_naming_the_path_inside_the_value(
    hub: statehub.Hub,
) -> None:
    alice = hub.agent(ALICE)
    with pytest.raises(TypeError) as info:
        alice.put("task/1/result", {"a": [dt.time(1, 2)]})
    assert "task/1/result" in str(info.value)
    assert "/a/0" in str(info.value)
    assert "time" in str(info.value)


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def test_value_nested_to_the_depth_limit_is_accepted_and_one_deeper_refused(
    hub: statehub.Hub,
) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/deep", _nested(MAX_DEPTH))
    _assert_same_json(alice.get("global/deep"), _nested(MAX_DEPTH))
    with _writes_nothing(hub), pytest.raises(statehub.InvalidValue) as info:
        alice.put("global/deep", _nested(MAX_DEPTH + 1))
    assert str(MAX_DEPTH) in str(info.value)
    with _writes_nothing(hub), pytest.raises(statehub.InvalidValue):
        alice.merge("global/deeper", {"k": _nested(MAX_DEPTH)})


def test_tuples_and_int_or_str_enums_are_stored_as_plain_json(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    value = {
        "tuple": (1, (2, 3)),
        "level": _Level.HIGH,
        "mode": _Mode.FAST,
        "ordered": OrderedDict([("b", 1), ("a", 2)]),
    }
    alice.put("global/doc", value)
    got = alice.get("global/doc")
    assert got == {"tuple": [1, [2, 3]], "level": 2, "mode": "fast", "ordered": {"b": 1, "a": 2}}
    assert type(got["level"]) is int
    assert type(got["mode"]) is str
    assert type(got["tuple"]) is list


def test_value_at_the_default_size_limit_is_accepted_and_one_byte_more_refused(
    hub: statehub.Hub,
) -> None:
    alice = hub.agent(ALICE)
    largest = "x" * (_DEFAULT_LIMIT - 2)  # the two quotes make it exactly 16 MiB
    assert alice.put("global/big", largest).version == 1
    assert len(alice.get("global/big")) == len(largest)
    with _writes_nothing(hub), pytest.raises(statehub.ValueTooLarge) as info:
        alice.put("global/big", largest + "x")
    assert (info.value.key, info.value.size, info.value.limit) == (
        "global/big",
        _DEFAULT_LIMIT + 1,
        _DEFAULT_LIMIT,
    )


def test_value_too_large_for_a_lowered_limit_carries_key_size_and_limit(
    hub: statehub.Hub,
) -> None:
    hub.max_value_bytes = 10
    alice = hub.agent(ALICE)
    alice.put("global/small", "12345678")  # 10 bytes encoded
    with _writes_nothing(hub), pytest.raises(statehub.ValueTooLarge) as info:
        alice.put("global/small", "123456789")
    assert (info.value.key, info.value.size, info.value.limit) == ("global/small", 11, 10)
    assert isinstance(info.value, statehub.InvalidArgument)
    assert "global/small" in str(info.value)
    with _writes_nothing(hub), pytest.raises(statehub.ValueTooLarge):
        alice.update("global/small", lambda value: value * 2)


def test_dict_keys_with_pointer_characters_round_trip(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    value = {"": 0, "a/b": 1, "~": 2, "~1": 3, "/": 4, "-": 5, "0": 6, "ü": 7}
    alice.put("global/doc", value)
    alice.merge("global/doc", {"a/b": None, "~0": {"x/y": 8}})
    expected = {"": 0, "~": 2, "~1": 3, "/": 4, "-": 5, "0": 6, "ü": 7, "~0": {"x/y": 8}}
    assert alice.get("global/doc") == expected
    assert alice.get("global/doc", at=1) == value
    changes = hub.history(key="global/doc")
    _assert_same_json(_apply_json_patch(value, changes[-1].patch), expected)


def test_mutating_the_value_after_put_does_not_change_the_store(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    value: dict[str, Any] = {"list": [1, 2], "nested": {"a": 1}}
    entry = alice.put("global/doc", value)
    value["list"].append(3)
    value["nested"]["a"] = 99
    value["new"] = True
    assert alice.get("global/doc") == {"list": [1, 2], "nested": {"a": 1}}
    assert entry.value == {"list": [1, 2], "nested": {"a": 1}}


def test_mutating_a_value_read_with_get_does_not_change_the_store(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/doc", {"list": [1, 2]})
    first = alice.get("global/doc")
    first["list"].append(3)
    first["added"] = 1
    second = alice.get("global/doc")
    assert second == {"list": [1, 2]}
    assert second is not first
    assert alice.get("global/doc", at=1) == {"list": [1, 2]}


def test_mutating_an_entry_value_does_not_change_the_store(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/doc", {"v": [1]})
    written = alice.put("global/doc", {"v": [2]})
    written.value["v"].append("from put")
    assert written.replaced is not None
    written.replaced.value["v"].append("from replaced")
    read = alice.entry("global/doc")
    assert read is not None
    read.value["v"].append("from entry")
    assert alice.get("global/doc") == {"v": [2]}
    assert alice.get("global/doc", at=1) == {"v": [1]}
    again = alice.entry("global/doc")
    assert again is not None
    assert again.value == {"v": [2]}


def test_mutating_a_scan_result_does_not_change_the_store(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/a", {"v": [1]})
    snapshot = alice.scan("global/")
    snapshot["global/a"]["v"].append(2)
    snapshot["global/b"] = "added"
    assert alice.scan("global/") == {"global/a": {"v": [1]}}


def test_mutating_a_merge_patch_or_action_after_the_call_does_not_change_the_store(
    hub: statehub.Hub,
) -> None:
    alice = hub.agent(ALICE)
    patch: dict[str, Any] = {"a": {"b": [1]}}
    alice.merge("global/doc", patch)
    patch["a"]["b"].append(2)
    action: dict[str, Any] = {"task": ["x"]}
    alice.dispatch("global/log", action, reducer="append")
    action["task"].append("y")
    assert alice.get("global/doc") == {"a": {"b": [1]}}
    assert alice.get("global/log") == [{"task": ["x"]}]
    assert hub.history()[0].cause == {"patch": {"a": {"b": [1]}}}
    assert hub.history()[1].cause == {"reducer": "append", "action": {"task": ["x"]}}


def test_mutating_a_past_value_does_not_change_the_past(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/doc", {"v": [1]})
    alice.put("global/doc", {"v": [1, 2]})
    past = alice.get("global/doc", at=1)
    past["v"].append("changed")
    assert alice.get("global/doc", at=1) == {"v": [1]}
    assert alice.get("global/doc", at=2) == {"v": [1, 2]}


def test_mutating_a_change_patch_does_not_change_the_log(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/doc", {"v": [1]})
    alice.merge("global/doc", {"w": 2})
    changes = hub.history()
    for change in changes:
        for op in change.patch:
            if isinstance(op.get("value"), dict):
                op["value"]["tampered"] = True
            op["path"] = "/tampered"
        if isinstance(change.cause, dict):
            change.cause["tampered"] = True
    assert hub.history() != changes
    assert alice.get("global/doc", at=1) == {"v": [1]}
    assert alice.get("global/doc") == {"v": [1], "w": 2}


def test_update_function_mutating_its_argument_does_not_change_the_past(
    hub: statehub.Hub,
) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/list", [1])

    def append_in_place(value: Any) -> Any:
        value.append(2)
        return value

    entry = alice.update("global/list", append_in_place)
    assert entry.value == [1, 2]
    assert entry.replaced is not None
    assert entry.replaced.value == [1]
    assert alice.get("global/list", at=1) == [1]
    assert alice.get("global/list") == [1, 2]


def test_label_of_the_wrong_type_raises_invalid_argument(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    with _writes_nothing(hub):
        with pytest.raises(statehub.InvalidArgument):
            alice.put("global/doc", 1, label=5)  # type: ignore[arg-type]
        with pytest.raises(statehub.InvalidArgument):
            alice.transaction(label=["x"])  # type: ignore[arg-type]


# =========================================================================== history


def test_history_of_a_new_hub_is_empty(hub: statehub.Hub) -> None:
    assert hub.history() == []
    assert hub.agent(ALICE).history() == []
    assert hub.history(key="global/x", since=0, until=0, limit=10) == []


def test_history_lists_one_change_per_key_per_commit_oldest_first(hub: statehub.Hub) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    alice.put("global/a", 1)
    bob.put("global/b", 2)
    with alice.transaction() as tx:
        tx.put("global/a", 3)
        tx.put("global/c", 4)
    bob.delete("global/b")
    changes = hub.history()
    assert [(c.revision, c.key) for c in changes] == [
        (1, "global/a"),
        (2, "global/b"),
        (3, "global/a"),
        (3, "global/c"),
        (4, "global/b"),
    ]
    assert [(c.op, c.agent, c.prev_version, c.version) for c in changes] == [
        ("put", ALICE, 0, 1),
        ("put", BOB, 0, 1),
        ("put", ALICE, 1, 2),
        ("put", ALICE, 0, 1),
        ("delete", BOB, 1, 0),
    ]
    assert all(c.cause is None for c in changes)
    assert all(c.label is None for c in changes)
    assert all(isinstance(c, statehub.Change) for c in changes)


def test_delete_change_records_previous_version_and_removes_the_root(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/doc", {"a": 1})
    alice.put("global/doc", {"a": 2})
    alice.delete("global/doc", label="cleanup")
    change = hub.history()[-1]
    assert (change.op, change.prev_version, change.version, change.label) == (
        "delete",
        2,
        0,
        "cleanup",
    )
    assert _apply_json_patch({"a": 2}, change.patch) is _ABSENT


def test_change_timestamp_is_the_commit_time_of_the_entry(hub: statehub.Hub) -> None:
    before = time.time()
    entry = hub.agent(ALICE).put("global/doc", 1)
    after = time.time()
    change = hub.history()[-1]
    assert change.timestamp == entry.updated_ts
    assert change.time == entry.updated_at
    assert change.time.utcoffset() == dt.timedelta(0)
    assert before - 1 <= change.timestamp <= after + 1


def _sample_history(hub: statehub.Hub) -> list[statehub.Change]:
    """Ten revisions by three agents over global/, task/ and private keys."""
    alice, bob, carol = hub.agent(ALICE), hub.agent(BOB), hub.agent(CAROL)
    alice.put("global/a", 1)  # 1
    bob.put("global/ab", 1)  # 2
    carol.put("task/1/x", 1)  # 3
    alice.merge("global/a", {"x": 1})  # 4
    with bob.transaction() as tx:  # 5
        tx.put("global/a", 2)
        tx.put("global/b/c", 3)
        tx.put("task/2/y", 4)
    carol.delete("task/1/x")  # 6
    alice.put("agent/alice/x", 1)  # 7
    bob.put("global/b/d", 1)  # 8
    alice.put("global/a", 3)  # 9
    carol.put("global/ab", 2)  # 10
    return hub.history()


def test_history_filtered_by_key(hub: statehub.Hub) -> None:
    everything = _sample_history(hub)
    for key in ("global/a", "global/ab", "task/1/x", "agent/alice/x", "global/none"):
        assert hub.history(key=key) == [c for c in everything if c.key == key]
    assert [c.revision for c in hub.history(key="global/a")] == [1, 4, 5, 9]


def test_history_filtered_by_prefix(hub: statehub.Hub) -> None:
    everything = _sample_history(hub)
    for prefix in ("", "global/", "global/a", "global/b/", "task/", "agent/", "zzz"):
        expected = [c for c in everything if c.key.startswith(prefix)]
        assert hub.history(prefix=prefix) == expected


def test_history_filtered_by_agent(hub: statehub.Hub) -> None:
    everything = _sample_history(hub)
    for name in (ALICE, BOB, CAROL, "nobody"):
        assert hub.history(agent=name) == [c for c in everything if c.agent == name]


def test_history_since_is_exclusive_and_until_is_inclusive(hub: statehub.Hub) -> None:
    everything = _sample_history(hub)
    for since in range(12):
        assert hub.history(since=since) == [c for c in everything if c.revision > since]
    for until in range(12):
        assert hub.history(until=until) == [c for c in everything if c.revision <= until]
    assert [c.revision for c in hub.history(since=4, until=5)] == [5, 5, 5]
    assert hub.history(since=5, until=5) == []
    assert hub.history(since=7, until=3) == []


def test_history_limit_returns_the_oldest_matching_changes(hub: statehub.Hub) -> None:
    everything = _sample_history(hub)
    for limit in range(len(everything) + 2):
        assert hub.history(limit=limit) == everything[:limit]
    assert (
        hub.history(key="global/a", limit=2) == [c for c in everything if c.key == "global/a"][:2]
    )


def test_history_filters_combine(hub: statehub.Hub) -> None:
    everything = _sample_history(hub)
    got = hub.history(prefix="global/", agent=BOB, since=2, until=9, limit=2)
    expected = [
        c
        for c in everything
        if c.key.startswith("global/") and c.agent == BOB and 2 < c.revision <= 9
    ][:2]
    assert got == expected
    assert [c.key for c in got] == ["global/a", "global/b/c"]
    assert hub.agent(BOB).history(key="global/a", since=4) == [
        c for c in everything if c.key == "global/a" and c.revision > 4
    ]


def test_changes_of_one_revision_are_listed_in_key_order(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    with alice.transaction() as tx:
        tx.put("global/c", 1)
        tx.put("global/a", 1)
        tx.put("task/1/b", 1)
        tx.put("global/b", 1)
    keys = [c.key for c in hub.history()]
    assert keys == sorted(keys)
    assert [c.key for c in hub.history(limit=2)] == ["global/a", "global/b"]


@pytest.mark.parametrize("argument", ["since", "until", "limit"])
def test_history_arguments_of_the_wrong_type_raise_invalid_argument(
    hub: statehub.Hub, argument: str
) -> None:
    hub.agent(ALICE).put("global/a", 1)
    for bad in [-1, "1", 1.5, True]:
        arguments: dict[str, Any] = {argument: bad}
        with pytest.raises(statehub.InvalidArgument):
            hub.history(**arguments)
        with pytest.raises(statehub.InvalidArgument):
            hub.agent(ALICE).history(**arguments)


def test_history_is_append_only(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    seen: list[statehub.Change] = []
    for number in range(10):
        alice.put(f"global/k{number % 3}", number)
        if number % 4 == 3:
            alice.delete(f"global/k{number % 3}")
        now = hub.history()
        assert now[: len(seen)] == seen
        assert len(now) > len(seen)
        seen = now


def test_appending_to_a_list_is_logged_as_one_add_op_after_the_first_versions(
    hub: statehub.Hub,
) -> None:
    alice = hub.agent(ALICE)
    for number in range(150):
        alice.dispatch("global/log", f"log line {number:05d}", reducer="append")
    changes = hub.history(key="global/log")
    assert len(changes) == 150

    def is_one_append(change: statehub.Change) -> bool:
        index = change.version - 1
        return len(change.patch) == 1 and change.patch[0] in (
            {"op": "add", "path": path, "value": f"log line {index:05d}"}
            for path in (f"/{index}", "/-")
        )

    assert [c.version for c in changes[20:] if not is_one_append(c)] == []


# =========================================================================== time travel


def test_get_at_each_revision_returns_the_value_of_that_revision(hub: statehub.Hub) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    alice.put("global/doc", "v1")  # 1
    bob.put("global/other", "o")  # 2
    alice.put("global/doc", "v2")  # 3
    alice.delete("global/doc")  # 4
    bob.put("global/other", "o2")  # 5
    alice.put("global/doc", "v3")  # 6
    expected = [None, "v1", "v1", "v2", None, None, "v3"]
    assert [bob.get("global/doc", at=r) for r in range(7)] == expected
    assert [bob.get("global/doc", "gone", at=r) for r in (0, 4, 5)] == ["gone"] * 3
    assert [bob.get("global/other", at=r) for r in range(7)] == [
        None,
        None,
        "o",
        "o",
        "o",
        "o2",
        "o2",
    ]


def test_get_at_zero_returns_the_default(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/doc", 1)
    assert alice.get("global/doc", at=0) is None
    assert alice.get("global/doc", "before time", at=0) == "before time"


def test_get_at_head_equals_get(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/doc", {"a": [1, 2]})
    alice.merge("global/doc", {"b": 1})
    alice.put("global/other", 1)
    assert alice.get("global/doc", at=hub.revision) == alice.get("global/doc")


def test_get_at_after_head_raises_invalid_argument(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    with pytest.raises(statehub.InvalidArgument):
        alice.get("global/doc", at=1)
    alice.put("global/doc", 1)
    with pytest.raises(statehub.InvalidArgument):
        alice.get("global/doc", at=2)


@pytest.mark.parametrize("bad", [-1, 1.0, True, [1]], ids=repr)
def test_get_at_of_the_wrong_type_raises_invalid_argument(hub: statehub.Hub, bad: Any) -> None:
    alice = hub.agent(ALICE)
    alice.put("global/doc", 1)
    with pytest.raises(statehub.InvalidArgument):
        alice.get("global/doc", at=bad)


def test_get_at_replays_a_long_run_of_appends(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    items = [f"item {number:04d} " + "x" * (number % 7) for number in range(120)]
    for item in items:
        alice.dispatch("global/log", item, reducer="append")
    for revision in range(len(items) + 1):
        assert alice.get("global/log", [], at=revision) == items[:revision]


def test_get_at_replays_field_edits_of_a_large_document(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    document: dict[str, Any] = {f"field{n:02d}": {"text": "t" * 20, "n": n} for n in range(40)}
    alice.put("global/doc", document)
    versions = [copy.deepcopy(document)]
    rng = random.Random(3)
    for step in range(80):
        name = f"field{rng.randrange(45):02d}"
        if step % 9 == 8 and name in document:
            del document[name]
        else:
            document[name] = {
                "text": "u" * rng.randrange(30),
                "n": step,
                "tags": [step] * (step % 3),
            }
        alice.put("global/doc", document)
        versions.append(copy.deepcopy(document))
    for revision, expected in enumerate(versions, start=1):
        _assert_same_json(alice.get("global/doc", at=revision), expected)


def test_get_at_tells_apart_values_that_python_calls_equal(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    pad = "p" * 400
    twins: list[Any] = [1, 1.0, True, 1, 0, 0.0, -0.0, False, 0, 2, 2.0]
    documents = [{"pad": pad, "n": twin, "list": [pad, twin, {"m": twin}]} for twin in twins]
    for document in documents:
        alice.put("global/doc", document)
    for revision, document in enumerate(documents, start=1):
        _assert_same_json(alice.get("global/doc", at=revision), document)
    replayed: Any = _ABSENT
    for change, document in zip(hub.history(key="global/doc"), documents, strict=True):
        replayed = _apply_json_patch(replayed, change.patch)
        _assert_same_json(replayed, document)


# -- the model: random op sequences against a plain dict ---------------------------

_Op = tuple[str, int, Any]
"""(kind, key index, argument); kind ``txn`` carries a list of ops as its argument."""

_DICT_KEYS = st.sampled_from(["a", "b", "c", "", "a/b", "~", "~01", "0", "-", "ü"])
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([0, 1, -1, 0.0, -0.0, 1.0, 0.5, 2**63 - 1, -(2**63), 2**64 - 1]),
    st.integers(min_value=-1000, max_value=1000),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.text(alphabet="abc ", min_size=30, max_size=90),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=6), st.dictionaries(_DICT_KEYS, children, max_size=6)
    ),
    max_leaves=25,
)
_MERGE_PATCHES = st.one_of(
    st.dictionaries(_DICT_KEYS, st.one_of(st.none(), _VALUES), max_size=4), _VALUES
)
_EDITS = st.lists(
    st.tuples(
        st.sampled_from(["insert", "remove", "replace", "set", "pop", "deep", "twin", "pad"]),
        st.integers(min_value=0, max_value=20),
        _SCALARS,
    ),
    min_size=1,
    max_size=4,
)
_KEY_INDEXES = st.integers(min_value=0, max_value=2)
_SIMPLE_OPS: st.SearchStrategy[_Op] = st.one_of(
    st.tuples(st.just("put"), _KEY_INDEXES, _VALUES),
    st.tuples(st.just("merge"), _KEY_INDEXES, _MERGE_PATCHES),
    st.tuples(st.just("append"), _KEY_INDEXES, _VALUES),
    st.tuples(st.just("edit"), _KEY_INDEXES, _EDITS),
    st.tuples(st.just("delete"), _KEY_INDEXES, st.none()),
)
_OPS: st.SearchStrategy[_Op] = st.one_of(
    _SIMPLE_OPS,
    st.tuples(st.just("update"), _KEY_INDEXES, st.none()),
    st.tuples(st.just("txn"), st.just(0), st.lists(_SIMPLE_OPS, min_size=1, max_size=4)),
)
_LIST_OPS: st.SearchStrategy[_Op] = st.one_of(
    st.tuples(st.just("append"), _KEY_INDEXES, _SCALARS),
    st.tuples(st.just("edit"), _KEY_INDEXES, _EDITS),
    st.tuples(st.just("put"), _KEY_INDEXES, st.lists(_SCALARS, max_size=12)),
)


def _twin(value: Any) -> Any:
    """A value that Python's ``==`` calls equal to ``value`` but JSON does not, if any.

    ``True -> 1.0 -> 1 -> True``, ``0.0 -> -0.0 -> 0 -> False -> 0.0``: a diff that
    compares with ``==`` misses exactly these changes.
    """
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, float):
        if value == 0 and math.copysign(1.0, value) > 0:
            return -0.0
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, int):
        return bool(value) if value in (0, 1) else float(value) if abs(value) < 2**53 else value
    return value


def _edited(value: Any, edits: list[tuple[str, int, Any]]) -> Any:
    """``value`` with small structural edits: the kind of change a diff must get right.

    Actions: ``insert``, ``remove``/``pop``, ``replace``/``set``, ``twin`` (swap an
    item for its :func:`_twin`), ``pad`` (add a long string, so that the log stores
    patches rather than whole values) and ``deep`` (insert one level down).
    """
    result = copy.deepcopy(value)
    if not isinstance(result, list | dict):
        result = [result]
    for action, position, item in edits:
        target = result
        if action == "deep":
            inner = target if isinstance(target, list) else list(target.values())
            containers = [v for v in inner if isinstance(v, list | dict)]
            if not containers:
                continue
            target = containers[position % len(containers)]
            action = "insert" if isinstance(target, list) else "set"
        if action == "pad":
            item = "p" * 300
            action = "insert" if isinstance(target, list) else "set"
        if isinstance(target, list):
            if action in ("insert", "set") or not target:
                target.insert(position % (len(target) + 1), item)
            elif action in ("remove", "pop"):
                del target[position % len(target)]
            elif action == "twin":
                target[position % len(target)] = _twin(target[position % len(target)])
            else:
                target[position % len(target)] = item
        else:
            names = ["a", "b", "c", "a/b", "~", "0", f"k{position}"]
            name = names[position % len(names)]
            if action in ("remove", "pop"):
                target.pop(name, None)
            elif action == "twin":
                target[name] = _twin(target.get(name, item))
            else:
                target[name] = item
    return result


def _apply_to_model(values: dict[str, Any], kind: str, key: str, argument: Any) -> str:
    """Apply one op to the model; return the op the log must show for it."""
    current = values.get(key, _ABSENT)
    if kind == "put":
        values[key] = copy.deepcopy(argument)
    elif kind == "merge":
        values[key] = _merge_patch(None if current is _ABSENT else current, argument)
    elif kind == "append":
        values[key] = [*([] if current is _ABSENT else current), copy.deepcopy(argument)]
        return "dispatch"
    elif kind == "delete":
        values.pop(key, None)
    elif kind == "update":
        values[key] = {"was": None if current is _ABSENT else current}
    else:
        raise AssertionError(f"unknown model op {kind!r}")
    return kind


def _normalized(values: dict[str, Any], kind: str, key: str, argument: Any) -> tuple[str, Any]:
    """Turn ``edit`` into a put, and ``append`` to a non-list into a put of a list."""
    current = values.get(key, _ABSENT)
    if kind == "edit":
        return "put", _edited([] if current is _ABSENT else current, argument)
    if kind == "append" and current is not _ABSENT and not isinstance(current, list):
        return "put", [argument]
    return kind, argument


def _do(writer: statehub.Agent | statehub.Transaction, kind: str, key: str, argument: Any) -> None:
    if kind == "put":
        writer.put(key, argument)
    elif kind == "merge":
        writer.merge(key, argument)
    elif kind == "append":
        writer.dispatch(key, argument, reducer="append")
    elif kind == "delete":
        writer.delete(key)
    else:
        raise AssertionError(f"unknown op {kind!r}")


def _step(
    agent: statehub.Agent, keys: list[str], op: _Op, values: dict[str, Any]
) -> dict[str, str]:
    """Do ``op`` on the hub and on the model; return each key touched -> the logged op."""
    kind, index, argument = op
    logged: dict[str, str] = {}
    if kind == "txn":
        with agent.transaction() as tx:
            for sub_kind, sub_index, sub_argument in argument:
                key = keys[sub_index]
                sub_kind, sub_argument = _normalized(values, sub_kind, key, sub_argument)
                _do(tx, sub_kind, key, sub_argument)
                logged[key] = _apply_to_model(values, sub_kind, key, sub_argument)
        return logged
    key = keys[index]
    if kind == "update":
        agent.update(key, lambda value: {"was": value})
    else:
        kind, argument = _normalized(values, kind, key, argument)
        _do(agent, kind, key, argument)
    logged[key] = _apply_to_model(values, kind, key, argument)
    return logged


def _check_against_model(hub: statehub.Hub, ops: list[_Op]) -> None:
    """Run ``ops`` on fresh keys and check every observable fact against a dict model.

    Checks, after every op: the revision (one per commit that changed something, none
    otherwise) and the current values. At the end: ``get(key, at=r)`` for every r from
    0 to head equals the model right after commit r; the log has exactly one change
    per changed key per commit, with the right op, agent and versions; and applying
    each change's patch, in order, to the previous value gives the value at its
    revision.
    """
    namespace = f"m{hub.revision}"
    keys = [f"global/{namespace}/k0", f"global/{namespace}/k1", f"task/{namespace}/k2"]
    agents = [hub.agent(ALICE), hub.agent(BOB)]
    reader = hub.agent(CAROL)
    start = revision = hub.revision
    values: dict[str, Any] = {}
    versions: dict[str, int] = {}
    states: dict[int, dict[str, str]] = {start: {key: _canonical(_ABSENT) for key in keys}}
    expected_changes: dict[int, dict[str, tuple[str, str, int, int]]] = {}
    for number, op in enumerate(ops):
        agent = agents[number % 2]
        before = dict(values)
        logged = _step(agent, keys, op, values)
        changed = {key: name for key, name in logged.items() if key in before or key in values}
        if changed:
            revision += 1
            expected_changes[revision] = {}
            for key, name in changed.items():
                previous = versions.get(key, 0)
                versions[key] = 0 if key not in values else (previous + 1 if key in before else 1)
                name = "delete" if key not in values else name
                expected_changes[revision][key] = (name, agent.name, previous, versions[key])
            states[revision] = {key: _canonical(values.get(key, _ABSENT)) for key in keys}
        assert hub.revision == revision, f"after op {number} {op!r}"
        for key in keys:
            assert _canonical(reader.get(key, _ABSENT)) == states[revision][key]

    for at in [0, *range(start, revision + 1)]:
        for key in keys:
            expected = states[max(at, start)][key]
            assert _canonical(reader.get(key, _ABSENT, at=at)) == expected, f"{key} at {at}"

    changes = hub.history(since=start)
    assert _revisions(changes) == list(range(start + 1, revision + 1))
    for change in changes:
        name, agent_name, prev_version, version = expected_changes[change.revision][change.key]
        assert (change.op, change.agent, change.prev_version, change.version) == (
            name,
            agent_name,
            prev_version,
            version,
        ), f"{change!r}"
        previous_text = states[change.revision - 1][change.key]
        absent = previous_text == _canonical(_ABSENT)
        before_value = _ABSENT if absent else json.loads(previous_text)
        after_value = _apply_json_patch(before_value, change.patch)
        assert _canonical(after_value) == states[change.revision][change.key], f"{change!r}"
    for commit, keys_changed in expected_changes.items():
        assert sorted(c.key for c in changes if c.revision == commit) == sorted(keys_changed)


_MODEL_SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@_MODEL_SETTINGS
@given(ops=st.lists(_OPS, min_size=1, max_size=12))
def test_get_at_every_revision_equals_what_get_returned_right_after_that_commit(
    hub: statehub.Hub, ops: list[_Op]
) -> None:
    _check_against_model(hub, ops)


@_MODEL_SETTINGS
@given(ops=st.lists(_LIST_OPS, min_size=1, max_size=15))
def test_change_patches_replayed_in_order_reproduce_every_value(
    hub: statehub.Hub, ops: list[_Op]
) -> None:
    _check_against_model(hub, ops)


def _random_large_op(rng: random.Random) -> _Op:
    index = rng.randrange(3)
    text = "".join(rng.choice("abcdefgh/~ ") for _ in range(rng.randrange(10, 60)))
    roll = rng.random()
    if roll < 0.35:
        return ("append", index, {"line": text, "n": rng.randrange(1000)})
    if roll < 0.55:
        fields = {f"f{rng.randrange(30)}": text for _ in range(rng.randrange(1, 4))}
        return ("merge", index, {**fields, f"f{rng.randrange(30)}": None})
    if roll < 0.8:
        edits = [
            (
                rng.choice(["insert", "remove", "replace", "set", "deep", "twin"]),
                rng.randrange(50),
                rng.choice([text, 0, 1, 0.0, 1.0, True, False]),
            )
            for _ in range(rng.randrange(1, 5))
        ]
        return ("edit", index, edits)
    if roll < 0.85:
        return ("delete", index, None)
    if roll < 0.9:
        return ("update", index, None)
    if roll < 0.95:
        return ("put", index, [text] * rng.randrange(1, 30))
    return (
        "txn",
        0,
        [("append", rng.randrange(3), text), ("merge", rng.randrange(3), {"t": text})],
    )


def test_long_random_sequence_of_large_values_matches_the_model(hub: statehub.Hub) -> None:
    rng = random.Random(20240601)
    _check_against_model(hub, [_random_large_op(rng) for _ in range(300)])


# =========================================================================== closed hubs


def _closed_revision(hub: statehub.Hub, agent: statehub.Agent) -> object:
    return hub.revision


def _closed_history(hub: statehub.Hub, agent: statehub.Agent) -> object:
    return hub.history()


def _closed_agent_history(hub: statehub.Hub, agent: statehub.Agent) -> object:
    return agent.history()


def _closed_put(hub: statehub.Hub, agent: statehub.Agent) -> object:
    return agent.put("global/doc", 2)


def _closed_get(hub: statehub.Hub, agent: statehub.Agent) -> object:
    return agent.get("global/doc")


def _closed_get_at(hub: statehub.Hub, agent: statehub.Agent) -> object:
    return agent.get("global/doc", at=1)


def _closed_entry(hub: statehub.Hub, agent: statehub.Agent) -> object:
    return agent.entry("global/doc")


def _closed_scan(hub: statehub.Hub, agent: statehub.Agent) -> object:
    return agent.scan("global/")


def _closed_merge(hub: statehub.Hub, agent: statehub.Agent) -> object:
    return agent.merge("global/doc", {"a": 1})


def _closed_dispatch(hub: statehub.Hub, agent: statehub.Agent) -> object:
    return agent.dispatch("global/log", 1, reducer="append")


def _closed_update(hub: statehub.Hub, agent: statehub.Agent) -> object:
    return agent.update("global/doc", lambda value: value)


def _closed_delete(hub: statehub.Hub, agent: statehub.Agent) -> object:
    return agent.delete("global/doc")


def _closed_transaction(hub: statehub.Hub, agent: statehub.Agent) -> object:
    with agent.transaction() as tx:
        tx.put("global/doc", 3)
    return tx.revision


_CLOSED_OPS: dict[str, Callable[[statehub.Hub, statehub.Agent], object]] = {
    "revision": _closed_revision,
    "history": _closed_history,
    "agent_history": _closed_agent_history,
    "put": _closed_put,
    "get": _closed_get,
    "get_at": _closed_get_at,
    "entry": _closed_entry,
    "scan": _closed_scan,
    "merge": _closed_merge,
    "dispatch": _closed_dispatch,
    "update": _closed_update,
    "delete": _closed_delete,
    "transaction": _closed_transaction,
}


@pytest.mark.parametrize("operation", list(_CLOSED_OPS))
def test_closed_hub_raises_hub_closed_for_every_operation(
    hub: statehub.Hub, operation: str
) -> None:
    agent = hub.agent(ALICE)
    agent.put("global/doc", 1)
    hub.close()
    with pytest.raises(statehub.HubClosed):
        _CLOSED_OPS[operation](hub, agent)


def test_closing_a_hub_twice_is_harmless(hub: statehub.Hub) -> None:
    hub.agent(ALICE).put("global/doc", 1)
    hub.close()
    hub.close()
    with pytest.raises(statehub.HubClosed):
        hub.agent(ALICE).get("global/doc")


def test_hub_used_as_a_context_manager_is_closed_on_exit(hub: statehub.Hub) -> None:
    with hub as entered:
        assert entered is hub
        hub.agent(ALICE).put("global/doc", 1)
    with pytest.raises(statehub.HubClosed):
        hub.agent(ALICE).put("global/doc", 2)
