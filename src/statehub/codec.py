"""JSON encoding of values: validation, size limits, and copies (pure, no I/O).

What statehub stores is JSON: ``dict`` with ``str`` keys, ``list`` (a ``tuple`` is
stored as a list), ``str``, ``int`` (64-bit), ``float`` (finite), ``bool`` and
``None``, nested at most :data:`MAX_DEPTH` (254) deep. Subclasses of these (``IntEnum``,
``StrEnum``, ``OrderedDict``) are stored as their plain JSON value. Anything else
(``datetime``, ``set``, ``bytes``, a plain ``Enum``, NaN, ...) is refused with
:class:`~statehub.errors.InvalidValue` naming the key, the place in the value and
the type, before anything is written.

Every value is encoded once on the way in and decoded on the way out, so what a
writer keeps and what a reader gets are always copies.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from statehub.errors import InvalidValue, ValueTooLarge

__all__ = [
    "DEFAULT_MAX_VALUE_BYTES",
    "MAX_DEPTH",
    "decode",
    "encode",
    "encode_meta",
]

DEFAULT_MAX_VALUE_BYTES = 16 * 1024 * 1024
"""The default limit on one encoded value: 16 MiB (set per hub with ``max_value_bytes``)."""

MAX_DEPTH = 254
"""The deepest nesting of lists and dicts accepted in a value (orjson's own limit)."""

_COMPACT_BELOW = 16 * 1024
"""Encodings shorter than this are copied out of orjson's buffer (see :func:`_compact`)."""

_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1


def _problem(value: Any, depth: int) -> str | None:
    """Describe why ``value`` (a scalar or container) is not JSON, or ``None`` if it is."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return None
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            return "integer out of the 64-bit range"
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"float {value!r} is not a JSON number"
    if isinstance(value, dict | list | tuple):
        return f"nested deeper than {MAX_DEPTH} levels" if depth >= MAX_DEPTH else None
    return f"{type(value).__name__} is not a JSON type"


def _find_problem(value: Any) -> tuple[str, str, str] | None:
    """Walk ``value``; return (pointer, type name, reason) of the first non-JSON part."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, path, depth = stack.pop()
        reason = _problem(item, depth)
        if reason is not None:
            return path, type(item).__name__, reason
        if isinstance(item, dict):
            for name, child in item.items():
                if not isinstance(name, str):
                    return (
                        path,
                        type(name).__name__,
                        (f"dict keys must be str, found {type(name).__name__} {name!r}"),
                    )
                escaped = name.replace("~", "~0").replace("/", "~1")
                stack.append((child, f"{path}/{escaped}", depth + 1))
        elif isinstance(item, list | tuple):
            stack.extend((child, f"{path}/{i}", depth + 1) for i, child in enumerate(item))
    return None


def _is_plain_scalar(value: Any) -> bool:
    kind = type(value)
    return (
        kind is str
        or kind is bool
        or value is None
        or (kind is int and _INT_MIN <= value <= _INT_MAX)
    )


def _is_json(value: Any) -> bool:
    """Whether ``value`` is JSON; a path-free walk, so the common case stays cheap."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
            if not all(isinstance(name, str) for name in item):
                return False
        elif isinstance(item, list | tuple):
            children = item
        else:
            if _problem(item, depth) is not None:
                return False
            continue
        if depth >= MAX_DEPTH:
            return False
        stack.extend((child, depth + 1) for child in children if not _is_plain_scalar(child))
    return True


def _plain(value: Any) -> Any:
    """``value`` (already validated) rebuilt from plain JSON types, tuples as lists."""
    if isinstance(value, dict):
        return {str.__str__(name): _plain(child) for name, child in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(child) for child in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    return int(value) if isinstance(value, int) else float(value)


def _compact(data: bytes) -> bytes:
    """``data`` in a block of its own size, if it is small.

    orjson writes into a buffer of at least 4 KiB and hands it over shrunk in place, so
    each small encoding kept keeps its 4 KiB with it: 100,000 stored 40-byte values
    took 400 MB in ``memory://``, and the page faults of that growth were a quarter of
    each put's time. A copy costs 0.1 us; past 16 KiB the slack no longer matters.
    """
    return memoryview(data).tobytes() if len(data) < _COMPACT_BELOW else data


def _validate(key: str, value: Any) -> None:
    if _is_json(value):
        return
    found = _find_problem(value)
    path, type_name, reason = found or ("", type(value).__name__, "not JSON")
    raise InvalidValue(key, path, type_name, reason)


def encode(key: str, value: Any, max_bytes: int = DEFAULT_MAX_VALUE_BYTES) -> bytes:
    """Validate ``value`` as JSON and encode it; the bytes are the stored copy.

    Args:
        key: the key being written (named in errors).
        value: the value to encode.
        max_bytes: the largest encoded size accepted.

    Raises:
        InvalidValue: ``value`` is not JSON (the error names where and why).
        ValueTooLarge: the encoding is longer than ``max_bytes``.

    >>> encode("global/x", {"a": [1, 2]})
    b'{"a":[1,2]}'
    """
    # Fast path: orjson in C. But orjson also writes NaN (as null), UUIDs, plain
    # enums, dataclasses and datetimes; a value that decodes back equal to itself
    # holds none of them. Anything else takes the walk that names what is wrong.
    try:
        data = orjson.dumps(value)
        if type(value) is dict:  # the common case: no scalar test to fail first
            trusted = orjson.loads(data) == value
        else:
            trusted = _is_plain_scalar(value) or orjson.loads(data) == value
    except (orjson.JSONEncodeError, RecursionError):
        trusted = False
    if not trusted:
        _validate(key, value)
        try:
            data = orjson.dumps(_plain(value))
        except (orjson.JSONEncodeError, RecursionError) as exc:
            raise InvalidValue(key, "", type(value).__name__, str(exc)) from exc
    if len(data) > max_bytes:
        raise ValueTooLarge(key, len(data), max_bytes)
    return _compact(data)


def decode(data: bytes | str) -> Any:
    """Decode a stored value: a fresh copy every call."""
    return orjson.loads(data)


def encode_meta(value: Any) -> bytes:
    """Encode statehub's own metadata (patches, causes), already known to be JSON."""
    return _compact(orjson.dumps(value))
