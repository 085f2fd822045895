"""Unit tests of statehub.keys: the key grammar, scopes and access policy (pure, no hub)."""

from __future__ import annotations

import string
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statehub.errors import AccessDenied, InvalidKey, StatehubError
from statehub.keys import (
    MAX_AGENT_LENGTH,
    MAX_KEY_LENGTH,
    SCOPES,
    check_access,
    is_visible,
    owner_of,
    validate_agent_name,
    validate_key,
    validate_prefix,
)

SEGMENT_CHARS = string.ascii_letters + string.digits + "_-.:@+=,"
LONGEST_KEY = "global/" + "k" * (MAX_KEY_LENGTH - len("global/"))


# --------------------------------------------------------------------------- constants


def test_limits_and_scopes_are_as_documented() -> None:
    assert MAX_KEY_LENGTH == 1024
    assert MAX_AGENT_LENGTH == 128
    assert SCOPES == ("global", "agent", "task")


# --------------------------------------------------------------------------- valid keys


@pytest.mark.parametrize(
    "key",
    [
        "global/x",
        "global/task_status",
        "global/a/b/c/d",
        "task/1/status",
        "task/abc-123/result/draft",
        "agent/bob/notes",
        "agent/bob",
        "agent/Bob.2/x",
        "agent/7/x",
        "global/...",
        "global/a..b",
        "global/.hidden",
        "global/x.",
        "global/_",
        "global/-",
        "global/" + SEGMENT_CHARS,
        "global/a:b@c+d=e,f",
        LONGEST_KEY,
    ],
)
def test_valid_keys_are_returned_unchanged(key: str) -> None:
    assert validate_key(key) == key


# --------------------------------------------------------------------------- invalid keys


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("", "first segment"),
        ("global", "at least one more segment"),
        ("task", "at least one more segment"),
        ("agent", "at least one more segment"),
        ("global/", "empty segment"),
        ("/global/x", "first segment"),
        ("global//x", "empty segment"),
        ("global/x/", "empty segment"),
        ("global/x//", "empty segment"),
        ("global/./x", "'.'"),
        ("global/../x", "'..'"),
        ("global/x/..", "'..'"),
        ("global/x/.", "'.'"),
        ("agent/b/../b/x", "'..'"),
        ("agent/../x", "'..'"),
        ("agent/./x", "'.'"),
        ("Global/x", "first segment"),
        ("globals/x", "first segment"),
        ("tasks/1", "first segment"),
        ("x/y", "first segment"),
        ("_locks/x", "reserved"),
        ("_/x", "reserved"),
    ],
)
def test_invalid_keys_raise_invalid_key_with_a_reason(key: str, reason: str) -> None:
    with pytest.raises(InvalidKey) as info:
        validate_key(key)
    assert info.value.key == key
    assert reason in info.value.reason
    assert reason in str(info.value)


@pytest.mark.parametrize(
    ("key", "bad"),
    [
        ("global/a b", " "),
        ("global/x ", " "),
        ("global/ x", " "),
        ("global/tab\t", "\t"),
        ("global/x\n", "\n"),
        ("global/\r", "\r"),
        ("global/nbsp\u00a0", "\u00a0"),
        ("global/é", "é"),
        ("global/ü", "ü"),
        ("global/日本", "日"),
        ("global/🚀", "🚀"),
        ("global/\uff11", "\uff11"),  # a full-width digit: \d would take it, the grammar not
        ("global/\u0663", "\u0663"),  # an Arabic-Indic digit
        ("global/x*", "*"),
        ("global/x?", "?"),
        ("global/[x]", "["),
        ("global/x%2F", "%"),
        ("global/x#y", "#"),
        ("global/back\\slash", "\\"),
        ("global/quote'", "'"),
        ("global/nul\x00", "\x00"),
        ("task/1/~", "~"),
    ],
)
def test_characters_outside_the_grammar_are_refused_and_named(key: str, bad: str) -> None:
    with pytest.raises(InvalidKey) as info:
        validate_key(key)
    assert repr(bad)[1:-1] in info.value.reason


def test_invalid_key_is_a_value_error_and_a_statehub_error() -> None:
    with pytest.raises(ValueError, match="empty segment") as info:
        validate_key("global//x")
    assert isinstance(info.value, InvalidKey)
    assert isinstance(info.value, StatehubError)


def test_key_of_1024_characters_is_accepted_and_1025_refused() -> None:
    assert len(LONGEST_KEY) == 1024
    assert validate_key(LONGEST_KEY) == LONGEST_KEY
    with pytest.raises(InvalidKey) as info:
        validate_key(LONGEST_KEY + "k")
    assert "1024" in info.value.reason
    assert len(str(info.value)) < 200  # the message does not repeat the whole key


@pytest.mark.parametrize("key", [None, 1, 1.5, b"global/x", ["global", "x"], ("global/x",)])
def test_non_string_keys_raise_invalid_key_naming_the_type(key: Any) -> None:
    with pytest.raises(InvalidKey) as info:
        validate_key(key)
    assert type(key).__name__ in info.value.reason


def test_reserved_scopes_are_accepted_only_for_statehub_itself() -> None:
    assert validate_key("_locks/global/x", reserved=True) == "_locks/global/x"
    assert validate_key("_/x", reserved=True) == "_/x"
    for key in ("_locks", "_lo cks/x", "_locks//x", "_locks/../x", "_é/x"):
        with pytest.raises(InvalidKey):
            validate_key(key, reserved=True)
    with pytest.raises(InvalidKey):
        validate_key("_locks/x")


@pytest.mark.parametrize(
    "key",
    [
        "agent/-bob/x",
        "agent/_bob/x",
        "agent/.bob/x",
        "agent/" + "a" * (MAX_AGENT_LENGTH + 1) + "/x",
        "agent/" + "a" * (MAX_AGENT_LENGTH + 1),
    ],
)
def test_agent_keys_need_a_valid_agent_name(key: str) -> None:
    with pytest.raises(InvalidKey):
        validate_key(key)


def test_agent_key_with_the_longest_agent_name_is_valid() -> None:
    key = "agent/" + "a" * MAX_AGENT_LENGTH + "/x"
    assert validate_key(key) == key


# --------------------------------------------------------------------------- agent names


@pytest.mark.parametrize(
    "name", ["coordinator", "a", "7", "Agent-1", "a.b", "x:y@z+w=v,u_t", "a" * MAX_AGENT_LENGTH]
)
def test_valid_agent_names(name: str) -> None:
    assert validate_agent_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".",
        "..",
        "-bob",
        "_bob",
        ".bob",
        "a/b",
        "a b",
        "bob\n",
        "é",
        "*",
        "a" * (MAX_AGENT_LENGTH + 1),
        None,
        7,
        b"bob",
    ],
)
def test_invalid_agent_names_raise_invalid_key(name: Any) -> None:
    with pytest.raises(InvalidKey):
        validate_agent_name(name)


# --------------------------------------------------------------------------- prefixes


@pytest.mark.parametrize(
    "prefix",
    [
        "",
        "g",
        "global",
        "global/",
        "global/re",
        "global/a/b/",
        "agent/",
        "agent/bob",
        "agent/bob/",
        "task/1/",
        "global/a.",
        "global/...",
        LONGEST_KEY,
    ],
)
def test_valid_prefixes(prefix: str) -> None:
    assert validate_prefix(prefix) == prefix


@pytest.mark.parametrize(
    "prefix",
    [
        "global//",
        "/global",
        "//",
        "global/./",
        "global/../",
        "global/ x",
        "global/é",
        "global/x\n",
        "global/*",
        LONGEST_KEY + "k",
        None,
        5,
    ],
)
def test_invalid_prefixes_raise_invalid_key(prefix: Any) -> None:
    with pytest.raises(InvalidKey):
        validate_prefix(prefix)


# --------------------------------------------------------------------------- policy


@pytest.mark.parametrize(
    ("key", "owner"),
    [
        ("agent/bob/notes", "bob"),
        ("agent/bob", "bob"),
        ("agent/bob/a/b/c", "bob"),
        ("agent/bob.2/x", "bob.2"),
        ("global/agent/bob", None),
        ("task/agent/x", None),
        ("global/x", None),
    ],
)
def test_owner_of_names_the_agent_a_private_key_belongs_to(key: str, owner: str | None) -> None:
    assert owner_of(key) == owner


@pytest.mark.parametrize(
    ("agent", "key", "visible"),
    [
        ("bob", "agent/bob/notes", True),
        ("bob", "agent/bob", True),
        ("alice", "agent/bob/notes", False),
        ("alice", "agent/bob", False),
        ("a", "agent/ab/x", False),
        ("ab", "agent/a/x", False),
        ("alice", "global/x", True),
        ("alice", "task/1/x", True),
        ("alice", "_locks/global/x", False),
        ("alice", "_inbox/alice/x", False),
    ],
)
def test_is_visible_follows_the_scopes(agent: str, key: str, visible: bool) -> None:
    assert is_visible(agent, key) is visible


@pytest.mark.parametrize("key", ["agent/alice/x", "agent/alice", "global/x", "task/1/x"])
def test_check_access_allows_own_and_shared_keys(key: str) -> None:
    check_access("alice", key)


@pytest.mark.parametrize("key", ["agent/bob/x", "agent/bob", "agent/alice2/x", "agent/al/x"])
def test_check_access_denies_other_agents_private_keys(key: str) -> None:
    with pytest.raises(AccessDenied) as info:
        check_access("alice", key)
    assert isinstance(info.value, PermissionError)
    assert (info.value.key, info.value.agent) == (key, "alice")
    assert key in str(info.value)


# --------------------------------------------------------------------------- properties

SEGMENTS = st.text(alphabet=SEGMENT_CHARS, min_size=1, max_size=12).filter(
    lambda segment: segment not in (".", "..")
)
AGENT_NAMES = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from(string.ascii_letters + string.digits),
    st.text(alphabet=SEGMENT_CHARS, max_size=10),
)
KEYS = st.one_of(
    st.builds(lambda rest: "/".join(["global", *rest]), st.lists(SEGMENTS, min_size=1, max_size=5)),
    st.builds(lambda rest: "/".join(["task", *rest]), st.lists(SEGMENTS, min_size=1, max_size=5)),
    st.builds(
        lambda name, rest: "/".join(["agent", name, *rest]),
        AGENT_NAMES,
        st.lists(SEGMENTS, max_size=4),
    ),
)


@settings(max_examples=200, deadline=None)
@given(key=KEYS)
def test_every_key_built_from_the_grammar_is_valid(key: str) -> None:
    assert validate_key(key) == key
    assert validate_prefix(key) == key
    assert validate_prefix(key.rsplit("/", 1)[0] + "/") == key.rsplit("/", 1)[0] + "/"


@settings(max_examples=200, deadline=None)
@given(
    key=KEYS,
    bad=st.characters(exclude_characters=SEGMENT_CHARS + "/"),
    where=st.integers(min_value=0, max_value=2000),
)
def test_any_character_outside_the_grammar_makes_a_key_invalid(
    key: str, bad: str, where: int
) -> None:
    scope_end = key.index("/") + 1
    position = scope_end + where % (len(key) - scope_end + 1)
    with pytest.raises(InvalidKey):
        validate_key(key[:position] + bad + key[position:])


@settings(max_examples=200, deadline=None)
@given(key=KEYS)
def test_a_dot_segment_anywhere_makes_a_key_invalid(key: str) -> None:
    segments = key.split("/")
    for dots in (".", ".."):
        for index in range(1, len(segments) + 1):
            broken = "/".join([*segments[:index], dots, *segments[index:]])
            with pytest.raises(InvalidKey):
                validate_key(broken)
