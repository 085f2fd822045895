"""Leases on keys, as rows of the reserved ``_locks/`` scope (pure, no I/O).

The lock on ``global/plan`` is the row ``_locks/global/plan`` holding
``{"holder": agent, "fence": revision, "expires_ts": seconds}``. Taking, renewing
and releasing a lock are commits like any other (logged, attributed), and every
write checks the lock of its key inside the same commit:

- a lock is *active* until ``expires_ts``; an expired lock blocks nobody;
- a write by anyone but the holder of an active lock raises ``LockedError``;
- a write that carries a ``fence`` must carry the current lock's fence, else
  ``StaleFenceError``: a holder whose lease expired and was taken over can never
  overwrite the new holder's work, however late its write arrives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from statehub.codec import decode, encode_meta
from statehub.errors import LockedError, StaleFenceError

__all__ = ["LOCK_SCOPE", "LockState", "check_write", "lock_key"]

LOCK_SCOPE = "_locks/"
"""The reserved scope under which each key's lock row lives."""


def lock_key(key: str) -> str:
    """The key of ``key``'s lock row."""
    return LOCK_SCOPE + key


@dataclass(frozen=True, slots=True)
class LockState:
    """A lock row, decoded.

    Attributes:
        key: the locked key (not the lock row's key).
        holder: the agent that took the lease.
        fence: the revision that granted it: the fencing token.
        expires_ts: when the lease ends unless renewed, seconds since the epoch.
    """

    key: str
    holder: str
    fence: int
    expires_ts: float

    @classmethod
    def decode(cls, key: str, data: bytes | None) -> LockState | None:
        """The lock state stored in a lock row's value, or ``None`` without a row."""
        if data is None:
            return None
        fields: dict[str, Any] = decode(data)
        return cls(key, fields["holder"], fields["fence"], fields["expires_ts"])

    def encode(self) -> bytes:
        """The lock row's value."""
        return encode_meta(
            {"holder": self.holder, "fence": self.fence, "expires_ts": self.expires_ts}
        )

    def active(self, now: float) -> bool:
        """Whether the lease still blocks others at time ``now``."""
        return now < self.expires_ts

    def check_fence(self, agent: str, fence: int) -> None:
        """Raise ``StaleFenceError`` unless ``fence`` is this lock's and ``agent`` holds it."""
        if fence != self.fence or agent != self.holder:
            raise StaleFenceError(self.key, fence, self.fence)


def check_write(
    key: str, lock: LockState | None, agent: str, fence: int | None, now: float
) -> None:
    """Raise unless ``agent`` (carrying ``fence``, if any) may write ``key`` now.

    Raises:
        StaleFenceError: ``fence`` is given and is not the current lock's.
        LockedError: another agent holds an active lock and no valid fence was given.
    """
    if fence is not None:
        if lock is None:
            raise StaleFenceError(key, fence, None)
        lock.check_fence(agent, fence)
        return
    if lock is not None and lock.active(now) and lock.holder != agent:
        raise LockedError(key, lock.holder, lock.expires_ts)
