"""Turning an agent's calls into ops: argument checks, encoding, reducer lookup.

Nothing here writes: :class:`Writes` builds the :class:`~statehub.txn.Op` of each call
(after every check, so bad input never reaches a commit), and the caller commits it
or, in a transaction, buffers it.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

from statehub.arguments import check_label, check_ttl
from statehub.codec import decode, encode
from statehub.errors import InvalidArgument, UnknownReducer
from statehub.keys import check_access, validate_key
from statehub.reducers import BUILTINS, Reducer, builtin_name
from statehub.txn import DELETE, DISPATCH, MERGE, PUT, Op

if TYPE_CHECKING:
    from statehub.hub import Hub

__all__ = ["ReducerRegistry", "Writes", "checked_key", "with_initial"]


class ReducerRegistry:
    """Reducers by key, or by key pattern where ``*`` stands for one segment."""

    def __init__(self) -> None:
        self._exact: dict[str, Reducer] = {}
        self._patterns: list[tuple[re.Pattern[str], Reducer]] = []

    def register(self, key: str, reducer: Reducer) -> None:
        """Register ``reducer`` on ``key`` (a pattern if it holds ``*``)."""
        if "*" not in key:
            self._exact[validate_key(key)] = reducer
            return
        validate_key(key.replace("*", "x"))
        regex = "[^/]+".join(re.escape(part) for part in key.split("*"))
        self._patterns.append((re.compile(regex), reducer))

    def find(self, key: str) -> Reducer | None:
        """The reducer for ``key``: registered exactly, else by the latest matching pattern."""
        found = self._exact.get(key)
        if found is None:
            for pattern, reducer in reversed(self._patterns):
                if pattern.fullmatch(key):
                    return reducer
        return found


def with_initial(reducer: Reducer, initial: Any) -> Reducer:
    """``reducer``, seeing ``initial`` instead of ``None`` while the key is absent."""
    initial_data = encode("initial", initial)

    def reduce(state: Any, action: Any) -> Any:
        return reducer(decode(initial_data) if state is None else state, action)

    reduce.__name__ = getattr(reducer, "__name__", "reducer")
    return reduce


@functools.lru_cache(maxsize=8192)
def checked_key(agent: str, key: str) -> str:
    """``key`` if it is valid and ``agent`` may use it (cached: keys repeat a lot)."""
    validate_key(key)
    check_access(agent, key)
    return key


class Writes:
    """Builds the ops of one agent's writes, checking every argument first."""

    def __init__(self, hub: Hub, agent: str) -> None:
        self.hub = hub
        self.agent = agent

    def key(self, key: str) -> str:
        """``key`` if valid and this agent may use its scope (else InvalidKey, AccessDenied)."""
        if type(key) is not str:
            validate_key(key)  # raises InvalidKey naming the type
        return checked_key(self.agent, key)

    def put(
        self,
        key: str,
        value: Any,
        owner: bool | None,
        label: str | None,
        ttl: float | None,
        logged_as: str | None = None,
    ) -> Op:
        """The op of ``agent.put`` (the value encoded, so checked, now)."""
        if owner is not None and not isinstance(owner, bool):
            raise InvalidArgument(f"owner must be True, False or None, not {owner!r}")
        self.key(key)
        data = encode(key, value, self.hub.max_value_bytes)
        # Positional: keywords cost a third of building the op, once per put.
        return Op(
            PUT, key, data, None, None, None, check_label(label), owner, logged_as, check_ttl(ttl)
        )

    def merge(self, key: str, patch: Any, label: str | None, ttl: float | None) -> Op:
        """The op of ``agent.merge`` (the patch copied, so checked, now)."""
        self.key(key)
        operand = decode(encode(key, patch, self.hub.max_value_bytes))
        return Op(
            MERGE,
            key,
            operand=operand,
            cause={"patch": operand},
            label=check_label(label),
            ttl=check_ttl(ttl),
        )

    def dispatch(
        self,
        key: str,
        action: Any,
        reducer: Reducer | str | None,
        label: str | None,
        ttl: float | None,
    ) -> Op:
        """The op of ``agent.dispatch``, with its reducer resolved now."""
        self.key(key)
        if reducer is None:
            function = self.hub.reducer_for(key)
            if function is None:
                raise UnknownReducer(key)
        elif isinstance(reducer, str):
            function = BUILTINS.get(reducer)
            if function is None:
                raise UnknownReducer(key, reducer)
        elif callable(reducer):
            function = reducer
        else:
            raise InvalidArgument(f"reducer must be a name or a function, not {reducer!r}")
        action_data = encode(key, action, self.hub.max_value_bytes)
        operand = decode(action_data)
        name = builtin_name(function) or getattr(function, "__name__", "reducer")
        kind = operand.get("type") if isinstance(operand, dict) else None
        tag = check_label(label) or (kind if isinstance(kind, str) else None)
        return Op(
            DISPATCH,
            key,
            operand=operand,
            reducer=function,
            cause={"reducer": name, "action": decode(action_data)},  # a reducer may mutate operand
            label=tag,
            ttl=check_ttl(ttl),
        )

    def replace(self, key: str, value: Any, label: str | None) -> Op:
        """The op of ``update``'s optimistic attempt: ``value``, keeping the key's expiry.

        A ``replace`` dispatch rather than a put, so that ``update`` treats a TTL as
        ``merge`` and ``dispatch`` do, whichever of its two paths it takes.
        """
        operand = decode(encode(key, value, self.hub.max_value_bytes))  # InvalidValue now
        return Op(
            DISPATCH,
            self.key(key),
            operand=operand,
            reducer=BUILTINS["replace"],
            label=check_label(label),
            logged_as="update",
        )

    def delete(self, key: str, label: str | None) -> Op:
        """The op of ``agent.delete``."""
        return Op(DELETE, self.key(key), label=check_label(label))
