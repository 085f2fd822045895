"""JSON Merge Patch (RFC 7396): merge a partial document into a JSON value.

Pure: no I/O, and neither argument is ever mutated.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson

__all__ = ["merge_patch"]


def _copy_json(value: Any) -> Any:
    """Return a deep copy of a JSON value (sharing no mutable objects with it)."""
    if value is None or isinstance(value, str | int | float):
        return value
    try:
        return orjson.loads(orjson.dumps(value))
    except orjson.JSONEncodeError:
        return copy.deepcopy(value)


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply a JSON Merge Patch (RFC 7396) to ``target`` and return the merged value.

    Follows the RFC's ``MergePatch`` pseudo-code: a patch that is not a dict replaces
    the target; otherwise the target is treated as ``{}`` unless it is a dict, each
    ``None`` member of the patch deletes that key, and every other member is merged
    recursively. Neither argument is mutated. The result shares no mutable objects
    with ``patch``; subtrees of ``target`` that the patch does not touch are shared
    with the result, not copied (so copy the result before mutating it in place if
    ``target`` must stay intact).

    Args:
        target: the JSON value to merge into.
        patch: the merge patch.

    Returns:
        The merged JSON value.

    """
    if not isinstance(patch, dict):
        return _copy_json(patch)
    result: dict[str, Any] = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result
