"""Structural differences between two snapshots of a hub (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from statehub.patch import make_patch, render_patch, strictly_equal

__all__ = ["Diff", "KeyChange", "diff_snapshots"]


@dataclass(frozen=True, slots=True)
class KeyChange:
    """How one key's value differs between the two sides of a diff.

    Attributes:
        key: the key.
        old: its value on the first side.
        new: its value on the second side.
        patch: the RFC 6902 JSON Patch that turns ``old`` into ``new``.
    """

    key: str
    old: Any
    new: Any
    patch: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Diff:
    """What changed from revision ``a`` to revision ``b`` under ``prefix``.

    Attributes:
        a: the first side's revision.
        b: the second side's revision.
        prefix: the keys compared.
        added: keys present only at ``b``, with their values.
        removed: keys present only at ``a``, with their values.
        changed: keys present on both sides with different values.
    """

    a: int
    b: int
    prefix: str
    added: dict[str, Any] = field(default_factory=dict)
    removed: dict[str, Any] = field(default_factory=dict)
    changed: dict[str, KeyChange] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def render(self) -> list[str]:
        """Human-readable lines: ``+ key``, ``- key``, ``~ key`` then its patch, indented."""
        lines: list[str] = []
        for key in sorted({*self.added, *self.removed, *self.changed}):
            if key in self.added:
                lines.append(f"+ {key}: {_short(self.added[key])}")
            elif key in self.removed:
                lines.append(f"- {key}: {_short(self.removed[key])}")
            else:
                lines.append(f"~ {key}")
                lines.extend(f"    {line}" for line in render_patch(self.changed[key].patch))
        return lines


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:79] + "…"


def diff_snapshots(a: int, old: dict[str, Any], b: int, new: dict[str, Any], prefix: str) -> Diff:
    """Compare two ``{key: value}`` snapshots, taken at revisions ``a`` and ``b``."""
    result = Diff(a, b, prefix)
    for key, value in new.items():
        if key not in old:
            result.added[key] = value
        elif not strictly_equal(old[key], value):
            result.changed[key] = KeyChange(key, old[key], value, make_patch(old[key], value))
    for key, value in old.items():
        if key not in new:
            result.removed[key] = value
    return result
