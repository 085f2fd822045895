"""Unit tests of statehub.codec: what is JSON, size limits, copies (pure, no hub)."""

from __future__ import annotations

import array
import dataclasses
import datetime as dt
import decimal
import enum
import fractions
import json
import pathlib
import uuid
from collections import OrderedDict, UserDict
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statehub.codec import DEFAULT_MAX_VALUE_BYTES, MAX_DEPTH, decode, encode, encode_meta
from statehub.errors import InvalidArgument, InvalidValue, StatehubError, ValueTooLarge

KEY = "global/doc"


def canonical(value: Any) -> str:
    """Equal iff the same JSON value (tells 1, 1.0 and True apart, and 0.0 from -0.0)."""
    return json.dumps(value, sort_keys=True, allow_nan=False)


def nested_lists(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


def nested_dicts(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = {"k": value}
    return value


class Color(enum.Enum):
    RED = 1


class Permission(enum.Flag):
    READ = 1


class Level(enum.IntEnum):
    HIGH = 2


class Mode(enum.StrEnum):
    FAST = "fast"


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Tags(list[Any]):
    pass


class Name(str):
    __slots__ = ()


# --------------------------------------------------------------------------- constants


def test_default_size_limit_is_16_mib_as_specified() -> None:
    assert DEFAULT_MAX_VALUE_BYTES == 16 * 1024 * 1024


def test_depth_limit_is_orjsons_254_as_documented() -> None:
    # docs/decisions.md #17: validation is orjson's, so the nesting limit is its 254.
    # The boundary tests below follow MAX_DEPTH, whatever it is.
    assert MAX_DEPTH == 254


# --------------------------------------------------------------------------- accepted values


def test_encode_gives_compact_json_bytes() -> None:
    assert encode(KEY, {"a": [1, 2]}) == b'{"a":[1,2]}'
    assert encode(KEY, "x") == b'"x"'
    assert encode(KEY, None) == b"null"


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        False,
        0,
        -1,
        2**63 - 1,
        -(2**63),
        2**64 - 1,
        0.0,
        -0.0,
        1.5,
        1e308,
        -1e308,
        5e-324,
        "",
        "text",
        "héllo ✓ 你好 🚀",
        '\x00\n\t\u2028\\"',
        [],
        {},
        [1, 1.0, True, "1", None],
        {"": 1, "a/b": 2, "~": 3, "ü": 4, " ": 5},
        {"deep": {"er": [{"est": [None, [], {}]}]}},
    ],
    ids=repr,
)
def test_json_values_round_trip_exactly(value: Any) -> None:
    assert canonical(decode(encode(KEY, value))) == canonical(value)


def test_decode_accepts_bytes_and_str() -> None:
    assert decode(b'{"a":1}') == {"a": 1}
    assert decode('{"a":1}') == {"a": 1}


def test_types_survive_the_round_trip() -> None:
    got = decode(encode(KEY, [1, 1.0, True, 0, 0.0, False, -0.0]))
    assert [type(item) for item in got] == [int, float, bool, int, float, bool, float]
    assert str(got[-1]) == "-0.0"


def test_tuples_are_stored_as_lists() -> None:
    assert decode(encode(KEY, (1, (2, (3,)), ()))) == [1, [2, [3]], []]
    assert decode(encode(KEY, {"t": (1, 2)})) == {"t": [1, 2]}
    assert encode(KEY, ()) == b"[]"


def test_int_and_str_enums_are_stored_as_their_plain_values() -> None:
    got = decode(encode(KEY, {"level": Level.HIGH, "mode": Mode.FAST, "list": [Level.HIGH]}))
    assert got == {"level": 2, "mode": "fast", "list": [2]}
    assert type(got["level"]) is int
    assert type(got["mode"]) is str
    assert decode(encode(KEY, Level.HIGH)) == 2
    assert decode(encode(KEY, Mode.FAST)) == "fast"


def test_subclasses_of_json_types_are_stored_as_plain_json() -> None:
    value = {
        "ordered": OrderedDict([("b", 1), ("a", 2)]),
        "tags": Tags(["x", "y"]),
        "name": Name("bob"),
    }
    got = decode(encode(KEY, value))
    assert got == {"ordered": {"b": 1, "a": 2}, "tags": ["x", "y"], "name": "bob"}
    assert list(got["ordered"]) == ["b", "a"]
    assert type(got["name"]) is str


def test_int_range_is_64_bits_signed_to_unsigned() -> None:
    for value in (-(2**63), 2**63 - 1, 2**63, 2**64 - 1):
        assert decode(encode(KEY, value)) == value
        assert decode(encode(KEY, [value])) == [value]
    for value in (-(2**63) - 1, 2**64, 10**30, -(10**30)):
        with pytest.raises(InvalidValue) as info:
            encode(KEY, value)
        assert info.value.type_name == "int"
        assert "64-bit" in str(info.value)
        with pytest.raises(InvalidValue) as nested:
            encode(KEY, {"n": [0, value]})
        assert nested.value.path == "/n/1"


def test_booleans_are_not_checked_as_integers() -> None:
    assert encode(KEY, [True, False]) == b"[true,false]"


# --------------------------------------------------------------------------- depth


def test_nesting_to_the_depth_limit_is_accepted_and_one_deeper_refused() -> None:
    for build in (nested_lists, nested_dicts):
        assert canonical(decode(encode(KEY, build(MAX_DEPTH)))) == canonical(build(MAX_DEPTH))
        with pytest.raises(InvalidValue) as info:
            encode(KEY, build(MAX_DEPTH + 1))
        assert str(MAX_DEPTH) in str(info.value)
        assert KEY in str(info.value)


def test_depth_counts_lists_and_dicts_alike() -> None:
    mixed: Any = "leaf"
    for level in range(MAX_DEPTH):
        mixed = [mixed] if level % 2 else {"k": mixed}
    encode(KEY, mixed)
    with pytest.raises(InvalidValue):
        encode(KEY, [mixed])
    with pytest.raises(InvalidValue):
        encode(KEY, {"k": mixed})


def test_empty_containers_count_as_a_level() -> None:
    encode(KEY, _wrap([], MAX_DEPTH - 1))
    with pytest.raises(InvalidValue):
        encode(KEY, _wrap([], MAX_DEPTH))
    with pytest.raises(InvalidValue):
        encode(KEY, _wrap({}, MAX_DEPTH))


def _wrap(inner: Any, depth: int) -> Any:
    for _ in range(depth):
        inner = [inner]
    return inner


def test_too_deep_error_points_at_the_container_past_the_limit() -> None:
    with pytest.raises(InvalidValue) as info:
        encode(KEY, nested_lists(MAX_DEPTH + 1))
    assert info.value.path == "/0" * MAX_DEPTH
    assert info.value.type_name == "list"


def test_very_deep_values_are_refused_without_recursion_errors() -> None:
    with pytest.raises(InvalidValue):
        encode(KEY, nested_lists(100_000))


# --------------------------------------------------------------------------- refused values


def refused_values() -> list[Any]:
    """(id, value, type name reported)."""
    return [
        pytest.param(float("nan"), "float", id="nan"),
        pytest.param(float("inf"), "float", id="inf"),
        pytest.param(float("-inf"), "float", id="-inf"),
        pytest.param(dt.datetime(2024, 1, 1, tzinfo=dt.UTC), "datetime", id="datetime"),
        pytest.param(dt.date(2024, 1, 1), "date", id="date"),
        pytest.param(dt.time(12, 0), "time", id="time"),
        pytest.param(dt.timedelta(1), "timedelta", id="timedelta"),
        pytest.param({1, 2}, "set", id="set"),
        pytest.param(frozenset(), "frozenset", id="frozenset"),
        pytest.param(b"raw", "bytes", id="bytes"),
        pytest.param(bytearray(b"raw"), "bytearray", id="bytearray"),
        pytest.param(memoryview(b"raw"), "memoryview", id="memoryview"),
        pytest.param(array.array("i", [1]), "array", id="array"),
        pytest.param(1j, "complex", id="complex"),
        pytest.param(decimal.Decimal("1.5"), "Decimal", id="decimal"),
        pytest.param(fractions.Fraction(1, 3), "Fraction", id="fraction"),
        pytest.param(uuid.UUID(int=0), "UUID", id="uuid"),
        pytest.param(pathlib.PurePosixPath("/x"), "PurePosixPath", id="path"),
        pytest.param(object(), "object", id="object"),
        pytest.param(len, "builtin_function_or_method", id="builtin"),
        pytest.param(lambda: 1, "function", id="lambda"),
        pytest.param(int, "type", id="class"),
        pytest.param(range(3), "range", id="range"),
        pytest.param(iter([1]), "list_iterator", id="iterator"),
        pytest.param(..., "ellipsis", id="ellipsis"),
        pytest.param(Color.RED, "Color", id="plain-enum"),
        pytest.param(Permission.READ, "Permission", id="flag"),
        pytest.param(UserDict({"a": 1}), "UserDict", id="userdict"),
        pytest.param(Point(1, 2), "Point", id="dataclass"),
    ]


@pytest.mark.parametrize(("value", "type_name"), refused_values())
def test_non_json_values_are_refused_naming_key_and_type(value: Any, type_name: str) -> None:
    with pytest.raises(InvalidValue) as info:
        encode(KEY, value)
    error = info.value
    assert isinstance(error, TypeError)
    assert isinstance(error, StatehubError)
    assert (error.key, error.path, error.type_name) == (KEY, "", type_name)
    assert KEY in str(error)
    assert type_name in str(error)


@pytest.mark.parametrize(("value", "type_name"), refused_values())
def test_non_json_values_are_refused_wherever_they_are_nested(value: Any, type_name: str) -> None:
    with pytest.raises(InvalidValue) as info:
        encode(KEY, {"a": [0, {"b": value}]})
    assert (info.value.path, info.value.type_name) == ("/a/1/b", type_name)
    assert "'/a/1/b'" in str(info.value)
    with pytest.raises(InvalidValue) as in_tuple:
        encode(KEY, (0, (1, value)))
    assert in_tuple.value.path == "/1/1"


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ({"a": [dt.date(2024, 1, 1)]}, "/a/0"),
        ([[[{1}]]], "/0/0/0"),
        ({"a/b": {"~c": b""}}, "/a~1b/~0c"),
        ({"": {"": b""}}, "//"),
        ({"x": 1, "y": [1, 2, {"z": float("nan")}]}, "/y/2/z"),
        ([1, 2, 3, b""], "/3"),
    ],
)
def test_error_path_is_a_json_pointer_to_the_offending_part(value: Any, path: str) -> None:
    with pytest.raises(InvalidValue) as info:
        encode("task/7/result", value)
    assert info.value.path == path
    assert repr(path) in str(info.value)
    assert "task/7/result" in str(info.value)


@pytest.mark.parametrize(
    ("value", "type_name", "path"),
    [
        ({1: "one"}, "int", ""),
        ({1.5: "x"}, "float", ""),
        ({None: 1}, "NoneType", ""),
        ({True: 1}, "bool", ""),
        ({("a",): 1}, "tuple", ""),
        ({b"a": 1}, "bytes", ""),
        ({Color.RED: 1}, "Color", ""),
        ({"a": {2: 1}}, "int", "/a"),
        ([{"ok": 1}, {3: 1}], "int", "/1"),
    ],
)
def test_dict_keys_must_be_strings(value: Any, type_name: str, path: str) -> None:
    with pytest.raises(InvalidValue) as info:
        encode(KEY, value)
    assert (info.value.path, info.value.type_name) == (path, type_name)
    assert "dict keys must be str" in str(info.value)
    assert KEY in str(info.value)


def test_str_enum_dict_keys_are_accepted() -> None:
    assert decode(encode(KEY, {Mode.FAST: 1})) == {"fast": 1}


def test_lone_surrogates_are_refused_as_invalid_value() -> None:
    for value in ("\ud800", {"a": "x\udfff"}, ["\ud83d"]):
        with pytest.raises(InvalidValue) as info:
            encode(KEY, value)
        assert KEY in str(info.value)


def test_a_refused_value_is_left_as_it_was() -> None:
    value = {"good": [1, 2, 3], "bad": {1, 2}}
    with pytest.raises(InvalidValue):
        encode(KEY, value)
    assert value == {"good": [1, 2, 3], "bad": {1, 2}}


# --------------------------------------------------------------------------- size limit


def test_size_limit_is_on_the_encoded_bytes_and_inclusive() -> None:
    assert encode(KEY, "12345678", max_bytes=10) == b'"12345678"'
    with pytest.raises(ValueTooLarge) as info:
        encode(KEY, "123456789", max_bytes=10)
    assert (info.value.key, info.value.size, info.value.limit) == (KEY, 11, 10)
    assert isinstance(info.value, InvalidArgument)
    assert KEY in str(info.value)
    assert "11" in str(info.value)
    assert "10" in str(info.value)


def test_size_limit_counts_utf8_bytes_not_characters() -> None:
    assert encode(KEY, "é" * 4, max_bytes=10) == '"éééé"'.encode()
    with pytest.raises(ValueTooLarge) as info:
        encode(KEY, "é" * 5, max_bytes=10)
    assert info.value.size == 12


def test_default_size_limit_is_16_mib() -> None:
    largest = "x" * (DEFAULT_MAX_VALUE_BYTES - 2)
    assert len(encode(KEY, largest)) == DEFAULT_MAX_VALUE_BYTES
    with pytest.raises(ValueTooLarge) as info:
        encode(KEY, largest + "x")
    assert (info.value.size, info.value.limit) == (
        DEFAULT_MAX_VALUE_BYTES + 1,
        DEFAULT_MAX_VALUE_BYTES,
    )


def test_a_non_json_value_is_refused_as_such_even_when_too_large() -> None:
    with pytest.raises(InvalidValue):
        encode(KEY, ["x" * 100, {1, 2}], max_bytes=10)


# --------------------------------------------------------------------------- copies


def test_encode_keeps_no_reference_to_its_input() -> None:
    value: dict[str, Any] = {"list": [1, 2], "nested": {"a": 1}}
    data = encode(KEY, value)
    value["list"].append(3)
    value["nested"]["a"] = 2
    assert decode(data) == {"list": [1, 2], "nested": {"a": 1}}


def test_encode_does_not_change_its_input() -> None:
    value = {"t": (1, 2), "level": Level.HIGH, "ordered": OrderedDict(a=1)}
    encode(KEY, value)
    assert value == {"t": (1, 2), "level": Level.HIGH, "ordered": OrderedDict(a=1)}
    assert type(value["t"]) is tuple


def test_decode_returns_a_fresh_copy_every_call() -> None:
    data = encode(KEY, {"list": [1]})
    first, second = decode(data), decode(data)
    assert first == second
    assert first is not second
    assert first["list"] is not second["list"]
    first["list"].append(2)
    assert decode(data) == {"list": [1]}


def test_encode_meta_encodes_statehub_metadata() -> None:
    patch = [{"op": "add", "path": "/a", "value": 1}]
    assert decode(encode_meta(patch)) == patch


# --------------------------------------------------------------------------- properties

JSON_TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=10)
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    JSON_TEXT,
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(JSON_TEXT, children, max_size=5),
    ),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(value=JSON_VALUES)
def test_every_json_value_round_trips_exactly(value: Any) -> None:
    data = encode(KEY, value)
    assert canonical(decode(data)) == canonical(value)
    assert data == encode(KEY, decode(data))


@settings(max_examples=200, deadline=None)
@given(value=JSON_VALUES, bad=st.sampled_from([{1}, b"", float("nan"), dt.date(2024, 1, 1)]))
def test_one_non_json_part_anywhere_makes_the_value_invalid(value: Any, bad: Any) -> None:
    with pytest.raises(InvalidValue) as info:
        encode(KEY, [value, bad])
    assert info.value.path == "/1"
