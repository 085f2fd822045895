"""Checks of the arguments of the public API: each names the parameter it refuses."""

from __future__ import annotations

from statehub.errors import InvalidArgument

__all__ = [
    "carried_fences",
    "check_int",
    "check_label",
    "check_seconds",
    "check_ttl",
    "expected_versions",
]


def check_int(name: str, value: object, *, minimum: int = 0) -> int:
    """``value`` if it is an int (not a bool) >= ``minimum``, else ``InvalidArgument``."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidArgument(f"{name} must be an int, not {type(value).__name__} {value!r}")
    if value < minimum:
        raise InvalidArgument(f"{name} must be >= {minimum}, not {value}")
    return value


def check_label(label: object) -> str | None:
    """``label`` if it is ``None`` or a str, else ``InvalidArgument``."""
    if label is not None and not isinstance(label, str):
        raise InvalidArgument(f"label must be a str, not {type(label).__name__}")
    return label


def expected_versions(key: str, expect_version: int | None) -> dict[str, int]:
    """The compare of ``expect_version`` on ``key`` (none if ``None``)."""
    if expect_version is None:
        return {}
    return {key: check_int("expect_version", expect_version)}


def carried_fences(key: str, fence: int | None) -> dict[str, int]:
    """The fence carried for ``key`` (none if ``None``)."""
    if fence is None:
        return {}
    return {key: check_int("fence", fence, minimum=1)}


def check_seconds(name: str, seconds: object) -> float:
    """``seconds`` as a float if it is a number >= 0, else ``InvalidArgument``."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
        raise InvalidArgument(f"{name} must be a number of seconds >= 0, not {seconds!r}")
    return float(seconds)


def check_ttl(ttl: object) -> float | None:
    """``ttl`` as a float if it is a positive number of seconds (or ``None``)."""
    if ttl is None:
        return None
    if not isinstance(ttl, int | float) or isinstance(ttl, bool) or not 0 < ttl < 10**9:
        raise InvalidArgument(f"ttl must be a positive number of seconds, not {ttl!r}")
    return float(ttl)
