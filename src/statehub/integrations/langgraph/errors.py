"""The error a saver raises when two runs write one thread at once."""

from __future__ import annotations

from typing import Any

from statehub.errors import ConflictError

__all__ = ["ThreadConflict"]


class ThreadConflict(ConflictError):
    """Another run moved the thread on since this run read it: nothing was written.

    LangGraph's own savers would let both runs write and fork the thread's chain
    silently (LangGraph issue #8796); statehub compares the thread's head with the
    checkpoint the run started from, inside the commit. Reload the thread (invoke
    again) to continue from the other run's result.

    Attributes:
        thread_id: the thread.
        checkpoint_ns: the checkpoint namespace (``""`` for the root graph).
        parent_id: the checkpoint this run started from (``None``: an empty thread).
        head_id: the thread's latest checkpoint when the write was refused.
    """

    def __init__(
        self,
        key: str,
        expected: int,
        actual: int,
        *,
        thread_id: str,
        checkpoint_ns: str,
        parent_id: str | None,
        head_id: str | None,
    ) -> None:
        super().__init__(key, expected, actual)
        self.thread_id = thread_id
        self.checkpoint_ns = checkpoint_ns
        self.parent_id = parent_id
        self.head_id = head_id
        where = f"thread {thread_id!r}" + (
            f" (namespace {checkpoint_ns!r})" if checkpoint_ns else ""
        )
        started = f"checkpoint {parent_id!r}" if parent_id else "an empty thread"
        self.args = (
            f"{where} was written by another run: this run started from {started}, "
            f"but the thread's latest checkpoint is now {head_id!r}; nothing was written "
            "(reload the thread and run again)",
        )

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle by the fields (``args`` holds the message, not the arguments)."""
        fields = {
            "thread_id": self.thread_id,
            "checkpoint_ns": self.checkpoint_ns,
            "parent_id": self.parent_id,
            "head_id": self.head_id,
        }
        return (_rebuild, (self.key, self.expected, self.actual, fields))


def _rebuild(key: str, expected: int, actual: int, fields: dict[str, Any]) -> ThreadConflict:
    return ThreadConflict(key, expected, actual, **fields)
