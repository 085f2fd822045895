"""Key grammar, scopes and the access policy that follows from them (pure, no I/O).

A key is a ``/``-separated path of at most :data:`MAX_KEY_LENGTH` characters::

    global/<segment>(/<segment>)*          shared by every agent
    agent/<name>(/<segment>)*              private to the agent called <name>
    task/<id>(/<segment>)*                 the state of one task, shared
    _<reserved>/...                        statehub's own bookkeeping (not for users)

A segment is one or more of the characters ``A-Z a-z 0-9 _ - . : @ + = ,`` and is
never ``.`` or ``..``. Agent names follow the same rule and start with a letter or
a digit, at most :data:`MAX_AGENT_LENGTH` characters.

Policy: ``agent/<name>/...`` is readable and writable by ``<name>`` alone;
``global/`` and ``task/`` are shared; reserved keys are reachable only through
statehub's own operations (locks, checkpoints, inboxes).
"""

from __future__ import annotations

import re

from statehub.errors import AccessDenied, InvalidKey

__all__ = [
    "MAX_AGENT_LENGTH",
    "MAX_KEY_LENGTH",
    "SCOPES",
    "check_access",
    "is_visible",
    "owner_of",
    "validate_agent_name",
    "validate_key",
    "validate_prefix",
]

MAX_KEY_LENGTH = 1024
"""The longest key accepted, in characters."""

MAX_AGENT_LENGTH = 128
"""The longest agent name accepted, in characters."""

SCOPES = ("global", "agent", "task")
"""The user-visible scopes: the first segment of every user key."""

_SEGMENT = r"[A-Za-z0-9_.:@+=,-]+"
_SEGMENT_RE = re.compile(_SEGMENT)
_AGENT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@+=,-]*")
_RESERVED_RE = re.compile(r"_[A-Za-z0-9_.:@+=,-]*")
_PREFIX_CHARS_RE = re.compile(r"[A-Za-z0-9_.:@+=,/-]*")


def validate_agent_name(name: object) -> str:
    """Return ``name`` if it is a valid agent name, else raise :class:`InvalidKey`.

    >>> validate_agent_name("researcher")
    'researcher'
    """
    if not isinstance(name, str):
        raise InvalidKey(name, f"an agent name must be a str, not {type(name).__name__}")
    if not name or len(name) > MAX_AGENT_LENGTH:
        raise InvalidKey(name, f"an agent name has 1 to {MAX_AGENT_LENGTH} characters")
    if not _AGENT_RE.fullmatch(name) or name in (".", ".."):
        raise InvalidKey(
            name,
            "an agent name starts with a letter or digit and holds only "
            "letters, digits and _ - . : @ + = ,",
        )
    return name


def _check_segments(key: str, segments: list[str]) -> None:
    for segment in segments:
        if not segment:
            raise InvalidKey(key, "empty segment (a leading, trailing or doubled '/')")
        if segment in (".", ".."):
            raise InvalidKey(key, f"segment {segment!r} is not allowed")
        if not _SEGMENT_RE.fullmatch(segment):
            bad = sorted({c for c in segment if not _SEGMENT_RE.fullmatch(c)})
            raise InvalidKey(
                key,
                f"segment {segment!r} has characters outside A-Z a-z 0-9 _ - . : @ + = , "
                f"({''.join(bad)!r})",
            )


def validate_key(key: object, *, reserved: bool = False) -> str:
    """Return ``key`` if it follows the key grammar, else raise :class:`InvalidKey`.

    Args:
        key: the key to check.
        reserved: allow statehub's own ``_``-prefixed scopes (internal callers only).

    >>> validate_key("global/report")
    'global/report'
    """
    if not isinstance(key, str):
        raise InvalidKey(key, f"a key must be a str, not {type(key).__name__}")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKey(key[:40] + "...", f"longer than {MAX_KEY_LENGTH} characters")
    segments = key.split("/")
    scope = segments[0]
    if scope.startswith("_"):
        if not reserved:
            raise InvalidKey(key, "scopes starting with '_' are reserved for statehub")
        if not _RESERVED_RE.fullmatch(scope):
            raise InvalidKey(key, f"bad reserved scope {scope!r}")
    elif scope not in SCOPES:
        raise InvalidKey(key, f"the first segment must be one of {', '.join(SCOPES)}")
    if len(segments) < 2:
        raise InvalidKey(key, f"a key has a scope and at least one more segment, e.g. {scope}/x")
    _check_segments(key, segments[1:])
    if scope == "agent":
        validate_agent_name(segments[1])
    return key


def validate_prefix(prefix: object) -> str:
    """Return ``prefix`` if it can start a valid key (``""`` matches every key).

    A prefix matches keys by plain string prefix: ``"global/re"`` matches
    ``"global/report"``. Inner segments must be valid; the last may be partial.
    """
    if not isinstance(prefix, str):
        raise InvalidKey(prefix, f"a prefix must be a str, not {type(prefix).__name__}")
    if len(prefix) > MAX_KEY_LENGTH:
        raise InvalidKey(prefix[:40] + "...", f"longer than {MAX_KEY_LENGTH} characters")
    if not _PREFIX_CHARS_RE.fullmatch(prefix):
        raise InvalidKey(prefix, "a prefix holds only key characters and '/'")
    segments = prefix.split("/")
    _check_segments(prefix, segments[:-1])
    # The last segment may be partial: "." starts ".hidden", a valid segment; a prefix
    # matches by string, so it can never climb out of its scope.
    return prefix


def owner_of(key: str) -> str | None:
    """The agent a private key belongs to, or ``None`` for shared keys.

    >>> owner_of("agent/writer/notes"), owner_of("global/x")
    ('writer', None)
    """
    if key.startswith("agent/"):
        return key.split("/", 2)[1]
    return None


def is_visible(agent: str, key: str) -> bool:
    """Whether ``agent`` may see ``key`` at all (its scope allows it)."""
    if key.startswith("_"):
        return False
    private_to = owner_of(key)
    return private_to is None or private_to == agent


def check_access(agent: str, key: str) -> None:
    """Raise :class:`AccessDenied` unless ``agent`` may read and write ``key``'s scope."""
    private_to = owner_of(key)
    if private_to is not None and private_to != agent:
        raise AccessDenied(
            key, agent, f"keys under agent/{private_to}/ are private to it", owner=private_to
        )
