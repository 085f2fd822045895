"""Reading the command line's values: points in history, durations, JSON values.

A *point* names a revision in four ways: a number (``12``), ``head``, a checkpoint
name (``before-publish``), or a time: ISO 8601 (``2026-11-27T23:00``, ``Z`` or an
offset; without one it is UTC) or relative (``10m ago``, ``2h``, ``1.5d ago``;
units ``s m h d w``). A time names the last revision committed before it, mapped
with the backend's ``first_revision_since``; so ``--since 10m ago`` shows what
happened in the last ten minutes. A checkpoint name wins over a time of the same
spelling.
"""

from __future__ import annotations

import re
import sys
import time
from datetime import UTC, datetime
from typing import Any

import click
import orjson

from statehub.hub import Hub

__all__ = ["parse_duration", "parse_time", "point", "read_value", "revision_of"]

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(
    r"(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?"
    r"|d|days?|w|weeks?)?",
    re.IGNORECASE,
)
_AGO = re.compile(r"\s+ago$", re.IGNORECASE)


def parse_duration(text: str, param_hint: str = "DURATION") -> float:
    """Seconds in ``7d``, ``12h``, ``30m``, ``90s``, ``1.5h`` or a bare number of seconds.

    >>> parse_duration("7d"), parse_duration("90"), parse_duration("1.5h")
    (604800.0, 90.0, 5400.0)
    """
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise click.BadParameter(
            f"{text!r} is not a duration (like 90s, 30m, 12h, 7d)", param_hint=param_hint
        )
    unit = (match["unit"] or "s")[0].lower()
    return float(match["number"]) * _UNITS[unit]


def parse_time(text: str) -> float | None:
    """The time ``text`` names, in seconds since the epoch; ``None`` if it names none.

    >>> parse_time("2026-01-01T00:00:00Z")
    1767225600.0
    >>> parse_time("before-publish") is None
    True
    """
    stripped = _AGO.sub("", text.strip())
    if stripped.lower() == "now":
        return time.time()
    if _DURATION.fullmatch(stripped) and (stripped != text.strip() or not stripped.isdigit()):
        return time.time() - parse_duration(stripped)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def point(hub: Hub, text: str, param_hint: str) -> int | str:
    """What ``text`` names: a revision number, or ``head`` or a checkpoint name as is.

    Raises:
        click.BadParameter: ``text`` is neither (a usage error, exit code 2).
    """
    text = text.strip()
    if text.isdigit():
        return int(text)
    if text == "head" or text in {checkpoint.name for checkpoint in hub.checkpoints()}:
        return text
    moment = parse_time(text)
    if moment is None:
        raise click.BadParameter(
            f"{text!r} is not a revision, a checkpoint or a time (ISO 8601, or like '10m ago')",
            param_hint=param_hint,
        )
    return hub.backend.first_revision_since(moment) - 1


def revision_of(hub: Hub, text: str, param_hint: str) -> int:
    """The revision number ``text`` names (see :func:`point`)."""
    found = point(hub, text, param_hint)
    if isinstance(found, int):
        return found
    if found == "head":
        return hub.revision
    return next(c.revision for c in hub.checkpoints() if c.name == found)


def read_value(text: str | None, *, string: bool) -> Any:
    """The value a command line gives: JSON text, or ``-`` for stdin; text with ``string``.

    Raises:
        click.BadParameter: the text is not JSON (a usage error, exit code 2).
    """
    if text is None:
        raise click.BadParameter("missing: give JSON text, or - to read stdin", param_hint="VALUE")
    if text == "-":
        text = sys.stdin.read()
        if string:
            return text.removesuffix("\n")
    if string:
        return text
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise click.BadParameter(
            f"not JSON ({exc}); use --string to store it as text", param_hint="VALUE"
        ) from None
