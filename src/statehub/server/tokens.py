"""Per-agent bearer tokens: created, listed, revoked and checked (no HTTP here).

A token is ``shub_<id>_<secret>``: ``<id>`` is 16 hex digits naming the token, the
rest is :func:`secrets.token_urlsafe` (32 bytes). Only the SHA-256 of the whole
token is stored, as the reserved row ``_tokens/<id>`` =
``{"agent": ..., "hash": ..., "created_ts": ...}``, written by statehub's own code
path (like checkpoints), so no agent can read or write it through the public API.
The token itself is shown once, by :func:`create_token`, and never stored.

Every token acts as exactly one agent. An *admin* token (``create_token(...,
admin=True)``, ``statehub token create --admin``) is for operators: it sees every key,
may act as any agent it names, and may roll back, compact and export the whole hub.
Tokens are made and revoked by operators with direct access to the hub
(``statehub token ...``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from statehub.codec import decode, encode_meta
from statehub.errors import InvalidArgument
from statehub.hub import Hub
from statehub.keys import validate_agent_name
from statehub.txn import DELETE, PUT, Op, Txn

__all__ = [
    "TOKEN_PREFIX",
    "TOKEN_SCOPE",
    "Identity",
    "TokenInfo",
    "authenticate",
    "create_token",
    "list_tokens",
    "revoke_token",
]

TOKEN_PREFIX = "shub_"
"""How every token starts (makes leaked tokens easy to scan for)."""

TOKEN_SCOPE = "_tokens/"
"""The reserved scope of token rows: ``_tokens/<token id>``."""

OPERATOR = "operator"
"""The agent token creations and revocations are attributed to, unless told otherwise."""

_ID_RE = re.compile(r"[0-9a-f]{16}")
_ID_LENGTH = 16


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a request is, by its token.

    Attributes:
        agent: the agent the token acts as (an admin token's default agent).
        admin: whether the token is an operator's (sees and may do everything).
    """

    agent: str
    admin: bool = False


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token as listed: never its secret, nor its hash.

    Attributes:
        id: the token's id (the 16 hex digits after ``shub_``).
        agent: the agent the token acts as.
        created_ts: when it was created, seconds since the epoch.
        admin: whether it is an admin token.
    """

    id: str
    agent: str
    created_ts: float
    admin: bool = False


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_id(token_id: str) -> str:
    if not isinstance(token_id, str) or not _ID_RE.fullmatch(token_id):
        raise InvalidArgument(f"a token id is 16 lowercase hex digits, not {token_id!r}")
    return token_id


def create_token(hub: Hub, agent: str, *, admin: bool = False, by: str = OPERATOR) -> str:
    """Create a token that acts as ``agent``; returns it (shown once, never stored).

    Args:
        hub: the hub the token is for.
        agent: the agent every request made with the token acts as.
        admin: make an operator's token (see the module's documentation).
        by: the agent the creation is attributed to in the hub's history.
    """
    name = validate_agent_name(agent)
    token_id = secrets.token_hex(_ID_LENGTH // 2)
    token = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    key = TOKEN_SCOPE + token_id
    if not isinstance(admin, bool):
        raise InvalidArgument(f"admin must be True or False, not {admin!r}")
    row = {"agent": name, "hash": _hash(token), "created_ts": time.time(), "admin": admin}
    op = Op(PUT, key, encode_meta(row), logged_as="token-create", label=name)
    hub.backend.commit(Txn(validate_agent_name(by), (op,), {key: 0}), hub.max_value_bytes)
    return token


def list_tokens(hub: Hub) -> list[TokenInfo]:
    """Every live token (id, agent, creation time), by id; no secrets."""
    found = []
    for row in hub.backend.scan(TOKEN_SCOPE, None):
        data = decode(row.data)
        token_id = row.key.removeprefix(TOKEN_SCOPE)
        admin = bool(data.get("admin", False))
        found.append(TokenInfo(token_id, data["agent"], data["created_ts"], admin))
    return found


def revoke_token(hub: Hub, token_id: str, *, by: str = OPERATOR) -> bool:
    """Revoke a token by id: it stops working at once. ``False`` if there was none."""
    key = TOKEN_SCOPE + _check_id(token_id)
    op = Op(DELETE, key, logged_as="token-revoke", label=token_id)
    plan, _ = hub.backend.commit(Txn(validate_agent_name(by), (op,)), hub.max_value_bytes)
    return plan is not None


def authenticate(hub: Hub, token: str) -> Identity | None:
    """Who ``token`` is, or ``None`` if it is malformed, unknown or revoked.

    The hash is compared in constant time (:func:`hmac.compare_digest`).
    """
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX):
        return None
    rest = token[len(TOKEN_PREFIX) :]
    token_id, separator = rest[:_ID_LENGTH], rest[_ID_LENGTH : _ID_LENGTH + 1]
    if separator != "_" or not _ID_RE.fullmatch(token_id):
        return None
    stored = hub.backend.load(TOKEN_SCOPE + token_id)
    if stored is None:
        return None
    data = decode(stored.data)
    if not hmac.compare_digest(_hash(token), str(data["hash"])):
        return None
    return Identity(str(data["agent"]), bool(data.get("admin", False)))
