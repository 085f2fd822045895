"""Tests for statehub.merge (RFC 7396 JSON Merge Patch)."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from statehub.merge import merge_patch
from statehub.patch import strictly_equal
from statehub.testing.rfc7396 import APPENDIX_A

KEYS = st.one_of(st.text(max_size=5), st.sampled_from(["a", "b", "/", "~", "a/b", "~1", ""]))
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=10),
)
JSON = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=4)
    ),
    max_leaves=20,
)


@pytest.mark.parametrize(("original", "patch", "expected"), APPENDIX_A)
def test_rfc7396_appendix_a_examples_merge_as_specified(
    original: Any, patch: Any, expected: Any
) -> None:
    assert strictly_equal(merge_patch(original, patch), expected)


def test_rfc7396_section_3_example_merges_as_specified() -> None:
    target = {
        "title": "Goodbye!",
        "author": {"givenName": "John", "familyName": "Doe"},
        "tags": ["example", "sample"],
        "content": "This will be unchanged",
    }
    patch = {
        "title": "Hello!",
        "phoneNumber": "+01-123-456-7890",
        "author": {"familyName": None},
        "tags": ["example"],
    }
    assert merge_patch(target, patch) == {
        "title": "Hello!",
        "author": {"givenName": "John"},
        "tags": ["example"],
        "content": "This will be unchanged",
        "phoneNumber": "+01-123-456-7890",
    }


def test_null_member_deletes_key_and_missing_key_delete_is_a_no_op() -> None:
    assert merge_patch({"a": 1}, {"b": None}) == {"a": 1}


def test_non_dict_target_is_treated_as_empty_object_for_dict_patch() -> None:
    assert merge_patch("scalar", {"a": 1, "b": None}) == {"a": 1}
    assert merge_patch(None, {"a": {"b": None}}) == {"a": {}}


def test_merge_keeps_json_types_distinct() -> None:
    result = merge_patch({"a": 1}, {"a": True})
    assert strictly_equal(result, {"a": True})
    assert not strictly_equal(result, {"a": 1})


def test_result_shares_no_mutable_objects_with_patch() -> None:
    patch: dict[str, Any] = {"list": [1, [2]], "obj": {"x": {"y": 1}}}
    result = merge_patch({"obj": {"z": 0}}, patch)
    result["list"].append(3)
    result["list"][1].append(4)
    result["obj"]["x"]["y"] = 99
    assert patch == {"list": [1, [2]], "obj": {"x": {"y": 1}}}


def test_non_dict_patch_result_is_a_copy_of_the_patch() -> None:
    patch = [{"a": 1}]
    result = merge_patch({"a": 1}, patch)
    assert result == patch
    assert result is not patch
    assert result[0] is not patch[0]


def test_merge_with_big_integers_falls_back_to_plain_copy() -> None:
    big = 2**100
    patch = {"n": [big]}
    result = merge_patch({}, patch)
    assert result == {"n": [big]}
    assert result["n"] is not patch["n"]


@given(target=JSON, patch=JSON)
def test_merge_patch_never_mutates_its_inputs(target: Any, patch: Any) -> None:
    target_before = copy.deepcopy(target)
    patch_before = copy.deepcopy(patch)
    merge_patch(target, patch)
    assert strictly_equal(target, target_before)
    assert strictly_equal(patch, patch_before)


@given(target=JSON, patch=JSON)
def test_mutating_the_merge_result_never_changes_the_patch(target: Any, patch: Any) -> None:
    patch_before = copy.deepcopy(patch)
    result = merge_patch(target, patch)
    _scramble(result)
    assert strictly_equal(patch, patch_before)


@given(target=JSON, patch=JSON)
def test_merge_patch_is_idempotent(target: Any, patch: Any) -> None:
    once = merge_patch(target, patch)
    assert strictly_equal(merge_patch(once, patch), once)


@given(target=st.dictionaries(KEYS, JSON, max_size=4), patch=st.dictionaries(KEYS, JSON))
def test_dict_patch_result_has_no_null_members_from_patch(target: Any, patch: Any) -> None:
    result = merge_patch(target, patch)
    for key, value in patch.items():
        if value is None:
            assert key not in result
        elif not isinstance(value, dict):
            assert strictly_equal(result[key], value)


def _scramble(value: Any) -> None:
    """Mutate every container inside ``value`` in place."""
    if isinstance(value, dict):
        for child in list(value.values()):
            _scramble(child)
        value["__scrambled__"] = orjson.loads(b"[1]")
    elif isinstance(value, list):
        for child in list(value):
            _scramble(child)
        value.append("__scrambled__")
