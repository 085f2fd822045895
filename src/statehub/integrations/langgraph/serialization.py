"""LangGraph values to statehub JSON and back, through the saver's serializer (pure).

Plain JSON (``None``, ``bool``, 64-bit ``int``, finite ``float``, ``str``, ``list``,
``dict`` with ``str`` keys) is stored as itself, so that statehub's history shows it
and its JSON Patches stay small: appending to a list is one ``add`` op. Anything else
(messages, tuples, sets, datetimes, bytes...) goes through LangGraph's serializer
(``serde.dumps_typed``) and is stored as ``{"$lg": [type, base64]}``; a dict that
happens to have a ``"$lg"`` key is wrapped the same way, so decoding is unambiguous.

>>> from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
>>> serde = JsonPlusSerializer()
>>> to_json(serde, {"n": 1, "tags": ["a"]})
{'n': 1, 'tags': ['a']}
>>> from_json(serde, to_json(serde, {1, 2}))
{1, 2}
"""

from __future__ import annotations

import base64
import math
from typing import Any

from langgraph.checkpoint.serde.base import SerializerProtocol

__all__ = ["TAG", "from_json", "to_json"]

TAG = "$lg"
"""The key of a value stored through LangGraph's serializer."""

_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


def to_json(serde: SerializerProtocol, value: Any) -> Any:
    """A JSON value that :func:`from_json` turns back into ``value``."""
    kind = type(value)
    if value is None or kind is str or kind is bool:
        return value
    if kind is int and _INT_MIN <= value <= _INT_MAX:
        return value
    if kind is float and math.isfinite(value):
        return value
    if kind is list:
        return [to_json(serde, item) for item in value]
    if kind is dict and TAG not in value and all(type(k) is str for k in value):
        return {k: to_json(serde, v) for k, v in value.items()}
    type_name, data = serde.dumps_typed(value)
    return {TAG: [type_name, base64.b64encode(data).decode("ascii")]}


def from_json(serde: SerializerProtocol, value: Any) -> Any:
    """The value :func:`to_json` encoded as ``value``."""
    if isinstance(value, list):
        return [from_json(serde, item) for item in value]
    if isinstance(value, dict):
        wrapped = value.get(TAG)
        if wrapped is not None and len(value) == 1:
            return serde.loads_typed((wrapped[0], base64.b64decode(wrapped[1])))
        return {k: from_json(serde, v) for k, v in value.items()}
    return value
