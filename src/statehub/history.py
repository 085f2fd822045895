"""Reading the log: rebuilding past values and turning log rows into :class:`Change`.

Pure functions shared by every backend: a backend finds the rows, these give them
meaning.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from statehub.codec import decode, encode_meta
from statehub.model import Change
from statehub.patch import apply_patch

__all__ = [
    "ChangeQuery",
    "LogRowAt",
    "change_from_row",
    "is_removal",
    "plan_key_compaction",
    "value_from_chain",
]


def is_removal(patch: bytes | None, value: bytes | None) -> bool:
    """Whether a log row removed its key (whatever its op: delete, expire, rollback...).

    Every other row carries the effect as a patch or the whole value, or both.
    """
    return patch is None and value is None


@dataclass(frozen=True, slots=True)
class ChangeQuery:
    """Which log rows to return, oldest first.

    Attributes:
        key: only this key.
        prefix: only keys starting with this.
        agent: only changes made by this agent.
        since: only revisions after this one (exclusive).
        until: only revisions up to this one (inclusive).
        limit: at most this many rows.
        visible_to: only keys this agent may see (its own private keys and the
            shared scopes; no reserved keys).
    """

    key: str | None = None
    prefix: str | None = None
    agent: str | None = None
    since: int | None = None
    until: int | None = None
    limit: int | None = None
    visible_to: str | None = None


def value_from_chain(chain: Iterable[tuple[str, bytes | None, bytes | None]]) -> tuple[bool, Any]:
    """Rebuild a value from its log rows, newest first, up to the revision wanted.

    Args:
        chain: ``(op, patch, value)`` for each change of the key, newest first. It is
            read only as far back as the nearest whole value.

    Returns:
        ``(True, value)`` if the key existed at that revision, else ``(False, None)``.
    """
    patches: list[bytes] = []
    for _op, patch, value in chain:
        if is_removal(patch, value):
            return False, None
        if value is not None:
            document = decode(value)
            for encoded in reversed(patches):
                document = apply_patch(document, decode(encoded))
            return True, document
        if patch is not None:
            patches.append(patch)
    return False, None


def change_from_row(
    revision: int,
    key: str,
    op: str,
    agent: str,
    timestamp: float,
    label: str | None,
    prev_version: int,
    version: int,
    patch: bytes | None,
    value: bytes | None,
    cause: bytes | None,
) -> Change:
    """The public :class:`Change` of one stored log row.

    A row that stored the whole value gets a one-op patch at the root (``add`` on
    create, ``replace`` otherwise); a removal gets ``remove`` at the root.
    """
    if patch is not None:
        ops = decode(patch)
    elif value is None:
        ops = [{"op": "remove", "path": ""}]
    else:
        root_op = "add" if prev_version == 0 else "replace"
        ops = [{"op": root_op, "path": "", "value": decode(value or b"null")}]
    return Change(
        revision,
        key,
        op,
        agent,
        timestamp,
        label,
        prev_version,
        version,
        ops,
        decode(cause) if cause is not None else None,
    )


LogRowAt = tuple[int, str, bytes | None, bytes | None]
"""``(revision, op, patch, value)`` of one log row of a key."""


def plan_key_compaction(
    rows: list[LogRowAt], oldest: int, keep: Iterable[int]
) -> tuple[dict[int, bytes], list[int]]:
    """What compacting one key's log up to revision ``oldest`` rewrites and drops.

    Reads at ``oldest`` (the base of every later read) and at each revision in
    ``keep`` (live checkpoints) must still work: for each, the key's latest row at
    or before it is kept, rewritten to hold the whole value if it held a patch.
    Every other row at or before ``oldest`` is dropped.

    Args:
        rows: the key's log rows with revision at most ``oldest``, oldest first.
        oldest: the oldest revision that stays readable (and watchable from).
        keep: earlier revisions that must stay readable (checkpoints).

    Returns:
        ``{revision: whole value}`` to write into kept rows, and the revisions to drop.
    """
    needed: set[int] = set()
    removals: set[int] = set()
    for target in (oldest, *keep):
        if target > oldest:
            continue
        latest = next((row for row in reversed(rows) if row[0] <= target), None)
        if latest is not None:
            (removals if is_removal(latest[2], latest[3]) else needed).add(latest[0])
    # A removal must stay after a kept value (else reads after it would see the value
    # again); one with no kept value before it says nothing and can go.
    needed.update(removal for removal in removals if any(kept < removal for kept in needed))
    rewrites: dict[int, bytes] = {}
    for revision in needed:
        index = next(i for i, row in enumerate(rows) if row[0] == revision)
        if rows[index][3] is None and not is_removal(rows[index][2], rows[index][3]):
            chain = ((op, patch, value) for _, op, patch, value in reversed(rows[: index + 1]))
            _, value = value_from_chain(chain)
            rewrites[revision] = encode_meta(value)
    return rewrites, [row[0] for row in rows if row[0] not in needed]
