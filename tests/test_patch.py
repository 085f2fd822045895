"""Tests for statehub.patch (RFC 6902 JSON Patch, RFC 6901 JSON Pointer)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statehub.errors import PatchError, StatehubError
from statehub.patch import (
    apply_patch,
    escape_pointer_segment,
    make_patch,
    parse_pointer,
    render_patch,
    strictly_equal,
    unescape_pointer_segment,
)

KEYS = st.one_of(
    st.text(max_size=5),
    st.sampled_from(["a", "b", "/", "~", "a/b", "~0", "~1", "~01", "/~", "", "-", "0"]),
)
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
        st.lists(children, max_size=5), st.dictionaries(KEYS, children, max_size=5)
    ),
    max_leaves=25,
)


@st.composite
def _mutated(draw: st.DrawFn, value: Any, depth: int = 0) -> Any:
    """Draw a value derived from ``value`` by random edits, so diffs stay interesting."""
    choice = draw(st.integers(0, 9))
    if choice == 0 or depth > 4:
        return draw(JSON)
    if choice <= 3:
        return copy.deepcopy(value)
    if isinstance(value, list):
        items = [draw(_mutated(item, depth + 1)) for item in value]
        for _ in range(draw(st.integers(0, 2))):
            action = draw(st.sampled_from(["append", "insert", "delete"]))
            if action == "append":
                items.append(draw(JSON))
            elif action == "insert":
                items.insert(draw(st.integers(0, len(items))), draw(JSON))
            elif items:
                del items[draw(st.integers(0, len(items) - 1))]
        return items
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            if draw(st.integers(0, 4)) != 0:
                result[key] = draw(_mutated(item, depth + 1))
        for key in draw(st.lists(KEYS, max_size=2)):
            result[key] = draw(JSON)
        return result
    return draw(SCALARS)


@st.composite
def _related_pair(draw: st.DrawFn) -> tuple[Any, Any]:
    old = draw(JSON)
    return old, draw(_mutated(old))


def _round_trip(old: Any, new: Any) -> list[dict[str, Any]]:
    old_before, new_before = copy.deepcopy(old), copy.deepcopy(new)
    ops = make_patch(old, new)
    result: Any = apply_patch(copy.deepcopy(old), ops)
    assert strictly_equal(result, new), (old, new, ops, result)
    assert strictly_equal(old, old_before)
    assert strictly_equal(new, new_before)
    return ops


# --------------------------------------------------------------------------- strictly_equal


def test_strictly_equal_distinguishes_int_float_and_bool() -> None:
    assert not strictly_equal(1, 1.0)
    assert not strictly_equal(1, True)
    assert not strictly_equal(1.0, True)
    assert not strictly_equal(0, False)
    assert not strictly_equal([1], [1.0])
    assert not strictly_equal({"a": 1}, {"a": True})
    assert strictly_equal(1, 1)
    assert strictly_equal(1.5, 1.5)


def test_strictly_equal_ignores_dict_key_order() -> None:
    assert strictly_equal({"a": 1, "b": [1, {"c": None}]}, {"b": [1, {"c": None}], "a": 1})


def test_strictly_equal_works_beyond_64_bit_integers() -> None:
    assert strictly_equal([2**70], [2**70])
    assert not strictly_equal([2**70], [float(2**70)])


# --------------------------------------------------------------------------- pointers


def test_escape_pointer_segment_escapes_tilde_before_slash() -> None:
    assert escape_pointer_segment("a/b~c") == "a~1b~0c"
    assert escape_pointer_segment("~1") == "~01"
    assert unescape_pointer_segment("~01") == "~1"


@pytest.mark.parametrize(
    ("pointer", "tokens"),
    [
        ("", []),
        ("/foo", ["foo"]),
        ("/foo/0", ["foo", "0"]),
        ("/", [""]),
        ("/a~1b", ["a/b"]),
        ("/c%d", ["c%d"]),
        ("/e^f", ["e^f"]),
        ("/g|h", ["g|h"]),
        ("/i\\j", ["i\\j"]),
        ('/k"l', ['k"l']),
        ("/ ", [" "]),
        ("/m~0n", ["m~n"]),
        ("/~01", ["~1"]),
        ("//", ["", ""]),
    ],
)
def test_parse_pointer_follows_rfc6901_examples(pointer: str, tokens: list[str]) -> None:
    assert parse_pointer(pointer) == tokens


@pytest.mark.parametrize("pointer", ["foo", "a/b", "#/foo", "/a~2", "/a~"])
def test_parse_pointer_rejects_malformed_pointers(pointer: str) -> None:
    with pytest.raises(PatchError):
        parse_pointer(pointer)


@given(st.lists(KEYS, max_size=5))
def test_pointer_escape_and_parse_round_trip(tokens: list[str]) -> None:
    pointer = "".join("/" + escape_pointer_segment(token) for token in tokens)
    assert parse_pointer(pointer) == tokens


# --------------------------------------------------------------------------- RFC 6902 Appendix A

RFC6902_APPENDIX_A: list[tuple[str, Any, list[dict[str, Any]], Any]] = [
    (
        "A.1 adding an object member",
        {"foo": "bar"},
        [{"op": "add", "path": "/baz", "value": "qux"}],
        {"baz": "qux", "foo": "bar"},
    ),
    (
        "A.2 adding an array element",
        {"foo": ["bar", "baz"]},
        [{"op": "add", "path": "/foo/1", "value": "qux"}],
        {"foo": ["bar", "qux", "baz"]},
    ),
    (
        "A.3 removing an object member",
        {"baz": "qux", "foo": "bar"},
        [{"op": "remove", "path": "/baz"}],
        {"foo": "bar"},
    ),
    (
        "A.4 removing an array element",
        {"foo": ["bar", "qux", "baz"]},
        [{"op": "remove", "path": "/foo/1"}],
        {"foo": ["bar", "baz"]},
    ),
    (
        "A.5 replacing a value",
        {"baz": "qux", "foo": "bar"},
        [{"op": "replace", "path": "/baz", "value": "boo"}],
        {"baz": "boo", "foo": "bar"},
    ),
    (
        "A.6 moving a value",
        {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
        [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
        {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
    ),
    (
        "A.7 moving an array element",
        {"foo": ["all", "grass", "cows", "eat"]},
        [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
        {"foo": ["all", "cows", "eat", "grass"]},
    ),
    (
        "A.8 testing a value: success",
        {"baz": "qux", "foo": ["a", 2, "c"]},
        [
            {"op": "test", "path": "/baz", "value": "qux"},
            {"op": "test", "path": "/foo/1", "value": 2},
        ],
        {"baz": "qux", "foo": ["a", 2, "c"]},
    ),
    (
        "A.10 adding a nested member object",
        {"foo": "bar"},
        [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
        {"foo": "bar", "child": {"grandchild": {}}},
    ),
    (
        "A.11 ignoring unrecognized elements",
        {"foo": "bar"},
        [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}],
        {"foo": "bar", "baz": "qux"},
    ),
    (
        "A.14 ~ escape ordering",
        {"/": 9, "~1": 10},
        [{"op": "test", "path": "/~01", "value": 10}],
        {"/": 9, "~1": 10},
    ),
    (
        "A.16 adding an array value",
        {"foo": ["bar"]},
        [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
        {"foo": ["bar", ["abc", "def"]]},
    ),
]


@pytest.mark.parametrize(
    ("doc", "ops", "expected"),
    [case[1:] for case in RFC6902_APPENDIX_A],
    ids=[case[0] for case in RFC6902_APPENDIX_A],
)
def test_rfc6902_appendix_a_examples_apply_as_specified(
    doc: Any, ops: list[dict[str, Any]], expected: Any
) -> None:
    assert strictly_equal(apply_patch(doc, ops), expected)


# A.13 (duplicate "op" member) cannot be expressed as a Python dict, so it does not apply.
RFC6902_APPENDIX_A_ERRORS: list[tuple[str, Any, list[dict[str, Any]]]] = [
    (
        "A.9 testing a value: error",
        {"baz": "qux"},
        [{"op": "test", "path": "/baz", "value": "bar"}],
    ),
    (
        "A.12 adding to a nonexistent target",
        {"foo": "bar"},
        [{"op": "add", "path": "/baz/bat", "value": "qux"}],
    ),
    (
        "A.15 comparing strings and numbers",
        {"/": 9, "~1": 10},
        [{"op": "test", "path": "/~01", "value": "10"}],
    ),
]


@pytest.mark.parametrize(
    ("doc", "ops"),
    [case[1:] for case in RFC6902_APPENDIX_A_ERRORS],
    ids=[case[0] for case in RFC6902_APPENDIX_A_ERRORS],
)
def test_rfc6902_appendix_a_error_examples_raise_patch_error(
    doc: Any, ops: list[dict[str, Any]]
) -> None:
    with pytest.raises(PatchError):
        apply_patch(doc, ops)


# --------------------------------------------------------------------------- apply_patch


def test_patch_error_is_a_value_error_and_a_statehub_error() -> None:
    assert issubclass(PatchError, ValueError)
    assert issubclass(PatchError, StatehubError)


@pytest.mark.parametrize(
    ("doc", "op"),
    [
        ({"a": 1}, {"op": "remove", "path": "/b"}),
        ({"a": 1}, {"op": "replace", "path": "/b", "value": 1}),
        ({"a": [1]}, {"op": "replace", "path": "/a/1", "value": 1}),
        ({"a": [1]}, {"op": "remove", "path": "/a/1"}),
        ({"a": [1]}, {"op": "remove", "path": "/a/-"}),
        ({"a": [1]}, {"op": "add", "path": "/a/2", "value": 1}),
        ({"a": [1]}, {"op": "add", "path": "/a/01", "value": 1}),
        ({"a": [1]}, {"op": "add", "path": "/a/-1", "value": 1}),
        ({"a": [1]}, {"op": "add", "path": "/a/x", "value": 1}),
        ({"a": 1}, {"op": "add", "path": "/a/b", "value": 1}),
        ({"a": 1}, {"op": "add", "path": "a", "value": 1}),
        ({"a": 1}, {"op": "add", "path": "/a"}),
        ({"a": 1}, {"op": "add", "value": 1}),
        ({"a": 1}, {"path": "/a", "value": 1}),
        ({"a": 1}, {"op": "frobnicate", "path": "/a"}),
        ({"a": 1}, {"op": "move", "path": "/b"}),
        ({"a": 1}, {"op": "move", "from": "/x", "path": "/b"}),
        ({"a": {"b": 1}}, {"op": "move", "from": "/a", "path": "/a/b/c"}),
        ({"a": 1}, {"op": "copy", "from": "/x", "path": "/b"}),
        ({"a": 1}, {"op": "test", "path": "/a", "value": 1.0}),
        ({"a": 1}, {"op": "test", "path": "/a", "value": True}),
        ({"a": 1}, {"op": "test", "path": "/b", "value": 1}),
        ({"a": 1}, {"op": "remove", "path": ""}),
    ],
)
def test_operation_that_cannot_apply_raises_patch_error_naming_op_and_path(
    doc: Any, op: dict[str, Any]
) -> None:
    with pytest.raises(PatchError) as info:
        apply_patch(doc, [op])
    message = str(info.value)
    assert "operation 0" in message
    if isinstance(op.get("op"), str):
        assert repr(op["op"]) in message
    if isinstance(op.get("path"), str):
        assert repr(op["path"]) in message


@pytest.mark.parametrize("op", [None, "add", ["op", "add"]])
def test_operation_that_is_not_an_object_raises_patch_error(op: Any) -> None:
    with pytest.raises(PatchError):
        apply_patch({}, [op])


def test_patch_that_is_not_a_list_raises_patch_error() -> None:
    bad: Any = {"op": "add", "path": "/a", "value": 1}
    with pytest.raises(PatchError):
        apply_patch({}, bad)


def test_root_operations_replace_the_whole_document() -> None:
    assert apply_patch({"a": 1}, [{"op": "replace", "path": "", "value": [1]}]) == [1]
    assert apply_patch({"a": 1}, [{"op": "add", "path": "", "value": "x"}]) == "x"
    assert apply_patch([1], [{"op": "test", "path": "", "value": [1]}]) == [1]
    assert apply_patch({"a": 1}, [{"op": "copy", "from": "", "path": "/b"}]) == {
        "a": 1,
        "b": {"a": 1},
    }


def test_ops_apply_in_order_to_the_evolving_document() -> None:
    ops: list[dict[str, Any]] = [
        {"op": "add", "path": "/list", "value": []},
        {"op": "add", "path": "/list/-", "value": 1},
        {"op": "add", "path": "/list/0", "value": 0},
        {"op": "copy", "from": "/list", "path": "/copy"},
        {"op": "move", "from": "/list/1", "path": "/moved"},
        {"op": "test", "path": "/copy", "value": [0, 1]},
    ]
    assert apply_patch({}, ops) == {"list": [0], "copy": [0, 1], "moved": 1}


def test_move_to_the_same_path_is_a_no_op() -> None:
    assert apply_patch({"a": [1]}, [{"op": "move", "from": "/a", "path": "/a"}]) == {"a": [1]}


def test_add_to_existing_member_replaces_it() -> None:
    assert apply_patch({"a": 1}, [{"op": "add", "path": "/a", "value": 2}]) == {"a": 2}


def test_keys_with_slash_and_tilde_are_addressed_through_escapes() -> None:
    doc = {"a/b": {"~": 1}}
    ops = [{"op": "replace", "path": "/a~1b/~0", "value": 2}]
    assert apply_patch(doc, ops) == {"a/b": {"~": 2}}


def test_applied_values_do_not_alias_the_patch() -> None:
    ops: list[dict[str, Any]] = [
        {"op": "add", "path": "/a", "value": {"x": [1]}},
        {"op": "replace", "path": "/b", "value": [{"y": 1}]},
    ]
    ops_before = copy.deepcopy(ops)
    result = apply_patch({"b": 0}, ops)
    result["a"]["x"].append(2)
    result["b"][0]["y"] = 99
    assert ops == ops_before


def test_copy_op_does_not_alias_its_source_in_the_document() -> None:
    result = apply_patch({"a": {"x": [1]}}, [{"op": "copy", "from": "/a", "path": "/b"}])
    result["b"]["x"].append(2)
    assert result["a"] == {"x": [1]}


def test_root_value_from_patch_does_not_alias_the_patch() -> None:
    value: list[Any] = [[1]]
    result = apply_patch({}, [{"op": "replace", "path": "", "value": value}])
    result[0].append(2)
    assert value == [[1]]


# --------------------------------------------------------------------------- make_patch


def test_equal_values_give_an_empty_patch() -> None:
    assert make_patch({"a": [1, {"b": None}]}, {"a": [1, {"b": None}]}) == []


@given(JSON)
def test_make_patch_of_a_value_with_itself_is_empty(value: Any) -> None:
    assert make_patch(value, value) == []
    assert make_patch(value, copy.deepcopy(value)) == []


@pytest.mark.parametrize(
    ("old", "new"), [(1, True), (1, 1.0), (True, 1), (1.0, 1), (0, False), (0.0, -0.0)]
)
def test_different_json_types_that_python_calls_equal_give_a_root_replace(
    old: Any, new: Any
) -> None:
    ops = make_patch(old, new)
    assert len(ops) == 1
    assert ops[0]["op"] == "replace"
    assert ops[0]["path"] == ""
    assert strictly_equal(ops[0]["value"], new)


def test_type_change_inside_a_dict_is_a_replace_at_that_key() -> None:
    ops = make_patch({"a": 1, "b": [1]}, {"a": True, "b": [1.0]})
    assert ops == [
        {"op": "replace", "path": "/a", "value": True},
        {"op": "replace", "path": "/b/0", "value": 1.0},
    ]
    assert isinstance(ops[1]["value"], float)


def test_dict_changes_become_remove_add_and_nested_ops() -> None:
    old = {"gone": 1, "same": 2, "nested": {"x": 1, "y": 2}}
    new = {"same": 2, "nested": {"x": 1, "y": 3}, "new": [1]}
    assert make_patch(old, new) == [
        {"op": "remove", "path": "/gone"},
        {"op": "replace", "path": "/nested/y", "value": 3},
        {"op": "add", "path": "/new", "value": [1]},
    ]


def test_keys_with_slash_and_tilde_are_escaped_in_generated_paths() -> None:
    assert make_patch({"a/b": {"~": 1}}, {"a/b": {"~": 2}}) == [
        {"op": "replace", "path": "/a~1b/~0", "value": 2}
    ]


@pytest.mark.parametrize("k", [1, 2, 5])
def test_append_to_list_is_one_add_op_per_element(k: int) -> None:
    old = {"items": list(range(10))}
    new = {"items": [*range(10), *(f"x{i}" for i in range(k))]}
    ops = make_patch(old, new)
    assert ops == [{"op": "add", "path": f"/items/{10 + i}", "value": f"x{i}"} for i in range(k)]
    assert apply_patch(copy.deepcopy(old), ops) == new


def test_append_to_empty_list_is_one_add_op_per_element() -> None:
    assert make_patch([], ["a", "b"]) == [
        {"op": "add", "path": "/0", "value": "a"},
        {"op": "add", "path": "/1", "value": "b"},
    ]


def test_repeated_appends_each_cost_only_the_appended_elements() -> None:
    items: list[Any] = []
    for round_ in range(20):
        new = [*items, {"round": round_}, round_]
        ops = make_patch({"items": items}, {"items": new})
        assert [op["op"] for op in ops] == ["add", "add"]
        assert [op["path"] for op in ops] == [f"/items/{len(items)}", f"/items/{len(items) + 1}"]
        items = new


def test_append_after_int_that_python_equals_a_float_is_not_a_pure_append() -> None:
    ops = make_patch([1, 2], [1.0, 2, 3])
    assert {"op": "replace", "path": "/0", "value": 1.0} in ops
    assert strictly_equal(apply_patch([1, 2], ops), [1.0, 2, 3])


def test_append_to_a_long_list_is_one_add_per_appended_element() -> None:
    old = [{"id": i, "text": f"message {i}"} for i in range(10_000)]
    new = [*old, {"id": 10_000}, {"id": 10_001}, {"id": 10_002}]
    ops = make_patch({"log": old}, {"log": new})
    assert [op["path"] for op in ops] == ["/log/10000", "/log/10001", "/log/10002"]


def test_middle_edit_of_a_long_list_touches_only_that_element() -> None:
    old = list(range(10_000))
    new = [*old[:5000], "changed", *old[5001:]]
    ops = make_patch(old, new)
    assert ops == [{"op": "replace", "path": "/5000", "value": "changed"}]


def test_list_insert_and_delete_in_the_middle_trim_prefix_and_suffix() -> None:
    assert make_patch([1, 2, 3], [1, 9, 2, 3]) == [{"op": "add", "path": "/1", "value": 9}]
    assert make_patch([1, 9, 8, 2, 3], [1, 2, 3]) == [
        {"op": "remove", "path": "/2"},
        {"op": "remove", "path": "/1"},
    ]


def test_list_shrink_removes_from_the_highest_index_down() -> None:
    ops = make_patch(["a", "b", "c", "d"], ["x"])
    assert ops == [
        {"op": "replace", "path": "/0", "value": "x"},
        {"op": "remove", "path": "/3"},
        {"op": "remove", "path": "/2"},
        {"op": "remove", "path": "/1"},
    ]
    assert apply_patch(["a", "b", "c", "d"], ops) == ["x"]


def test_list_elements_that_are_same_kind_containers_are_diffed_recursively() -> None:
    ops = make_patch([{"a": 1, "b": 2}, [1, 2]], [{"a": 1, "b": 3}, [1, 2, 3]])
    assert ops == [
        {"op": "replace", "path": "/0/b", "value": 3},
        {"op": "add", "path": "/1/2", "value": 3},
    ]


def test_container_kind_change_is_a_replace() -> None:
    assert make_patch({"a": [1]}, {"a": {"0": 1}}) == [
        {"op": "replace", "path": "/a", "value": {"0": 1}}
    ]


def test_make_patch_values_do_not_alias_new() -> None:
    new: dict[str, Any] = {"a": {"b": [1]}, "c": [[1]]}
    ops = make_patch({"c": []}, new)
    for op in ops:
        if isinstance(op.get("value"), dict | list):
            op["value"].clear()
    assert new == {"a": {"b": [1]}, "c": [[1]]}


@settings(max_examples=300)
@given(old=JSON, new=JSON)
def test_round_trip_reproduces_new_for_arbitrary_values(old: Any, new: Any) -> None:
    _round_trip(old, new)


@settings(max_examples=500)
@given(_related_pair())
def test_round_trip_reproduces_new_for_related_values(pair: tuple[Any, Any]) -> None:
    _round_trip(*pair)


@given(old=st.lists(JSON, max_size=8), extra=st.lists(JSON, max_size=6))
def test_hypothesis_append_of_k_elements_gives_exactly_k_add_ops(
    old: list[Any], extra: list[Any]
) -> None:
    ops = _round_trip({"l": old}, {"l": old + extra})
    assert [op["op"] for op in ops] == ["add"] * len(extra)
    assert [op["path"] for op in ops] == [f"/l/{len(old) + i}" for i in range(len(extra))]


# --------------------------------------------------------------------------- render_patch


def test_render_patch_gives_one_line_per_op_kind() -> None:
    ops: list[dict[str, Any]] = [
        {"op": "add", "path": "/items/3", "value": "x"},
        {"op": "remove", "path": "/a"},
        {"op": "replace", "path": "/b", "value": 2},
        {"op": "move", "from": "/a", "path": "/b"},
        {"op": "copy", "from": "/a", "path": "/b"},
        {"op": "test", "path": "/a", "value": 1},
        {"op": "add", "path": "/o", "value": {"k": [1, True, None]}},
    ]
    assert render_patch(ops) == [
        '+ /items/3: "x"',
        "- /a",
        "~ /b → 2",
        "> /a → /b",
        "= /a → /b",
        "? /a == 1",
        '+ /o: {"k":[1,true,null]}',
    ]


def test_render_patch_cuts_long_values_to_80_chars_with_ellipsis() -> None:
    (line,) = render_patch([{"op": "replace", "path": "/long", "value": "z" * 200}])
    prefix = "~ /long → "
    assert line.startswith(prefix)
    shown = line[len(prefix) :]
    assert len(shown) == 80
    assert shown.endswith("…")
    assert shown.startswith('"zzz')


def test_render_patch_shows_root_path_and_never_raises_on_malformed_ops() -> None:
    ops: list[Any] = [{"op": "replace", "path": "", "value": 1}, {"op": "nope"}, 42]
    lines = render_patch(ops)
    assert lines[0] == "~ (root) → 1"
    assert lines[1].startswith("! ")
    assert lines[2] == "! 42"
