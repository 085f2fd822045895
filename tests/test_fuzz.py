"""Fuzzing with Hypothesis: the parsers and pure functions that take outside input.

Each test throws arbitrary (and nearly valid) input at one entry point and checks
two things: nothing escapes but the documented error, and what is accepted is
right. Key parsing is compared with the grammar written out again here; merge
patches with a transcription of RFC 7396's pseudo-code; JSON Patch diffs must
reproduce their target; mutated export files must import cleanly or raise
``InvalidArgument`` with the hub left empty. ``tests/fuzz_atheris.py`` runs the
same properties under atheris, coverage-guided, for longer (optional).
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import math
import re
import string
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import statehub
from statehub.errors import (
    InvalidArgument,
    InvalidKey,
    InvalidValue,
    PatchError,
)
from statehub.keys import validate_key, validate_prefix
from statehub.merge import merge_patch
from statehub.patch import apply_patch, make_patch, strictly_equal
from statehub.testing.model import reference_merge_patch
from tests.conftest import postgres_url

FUZZ = settings(max_examples=200, deadline=None)

# --------------------------------------------------------------------------- keys

SEGMENT_CHARS = string.ascii_letters + string.digits + "_-.:@+=,"
SEGMENT = re.compile(r"[A-Za-z0-9_.:@+=,-]+")
AGENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@+=,-]{0,127}")


def grammar_accepts(key: str, *, reserved: bool = False) -> bool:
    """The README's key grammar, written out again: is ``key`` a valid key?"""
    if len(key) > 1024:
        return False
    scope, *rest = key.split("/")
    if not rest:
        return False
    reserved_scope = reserved and scope.startswith("_") and SEGMENT.fullmatch(scope) is not None
    if scope not in ("global", "agent", "task") and not reserved_scope:
        return False
    if scope == "agent" and not AGENT.fullmatch(rest[0]):
        return False
    return all(SEGMENT.fullmatch(s) and s not in (".", "..") for s in rest)


KEYISH_CHARS = SEGMENT_CHARS + "/_ é\x00\n~*"
SEGMENTS = st.one_of(
    st.text(SEGMENT_CHARS, min_size=1, max_size=6),
    st.sampled_from([".", "..", "", "a b", "é", "*", "~1", "x" * 130]),
)
BUILT_KEYS = st.builds(
    lambda scope, parts: "/".join([scope, *parts]),
    st.sampled_from(["global", "agent", "task", "_locks", "_", "Global", "", "tasks"]),
    st.lists(SEGMENTS, max_size=4),
)
VALID_SEGMENTS = st.text(SEGMENT_CHARS, min_size=1, max_size=6).filter(
    lambda s: s not in (".", "..")
)
VALID_KEYS = st.builds(
    lambda scope, first, rest, more: "/".join([scope, first + rest, *more]),
    st.sampled_from(["global", "agent", "task"]),
    st.sampled_from(["a", "Z", "7"]),
    st.text(SEGMENT_CHARS, max_size=5),
    st.lists(VALID_SEGMENTS, max_size=3),
)
KEYISH = st.one_of(VALID_KEYS, st.text(KEYISH_CHARS, max_size=40), BUILT_KEYS, st.text(max_size=20))


@FUZZ
@given(
    key=st.one_of(KEYISH, st.integers(), st.none(), st.binary(max_size=8)), reserved=st.booleans()
)
def test_validate_key_raises_only_invalid_key_and_accepts_exactly_the_grammar(
    key: Any, reserved: bool
) -> None:
    try:
        accepted = validate_key(key, reserved=reserved) == key
    except InvalidKey:
        accepted = False
    assert accepted == (isinstance(key, str) and grammar_accepts(key, reserved=reserved))


@FUZZ
@given(key=st.text(KEYISH_CHARS, min_size=1000, max_size=1100))
def test_validate_key_enforces_the_length_limit_on_long_keys(key: str) -> None:
    key = "global/" + key.replace("/", "a")
    try:
        validate_key(key)
    except InvalidKey:
        assert not grammar_accepts(key)
    else:
        assert grammar_accepts(key)


@FUZZ
@given(prefix=st.one_of(KEYISH, st.integers(), st.none()))
def test_validate_prefix_raises_only_invalid_key_and_accepts_key_characters(prefix: Any) -> None:
    try:
        validate_prefix(prefix)
    except InvalidKey:
        return
    assert isinstance(prefix, str)
    assert re.fullmatch(r"[A-Za-z0-9_.:@+=,/-]*", prefix)
    *inner, _ = prefix.split("/")  # the last segment may be partial: "." starts ".a"
    assert all(SEGMENT.fullmatch(s) and s not in (".", "..") for s in inner)


@FUZZ
@given(key=VALID_KEYS, data=st.data())
def test_every_prefix_of_a_valid_key_is_a_valid_prefix(key: str, data: st.DataObject) -> None:
    assert grammar_accepts(key)
    cut = data.draw(st.integers(0, len(key)), label="cut")
    prefix = key[:cut]
    assert validate_prefix(prefix) == prefix


# Found by fuzzing: a last segment "." or ".." used to be refused.
def test_a_prefix_ending_in_a_dot_that_starts_a_valid_key_is_accepted() -> None:
    assert validate_key("global/.hidden") == "global/.hidden"
    assert validate_prefix("global/.") == "global/."


# --------------------------------------------------------------------------- JSON values

FIELD_NAMES = st.one_of(st.text(max_size=4), st.sampled_from(["a", "b", "/", "~", "~1", "a/b", ""]))
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(FIELD_NAMES, inner, max_size=4)
    ),
    max_leaves=25,
)
NOT_JSON = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, 2**64, b"bytes", {1, 2}, object()]),
    st.dictionaries(st.integers(), st.integers(), min_size=1, max_size=2),
)
ANYTHING = st.recursive(
    st.one_of(SCALARS, NOT_JSON),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(FIELD_NAMES, inner, max_size=3)
    ),
    max_leaves=10,
)


# --------------------------------------------------------------------------- merge patches


@FUZZ
@given(target=JSON, patch=JSON)
def test_merge_patch_agrees_with_the_rfc_7396_pseudo_code(target: Any, patch: Any) -> None:
    target_before, patch_before = copy.deepcopy(target), copy.deepcopy(patch)

    merged = merge_patch(target, patch)

    assert strictly_equal(merged, reference_merge_patch(target_before, patch_before))
    assert strictly_equal(target, target_before)
    assert strictly_equal(patch, patch_before)


@settings(FUZZ, max_examples=150)
@given(first=JSON, patch=ANYTHING)
def test_agent_merge_of_anything_raises_only_documented_errors_and_writes_nothing_on_error(
    first: Any, patch: Any
) -> None:
    with statehub.open("memory://") as hub:
        agent = hub.agent("fuzzer")
        agent.put("global/doc", first)
        try:
            entry = agent.merge("global/doc", patch)
        except (InvalidValue, InvalidArgument):
            assert hub.revision == 1
            assert strictly_equal(agent.get("global/doc"), first)
        else:
            assert entry.version == 2
            assert strictly_equal(entry.value, reference_merge_patch(first, patch))


# --------------------------------------------------------------------------- JSON Patch


@FUZZ
@given(old=JSON, new=JSON)
def test_make_patch_then_apply_patch_gives_the_target(old: Any, new: Any) -> None:
    old_before, new_before = copy.deepcopy(old), copy.deepcopy(new)

    ops = make_patch(old, new)
    patched = apply_patch(copy.deepcopy(old), copy.deepcopy(ops))

    assert strictly_equal(patched, new)
    assert strictly_equal(old, old_before)
    assert strictly_equal(new, new_before)
    assert (ops == []) == strictly_equal(old, new)
    orjson.dumps(ops)  # a patch is JSON itself (it is logged)


@FUZZ
@given(old=JSON, edits=st.lists(JSON, min_size=1, max_size=3))
def test_a_chain_of_patches_replays_every_version(old: Any, edits: list[Any]) -> None:
    # How history is stored: patches from each value to the next, replayed in order.
    versions = [old, *edits]
    patches = [make_patch(a, b) for a, b in itertools.pairwise(versions)]
    value = copy.deepcopy(old)
    for patch, expected in zip(patches, edits, strict=True):
        value = apply_patch(value, copy.deepcopy(patch))
        assert strictly_equal(value, expected)


POINTERS = st.one_of(
    st.sampled_from(["", "/", "/a", "/0", "/-", "/a/b", "/~1", "/~2", "a", "/01", "/ 1"]),
    st.text("/ab01-~", max_size=6),
)
OPERATIONS = st.one_of(
    st.fixed_dictionaries(
        {
            "op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "x"]),
            "path": st.one_of(POINTERS, st.integers(), st.none()),
        },
        optional={"value": JSON, "from": st.one_of(POINTERS, st.integers())},
    ),
    JSON,
)


@FUZZ
@given(doc=JSON, ops=st.one_of(st.lists(OPERATIONS, max_size=4), JSON))
def test_apply_patch_of_garbage_raises_only_patch_error(doc: Any, ops: Any) -> None:
    ops_before = copy.deepcopy(ops)
    with contextlib.suppress(PatchError):
        apply_patch(copy.deepcopy(doc), ops)
    assert strictly_equal(ops, ops_before)


# --------------------------------------------------------------------------- import files


def _export(tmp_path: Path, history: bool) -> dict[str, Any]:
    """An export of a small hub with history, checkpoints, a lock, private keys."""
    with statehub.open("memory://") as hub:
        writer, other = hub.agent("writer"), hub.agent("other")
        writer.put("global/doc", {"title": "Draft", "tags": ["a"]})
        writer.merge("global/doc", {"title": "Final"})
        writer.checkpoint("v1")
        other.dispatch("global/log", "started", reducer="append")
        other.put("agent/other/notes", None)
        writer.put("task/t1/state", 1.5, ttl=3600)
        writer.delete("global/log")
        writer.lock("global/doc", ttl=3600).release()
        path = tmp_path / "export.json"
        hub.export(path, history=history)
    document: dict[str, Any] = orjson.loads(path.read_bytes())
    return document


def _paths(document: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON document, as the path of keys and indexes to it."""
    found = [at]
    if isinstance(document, dict):
        for name, value in document.items():
            found.extend(_paths(value, (*at, name)))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found.extend(_paths(value, (*at, index)))
    return found


REPLACEMENTS = st.one_of(
    JSON,
    st.sampled_from([0, -1, 2**63, 10**30, "", "global/x", "_checkpoints/x", [], {}, None, 1.5]),
)


@st.composite
def mutated_exports(draw: st.DrawFn, original: dict[str, Any]) -> dict[str, Any]:
    """The export with one to three places replaced, deleted or duplicated."""
    document = copy.deepcopy(original)
    for _ in range(draw(st.integers(1, 3))):
        places = [place for place in _paths(document) if place]
        if not places:
            break
        place = draw(st.sampled_from(places))
        parent = document
        for step in place[:-1]:
            parent = parent[step]
        how = draw(st.sampled_from(["replace", "delete", "duplicate"]))
        last = place[-1]
        if how == "replace":
            parent[last] = draw(REPLACEMENTS)
        elif how == "delete":
            del parent[last]
        elif isinstance(parent, list):
            parent.insert(last, copy.deepcopy(parent[last]))
        else:
            parent[last] = [parent[last], parent[last]]
    return document


def _assert_imports_cleanly_or_not_at_all(path: Path, url: str) -> None:
    with statehub.open(url) as hub:
        try:
            statehub.import_file(path, into=hub)
        except InvalidArgument:
            assert hub.revision == 0
            assert hub.agent("writer").scan() == {}
            assert hub.history() == []
            assert hub.checkpoints() == []
            assert hub.locks() == []
        else:
            # A successful import is usable: every key reads, its past too.
            for name in ("writer", "other"):
                agent = hub.agent(name)
                for key in agent.scan():
                    agent.get(key, at=hub.revision)


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("exports")
    return {history: _export(tmp, history) for history in (True, False)}


@pytest.mark.parametrize("history", [True, False], ids=["with-history", "state-only"])
@pytest.mark.parametrize("backend", ["memory", "sqlite", "postgres"])
def test_mutated_export_imports_cleanly_or_raises_invalid_argument_and_writes_nothing(
    exports: dict[bool, dict[str, Any]],
    history: bool,
    backend: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    original = exports[history]

    @settings(
        max_examples={"memory": 120, "sqlite": 40, "postgres": 25}[backend],
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(document=mutated_exports(original))
    def run(document: dict[str, Any]) -> None:
        tmp = tmp_path_factory.mktemp("import")
        path = tmp / "mutated.json"
        path.write_text(json.dumps(document))  # json: ints past 64 bits too
        urls = {"memory": "memory://", "sqlite": f"sqlite:///{tmp}/hub.db"}
        url = urls[backend] if backend in urls else postgres_url()
        _assert_imports_cleanly_or_not_at_all(path, url)

    run()


@settings(FUZZ, max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_corrupted_export_bytes_raise_invalid_argument_and_write_nothing(
    exports: dict[bool, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory, data: Any
) -> None:
    raw = bytearray(orjson.dumps(exports[True]))
    for _ in range(data.draw(st.integers(1, 4), label="flips")):
        where = data.draw(st.integers(0, len(raw) - 1), label="where")
        raw[where] = data.draw(st.integers(0, 255), label="byte")
    cut = data.draw(st.integers(1, len(raw)), label="cut")
    path = tmp_path_factory.mktemp("bytes") / "corrupt.json"
    path.write_bytes(bytes(raw[:cut]))
    _assert_imports_cleanly_or_not_at_all(path, "memory://")


def test_unmutated_exports_import_with_their_history(
    exports: dict[bool, dict[str, Any]], tmp_path: Path
) -> None:
    # The mutation tests would pass vacuously if the original did not import.
    for history, document in exports.items():
        path = tmp_path / f"export-{history}.json"
        path.write_bytes(orjson.dumps(document))
        with statehub.open("memory://") as hub:
            statehub.import_file(path, into=hub)
            assert hub.agent("writer").get("global/doc") == {"title": "Final", "tags": ["a"]}
            assert bool(hub.checkpoints()) == history
