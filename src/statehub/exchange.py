"""Export and import: a hub as one JSON document (the lesson's file-based persistence).

The document::

    {"format": "statehub-export", "version": 1, "hub": "default",
     "revision": 42, "oldest": 0, "exported_at": 1795000000.0, "history": true,
     "entries": [{"key": ..., "value": ..., "version": ..., "created_rev": ...,
                  "modified_rev": ..., "updated_by": ..., "updated_ts": ...,
                  "expires_ts": ..., "owner": ..., "patch_bytes": ...}, ...],
     "changes": [{"revision": ..., "key": ..., "op": ..., "agent": ..., "ts": ...,
                  "label": ..., "prev_version": ..., "version": ..., "patch": ...,
                  "value": ..., "cause": ...}, ...]}

Without history, ``entries`` holds the user keys only and ``changes`` is absent;
with it, ``entries`` also holds statehub's own rows (checkpoints, locks) and
``changes`` the whole log, so an import reproduces state, revisions and history
exactly. An import checks the whole document before it writes anything, and names
the first offending entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from statehub.codec import decode, encode, encode_meta
from statehub.errors import InvalidArgument, StatehubError
from statehub.keys import validate_key
from statehub.txn import Stored

__all__ = [
    "FORMAT",
    "VERSION",
    "Export",
    "Progress",
    "RawChange",
    "build_export",
    "parse_export",
]

Progress = Callable[[int, int], None]
"""Told ``(rows done, rows in all)`` while an export is built or an import checked."""

_PROGRESS_EVERY = 1000
"""Rows between two progress reports."""


def _reported(items: list[Any], progress: Progress | None, done: int, total: int) -> Iterator[Any]:
    """Iterate ``items``, telling ``progress`` every :data:`_PROGRESS_EVERY` of them."""
    for index, item in enumerate(items):
        if progress is not None and index % _PROGRESS_EVERY == 0:
            progress(done + index, total)
        yield item
    if progress is not None:
        progress(done + len(items), total)


FORMAT = "statehub-export"
"""The ``format`` field of every export."""

VERSION = 1
"""The version of the export format this release writes and reads."""

RawChange = tuple[
    int, str, str, str, float, str | None, int, int, bytes | None, bytes | None, bytes | None
]
"""One log row as stored: revision, key, op, agent, ts, label, prev_version, version,
patch, value, cause."""

_OPS = frozenset(
    {
        "put",
        "update",
        "merge",
        "dispatch",
        "delete",
        "expire",
        "lock",
        "renew",
        "unlock",
        "checkpoint",
        "checkpoint-delete",
        "rollback",
        "import",
    }
)


@dataclass(frozen=True, slots=True)
class Export:
    """A parsed, validated export, ready for a backend to load."""

    hub: str
    revision: int
    oldest: int
    history: bool
    entries: list[Stored]
    changes: list[RawChange]


def _entry_document(row: Stored) -> dict[str, Any]:
    return {
        "key": row.key,
        "value": decode(row.data),
        "version": row.version,
        "created_rev": row.created_rev,
        "modified_rev": row.modified_rev,
        "updated_by": row.updated_by,
        "updated_ts": row.updated_ts,
        "expires_ts": row.expires_ts,
        "owner": row.owner,
        "patch_bytes": row.patch_bytes,
    }


def _change_document(row: RawChange) -> dict[str, Any]:
    revision, key, op, agent, ts, label, prev_version, version, patch, value, cause = row
    return {
        "revision": revision,
        "key": key,
        "op": op,
        "agent": agent,
        "ts": ts,
        "label": label,
        "prev_version": prev_version,
        "version": version,
        "patch": None if patch is None else decode(patch),
        "value": None if value is None else decode(value),
        "has_value": value is not None,
        "cause": None if cause is None else decode(cause),
    }


def build_export(
    hub: str,
    revision: int,
    oldest: int,
    exported_at: float,
    entries: list[Stored],
    changes: list[RawChange] | None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The export document of a hub's rows (``changes`` is ``None`` without history)."""
    total = len(entries) + len(changes or [])
    document: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "hub": hub,
        "revision": revision,
        "oldest": oldest,
        "exported_at": exported_at,
        "history": changes is not None,
        "entries": [_entry_document(row) for row in _reported(entries, progress, 0, total)],
    }
    if changes is not None:
        rows = _reported(changes, progress, len(entries), total)
        document["changes"] = [_change_document(row) for row in rows]
    return document


class _Checker:
    """Field checks that name where in the document a problem is."""

    def __init__(self, where: str, fields: dict[str, Any]) -> None:
        self.where = where
        self.fields = fields

    def fail(self, message: str) -> InvalidArgument:
        return InvalidArgument(f"{self.where}: {message}")

    def field(self, name: str, check: Callable[[Any], bool], kind: str) -> Any:
        if name not in self.fields:
            raise self.fail(f"missing {name!r}")
        value = self.fields[name]
        if not check(value):
            raise self.fail(f"{name!r} must be {kind}, not {value!r}"[:300])
        return value

    def integer(self, name: str, minimum: int = 0) -> int:
        value: int = self.field(
            name,
            lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= minimum,
            f"an int >= {minimum}",
        )
        return value

    def number(self, name: str, optional: bool = False) -> float | None:
        value = self.field(
            name,
            lambda v: (
                (optional and v is None) or (isinstance(v, int | float) and not isinstance(v, bool))
            ),
            "a number" + (" or null" if optional else ""),
        )
        return None if value is None else float(value)

    def text(self, name: str, optional: bool = False) -> str | None:
        value = self.field(
            name,
            lambda v: (optional and v is None) or (isinstance(v, str) and v != ""),
            "a non-empty string" + (" or null" if optional else ""),
        )
        return None if value is None else str(value)

    def key(self, name: str, reserved: bool) -> str:
        key = self.field(name, lambda v: isinstance(v, str), "a key")
        try:
            return validate_key(key, reserved=reserved)
        except StatehubError as exc:
            raise self.fail(str(exc)) from exc

    def json(self, name: str, key: str) -> bytes:
        value = self.fields.get(name)
        try:
            return encode(key, value)
        except StatehubError as exc:
            raise self.fail(str(exc)) from exc


def _parse_entry(index: int, fields: Any, history: bool, revision: int) -> Stored:
    if not isinstance(fields, dict):
        raise InvalidArgument(f"entries[{index}]: must be an object")
    check = _Checker(f"entries[{index}] ({fields.get('key')!r})", fields)
    key = check.key("key", reserved=history)
    created = check.integer("created_rev", 1)
    modified = check.integer("modified_rev", created)
    if modified > revision:
        raise check.fail(f"modified_rev {modified} is after the export's revision {revision}")
    return Stored(
        key,
        check.json("value", key),
        check.integer("version", 1),
        created,
        modified,
        str(check.text("updated_by")),
        float(check.number("updated_ts") or 0.0),
        check.number("expires_ts", optional=True),
        check.text("owner", optional=True),
        check.integer("patch_bytes") if "patch_bytes" in fields else 0,
    )


def _parse_change(index: int, fields: Any, previous: int) -> RawChange:
    if not isinstance(fields, dict):
        raise InvalidArgument(f"changes[{index}]: must be an object")
    check = _Checker(f"changes[{index}] ({fields.get('key')!r})", fields)
    key = check.key("key", reserved=True)
    revision = check.integer("revision", max(previous, 1))
    op = check.field("op", lambda v: isinstance(v, str) and v in _OPS, f"one of {sorted(_OPS)}")
    patch = fields.get("patch")
    if patch is not None and not isinstance(patch, list):
        raise check.fail("'patch' must be a JSON Patch (a list) or null")
    has_value = fields.get("has_value", fields.get("value") is not None)
    return (
        revision,
        key,
        op,
        str(check.text("agent")),
        float(check.number("ts") or 0.0),
        check.text("label", optional=True),
        check.integer("prev_version"),
        check.integer("version"),
        None if patch is None else encode_meta(patch),
        check.json("value", key) if has_value else None,
        None if fields.get("cause") is None else check.json("cause", key),
    )


def parse_export(document: Any, progress: Progress | None = None) -> Export:
    """Validate a whole export document; raise :class:`InvalidArgument` naming the problem.

    ``progress`` is told how many of the entries and changes have been checked.
    """
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise InvalidArgument(f'not a statehub export (no "format": {FORMAT!r})')
    top = _Checker("export", document)
    if top.integer("version", 1) != VERSION:
        raise top.fail(f"format version {document['version']} is not {VERSION}")
    revision = top.integer("revision")
    oldest = top.integer("oldest")
    history = bool(top.field("history", lambda v: isinstance(v, bool), "true or false"))
    raw_entries = top.field("entries", lambda v: isinstance(v, list), "a list")
    raw_changes = top.field("changes", lambda v: isinstance(v, list), "a list") if history else []
    total = len(raw_entries) + len(raw_changes)
    entries = [
        _parse_entry(i, fields, history, revision)
        for i, fields in enumerate(_reported(raw_entries, progress, 0, total))
    ]
    first_at: dict[str, int] = {}
    for index, row in enumerate(entries):
        if first_at.setdefault(row.key, index) != index:
            raise InvalidArgument(
                f"entries[{index}] ({row.key!r}): the key appears already at entries"
                f"[{first_at[row.key]}]"
            )
    changes: list[RawChange] = []
    if history:
        previous = 1
        for i, fields in enumerate(_reported(raw_changes, progress, len(entries), total)):
            change = _parse_change(i, fields, previous)
            previous = change[0]
            changes.append(change)
        if changes and changes[-1][0] != revision:
            raise top.fail(f"the last change is at {changes[-1][0]}, not the revision {revision}")
        seen_at: dict[tuple[int, str], int] = {}
        for index, change in enumerate(changes):
            if seen_at.setdefault((change[0], change[1]), index) != index:
                raise InvalidArgument(
                    f"changes[{index}] ({change[1]!r}): revision {change[0]} changes this key "
                    f"already at changes[{seen_at[(change[0], change[1])]}]"
                )
    hub = str(top.text("hub"))
    return Export(hub, revision, oldest, history, entries, changes)
