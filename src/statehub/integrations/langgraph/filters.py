"""LangGraph store filters and namespace matching, as LangGraph's stores apply them (pure).

>>> matches({"kind": "note", "score": 7}, {"kind": "note", "score": {"$gte": 5}})
True
>>> namespace_matches(("users", "u1", "notes"), "prefix", ("users", "*"))
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from statehub.errors import InvalidArgument

__all__ = ["matches", "namespace_matches"]


def _operator(value: Any, operator: str, operand: Any) -> bool:
    if operator == "$eq":
        return bool(value == operand)
    if operator == "$ne":
        return bool(value != operand)
    if operator in ("$gt", "$gte", "$lt", "$lte"):
        try:
            left, right = float(value), float(operand)
        except (TypeError, ValueError):
            return False
        return {
            "$gt": left > right,
            "$gte": left >= right,
            "$lt": left < right,
            "$lte": left <= right,
        }[operator]
    raise InvalidArgument(f"unsupported filter operator {operator!r}")


def _compare(value: Any, wanted: Any) -> bool:
    if isinstance(wanted, dict):
        if any(k.startswith("$") for k in wanted):
            return all(_operator(value, k, v) for k, v in wanted.items())
        if not isinstance(value, dict):
            return False
        return all(_compare(value.get(k), v) for k, v in wanted.items())
    if isinstance(wanted, list | tuple):
        return (
            isinstance(value, list | tuple)
            and len(value) == len(wanted)
            and all(_compare(a, b) for a, b in zip(value, wanted, strict=True))
        )
    return bool(value == wanted)


def matches(value: Mapping[str, Any], filter: Mapping[str, Any] | None) -> bool:
    """Whether an item's value passes a search filter (exact values, ``$gt`` and co)."""
    if not filter:
        return True
    return all(_compare(value.get(k), v) for k, v in filter.items())


def namespace_matches(namespace: tuple[str, ...], kind: str, path: Sequence[str]) -> bool:
    """Whether ``namespace`` starts (``"prefix"``) or ends (``"suffix"``) with ``path``.

    ``"*"`` in ``path`` matches any one label.
    """
    if len(namespace) < len(path):
        return False
    if kind == "prefix":
        pairs = zip(namespace, path, strict=False)
    elif kind == "suffix":
        pairs = zip(reversed(namespace), reversed(path), strict=False)
    else:
        raise InvalidArgument(f"unsupported match type {kind!r}")
    return all(p == "*" or n == p for n, p in pairs)
