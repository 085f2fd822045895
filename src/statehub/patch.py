"""JSON Patch (RFC 6902): compute, apply and render patches between JSON values.

JSON values are ``dict`` (with ``str`` keys), ``list``, ``str``, ``int``, ``float``,
``bool`` and ``None``. Unlike Python's ``==``, this module treats ``1``, ``1.0`` and
``True`` as three different values (see :func:`strictly_equal`).

The functions here are pure: they do no I/O. :func:`apply_patch` may mutate the
document it is given (pass a disposable copy), never the patch.
"""

from __future__ import annotations

import copy
import math
import re
from typing import Any

import orjson

from statehub.errors import PatchError

__all__ = [
    "apply_patch",
    "escape_pointer_segment",
    "make_patch",
    "parse_pointer",
    "render_patch",
    "strictly_equal",
    "unescape_pointer_segment",
]

_SORT = orjson.OPT_SORT_KEYS
_INDEX_RE = re.compile(r"0|[1-9][0-9]*")
_RENDER_WIDTH = 80


# --------------------------------------------------------------------------- equality, copying


def strictly_equal(a: Any, b: Any) -> bool:
    """Tell whether two JSON values are the same JSON value.

    Python's ``==`` says ``1 == 1.0 == True``; here they differ, as do ``0.0`` and
    ``-0.0``. Dict key order does not matter. Runs at C speed: ``==`` first, then a
    comparison of the canonical (sorted-keys) encodings only when ``==`` holds.

    Args:
        a: a JSON value.
        b: another JSON value.

    Returns:
        True if ``a`` and ``b`` are equal with the same types throughout.

    """
    if a != b:
        return False
    try:
        return orjson.dumps(a, option=_SORT) == orjson.dumps(b, option=_SORT)
    except orjson.JSONEncodeError:
        # Outside what orjson encodes (ints beyond 64 bits, lone surrogates, ...).
        return _strictly_equal_slow(a, b)


def _strictly_equal_slow(a: Any, b: Any) -> bool:
    """Compare two values like :func:`strictly_equal`, in pure Python."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_strictly_equal_slow(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(
            _strictly_equal_slow(x, y) for x, y in zip(a, b, strict=True)
        )
    if isinstance(a, float):
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    return bool(a == b)


def _copy_json(value: Any) -> Any:
    """Return a deep copy of a JSON value (sharing no mutable objects with it)."""
    if value is None or isinstance(value, str | int | float):
        return value
    try:
        return orjson.loads(orjson.dumps(value))
    except orjson.JSONEncodeError:
        return copy.deepcopy(value)


# --------------------------------------------------------------------------- JSON Pointer


def escape_pointer_segment(segment: str) -> str:
    """Escape one reference token for a JSON Pointer (RFC 6901): ``~`` → ``~0``, ``/`` → ``~1``.

    Args:
        segment: a dict key or list index as text.

    Returns:
        The escaped token, ready to follow a ``/``.

    """
    return segment.replace("~", "~0").replace("/", "~1")


def unescape_pointer_segment(segment: str) -> str:
    """Undo :func:`escape_pointer_segment`: ``~1`` → ``/``, ``~0`` → ``~``.

    Args:
        segment: one escaped reference token.

    Returns:
        The token as a plain string.

    Raises:
        PatchError: if the token holds a ``~`` not followed by ``0`` or ``1``.

    """
    if "~" in segment:
        if re.search(r"~(?![01])", segment):
            raise PatchError(f"invalid escape in JSON Pointer token {segment!r}")
        return segment.replace("~1", "/").replace("~0", "~")
    return segment


def parse_pointer(pointer: str) -> list[str]:
    """Split a JSON Pointer (RFC 6901) into its unescaped reference tokens.

    Args:
        pointer: ``""`` (the whole document) or a string starting with ``/``.

    Returns:
        The tokens, e.g. ``"/a~1b/0"`` → ``["a/b", "0"]``; ``""`` → ``[]``.

    Raises:
        PatchError: if the pointer is not a string, is neither ``""`` nor starts with
            ``/``, or holds an invalid ``~`` escape.

    """
    if not isinstance(pointer, str):
        raise PatchError(f"JSON Pointer must be a string, not {type(pointer).__name__}")
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f"JSON Pointer {pointer!r} must be empty or start with '/'")
    return [unescape_pointer_segment(token) for token in pointer[1:].split("/")]


def _join(path: str, token: str | int) -> str:
    """Append one (unescaped) token to a JSON Pointer."""
    if isinstance(token, int):
        return f"{path}/{token}"
    return f"{path}/{escape_pointer_segment(token)}"


# --------------------------------------------------------------------------- make_patch


def make_patch(old: Any, new: Any) -> list[dict[str, Any]]:
    """Compute JSON Patch operations that turn ``old`` into ``new``.

    Dicts are diffed per key. A list that ``new`` extends (``new`` starts with all
    of ``old``) costs one ``add`` per appended element, with explicit indexes. Other
    list changes trim the common prefix and suffix, then pair elements by position.
    Values of different JSON types (``1``, ``1.0``, ``True`` included) are replaced.
    The operations' values share no mutable objects with ``new``.

    Args:
        old: the JSON value before.
        new: the JSON value after.

    Returns:
        The operations; ``[]`` when the values are strictly equal. The whole value is
        replaced with path ``""``.

    """
    ops: list[dict[str, Any]] = []
    if not strictly_equal(old, new):
        _diff(old, new, "", ops)
    return ops


def _diff(old: Any, new: Any, path: str, ops: list[dict[str, Any]]) -> None:
    """Append to ``ops`` the operations turning ``old`` into ``new`` (known to differ)."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key, old_value in old.items():
            if key not in new:
                ops.append({"op": "remove", "path": _join(path, key)})
            else:
                new_value = new[key]
                if not strictly_equal(old_value, new_value):
                    _diff(old_value, new_value, _join(path, key), ops)
        for key, new_value in new.items():
            if key not in old:
                ops.append({"op": "add", "path": _join(path, key), "value": _copy_json(new_value)})
    elif isinstance(old, list) and isinstance(new, list):
        _diff_list(old, new, path, ops)
    else:
        ops.append({"op": "replace", "path": path, "value": _copy_json(new)})


def _common_run(old: list[Any], new: list[Any], limit: int, from_end: bool) -> int:
    """Return the length of the longest strictly equal prefix (or suffix) of two lists.

    Binary search over slice comparisons, so the element-wise work runs in C.
    """
    n, m = len(old), len(new)

    def same(k: int) -> bool:
        if from_end:
            return strictly_equal(old[n - k :], new[m - k :])
        return strictly_equal(old[:k], new[:k])

    if limit == 0 or same(limit):
        return limit
    low, high = 0, limit  # same(low) holds, same(high) does not
    while high - low > 1:
        mid = (low + high) // 2
        if same(mid):
            low = mid
        else:
            high = mid
    return low


def _diff_list(old: list[Any], new: list[Any], path: str, ops: list[dict[str, Any]]) -> None:
    """Append to ``ops`` the operations turning list ``old`` into list ``new``."""
    n, m = len(old), len(new)
    if m >= n and strictly_equal(old, new[:n]):
        ops.extend(
            {"op": "add", "path": f"{path}/{i}", "value": _copy_json(new[i])} for i in range(n, m)
        )
        return
    prefix = _common_run(old, new, min(n, m), from_end=False)
    suffix = _common_run(old, new, min(n, m) - prefix, from_end=True)
    old_len, new_len = n - prefix - suffix, m - prefix - suffix
    for i in range(prefix, prefix + min(old_len, new_len)):
        old_item, new_item = old[i], new[i]
        if strictly_equal(old_item, new_item):
            continue
        if (isinstance(old_item, dict) and isinstance(new_item, dict)) or (
            isinstance(old_item, list) and isinstance(new_item, list)
        ):
            _diff(old_item, new_item, f"{path}/{i}", ops)
        else:
            ops.append({"op": "replace", "path": f"{path}/{i}", "value": _copy_json(new_item)})
    if new_len > old_len:
        ops.extend(
            {"op": "add", "path": f"{path}/{i}", "value": _copy_json(new[i])}
            for i in range(prefix + old_len, prefix + new_len)
        )
    else:
        ops.extend(
            {"op": "remove", "path": f"{path}/{i}"}
            for i in range(prefix + old_len - 1, prefix + new_len - 1, -1)
        )


# --------------------------------------------------------------------------- apply_patch


def apply_patch(doc: Any, ops: list[dict[str, Any]]) -> Any:
    """Apply JSON Patch operations (RFC 6902) in order and return the resulting document.

    Supports ``add``, ``remove``, ``replace``, ``move``, ``copy`` and ``test``, the
    ``-`` index (append) for ``add``, and ``~0``/``~1`` escapes. ``doc`` may be
    mutated in place, so pass a disposable copy; use the return value, since an
    operation on the root (path ``""``) replaces the whole document. Values taken
    from the patch are deep-copied: the result shares no mutable objects with ``ops``.

    Args:
        doc: the JSON document to patch (may be mutated).
        ops: the operations, each a dict with ``op``, ``path`` and, depending on the
            op, ``value`` or ``from``.

    Returns:
        The patched document.

    Raises:
        PatchError: if an operation is malformed, names an unknown op, refers to a
            missing location or a bad list index, or a ``test`` fails. The message
            names the operation's position, kind and path.

    """
    if not isinstance(ops, list):
        raise PatchError(f"a JSON Patch must be a list of operations, not {type(ops).__name__}")
    for index, op in enumerate(ops):
        doc = _apply_one(doc, op, index)
    return doc


def _apply_one(doc: Any, op: Any, index: int) -> Any:
    """Apply one operation to ``doc`` and return the resulting document."""
    if not isinstance(op, dict):
        raise PatchError(f"operation {index}: must be an object, not {type(op).__name__}")
    name = op.get("op")
    path = op.get("path")
    where = f"operation {index} ({name!r} at {path!r})"
    if not isinstance(name, str):
        raise PatchError(f"{where}: missing or non-string 'op'")
    if not isinstance(path, str):
        raise PatchError(f"{where}: missing or non-string 'path'")
    try:
        tokens = parse_pointer(path)
    except PatchError as exc:
        raise PatchError(f"{where}: {exc}") from None

    if name in ("add", "replace", "test"):
        if "value" not in op:
            raise PatchError(f"{where}: missing 'value'")
        value = op["value"]
        if name == "add":
            return _add(doc, tokens, _copy_json(value), where)
        if name == "replace":
            return _replace(doc, tokens, _copy_json(value), where)
        actual = _get(doc, tokens, where)
        if not strictly_equal(actual, value):
            raise PatchError(f"{where}: test failed, found {_compact(actual)}")
        return doc
    if name == "remove":
        _remove(doc, tokens, where)
        return doc
    if name in ("move", "copy"):
        source = op.get("from")
        if not isinstance(source, str):
            raise PatchError(f"{where}: missing or non-string 'from'")
        where = f"operation {index} ({name!r} from {source!r} to {path!r})"
        try:
            from_tokens = parse_pointer(source)
        except PatchError as exc:
            raise PatchError(f"{where}: {exc}") from None
        if name == "copy":
            return _add(doc, tokens, _copy_json(_get(doc, from_tokens, where)), where)
        if from_tokens == tokens:
            _get(doc, from_tokens, where)
            return doc
        if tokens[: len(from_tokens)] == from_tokens:
            raise PatchError(f"{where}: cannot move a value into one of its own children")
        moved = _get(doc, from_tokens, where)
        _remove(doc, from_tokens, where)
        return _add(doc, tokens, moved, where)
    raise PatchError(f"{where}: unknown op {name!r}")


def _list_index(container: list[Any], token: str, where: str, *, allow_end: bool) -> int:
    """Turn a reference token into an index of ``container``, checking its range."""
    if not _INDEX_RE.fullmatch(token):
        raise PatchError(f"{where}: {token!r} is not a valid list index")
    position = int(token)
    bound = len(container) if allow_end else len(container) - 1
    if position > bound:
        raise PatchError(
            f"{where}: list index {position} out of range (list length {len(container)})"
        )
    return position


def _get(doc: Any, tokens: list[str], where: str) -> Any:
    """Return the value ``tokens`` refers to in ``doc``."""
    current = doc
    for token in tokens:
        if isinstance(current, dict):
            if token not in current:
                raise PatchError(f"{where}: no member {token!r}")
            current = current[token]
        elif isinstance(current, list):
            current = current[_list_index(current, token, where, allow_end=False)]
        else:
            raise PatchError(f"{where}: cannot descend into {type(current).__name__} at {token!r}")
    return current


def _parent(doc: Any, tokens: list[str], where: str) -> Any:
    """Return the container holding the location ``tokens`` refers to (tokens non-empty)."""
    parent = _get(doc, tokens[:-1], where)
    if not isinstance(parent, dict | list):
        raise PatchError(f"{where}: parent is a {type(parent).__name__}, not a container")
    return parent


def _add(doc: Any, tokens: list[str], value: Any, where: str) -> Any:
    """Add ``value`` at ``tokens`` (insert into lists, set in dicts); return the doc."""
    if not tokens:
        return value
    parent = _parent(doc, tokens, where)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif last == "-":
        parent.append(value)
    else:
        parent.insert(_list_index(parent, last, where, allow_end=True), value)
    return doc


def _replace(doc: Any, tokens: list[str], value: Any, where: str) -> Any:
    """Replace the existing value at ``tokens`` with ``value``; return the doc."""
    if not tokens:
        return value
    parent = _parent(doc, tokens, where)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"{where}: no member {last!r}")
        parent[last] = value
    else:
        parent[_list_index(parent, last, where, allow_end=False)] = value
    return doc


def _remove(doc: Any, tokens: list[str], where: str) -> None:
    """Remove the existing value at ``tokens``."""
    if not tokens:
        raise PatchError(f"{where}: cannot remove the whole document")
    parent = _parent(doc, tokens, where)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"{where}: no member {last!r}")
        del parent[last]
    else:
        del parent[_list_index(parent, last, where, allow_end=False)]


# --------------------------------------------------------------------------- render_patch


def _compact(value: Any) -> str:
    """Render a value as compact JSON, cut to 80 characters with a trailing ``…``."""
    try:
        text = orjson.dumps(value).decode()
    except (orjson.JSONEncodeError, UnicodeDecodeError):
        text = repr(value)
    if len(text) > _RENDER_WIDTH:
        text = text[: _RENDER_WIDTH - 1] + "…"
    return text


def _show_path(path: Any) -> str:
    """Render a pointer for humans: the root ``""`` shows as ``(root)``."""
    if path == "":
        return "(root)"
    return path if isinstance(path, str) else _compact(path)


def render_patch(ops: list[dict[str, Any]]) -> list[str]:
    """Render JSON Patch operations as one human-readable line each.

    Formats: ``+ /p: v`` (add), ``- /p`` (remove), ``~ /p → v`` (replace),
    ``> /from → /p`` (move), ``= /from → /p`` (copy), ``? /p == v`` (test), and
    ``! {...}`` for anything else. Values are compact JSON, cut to 80 characters
    with ``…``; the root pointer ``""`` shows as ``(root)``. Never raises on a
    malformed operation.

    Args:
        ops: the operations.

    Returns:
        One line per operation.

    """
    lines: list[str] = []
    for op in ops:
        if not isinstance(op, dict):
            lines.append(f"! {_compact(op)}")
            continue
        name = op.get("op")
        path = _show_path(op.get("path"))
        value = _compact(op.get("value"))
        if name == "add" and "value" in op:
            lines.append(f"+ {path}: {value}")
        elif name == "remove":
            lines.append(f"- {path}")
        elif name == "replace" and "value" in op:
            lines.append(f"~ {path} → {value}")
        elif name == "move" and "from" in op:
            lines.append(f"> {_show_path(op['from'])} → {path}")
        elif name == "copy" and "from" in op:
            lines.append(f"= {_show_path(op['from'])} → {path}")
        elif name == "test" and "value" in op:
            lines.append(f"? {path} == {value}")
        else:
            lines.append(f"! {_compact(op)}")
    return lines
