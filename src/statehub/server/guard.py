"""What a token may do through the storage protocol: the server's side of the policy.

The remote client runs statehub's whole API on its side and sends the server
storage calls (commits, loads, scans, log reads). A client is not trusted, so
every call is checked here against the identity of its token, with the same rules
an in-process :class:`~statehub.hub.Agent` follows:

- a user key is reachable by an agent if :func:`statehub.keys.is_visible` says so
  (its own ``agent/<name>/`` keys and the shared scopes); ownership and locks are
  checked inside the commit, as for every writer;
- ``_locks/<key>``: by lock, renew and unlock ops only, and only for a reachable key;
- ``_checkpoints/<name>``: anyone may read them, create one (an empty row, created
  only) or delete one, as in-process;
- ``_inbox/<recipient>/<id>``: the recipient may read, update and delete its own;
  anyone may create a message in any inbox, provided the row says it is from them;
- every other reserved scope (``_tokens/`` above all) is out of reach.

An admin token passes every check but the shape of what it sends; it may act as any
agent. An agent token acts as its own agent only.
"""

from __future__ import annotations

from statehub.codec import decode
from statehub.errors import AccessDenied, InvalidArgument
from statehub.history import ChangeQuery
from statehub.keys import check_access, is_visible, validate_agent_name, validate_key
from statehub.locks import LOCK_SCOPE
from statehub.mailbox import INBOX_SCOPE
from statehub.server.tokens import Identity
from statehub.timetravel import CHECKPOINT_SCOPE
from statehub.txn import DELETE, DISPATCH, LOCK, MERGE, PUT, RENEW, UNLOCK, Op, Txn

__all__ = [
    "check_admin",
    "check_query",
    "check_readable",
    "check_txn",
    "check_visible_to",
    "readable",
]

_USER_OPS = frozenset({PUT, DELETE, MERGE, DISPATCH})
_LEASE_OPS = frozenset({LOCK, RENEW, UNLOCK})
_USER_LOGGED_AS = frozenset({None, "update", "rollback"})
_CHECKPOINT_OPS = {PUT: "checkpoint", DELETE: "checkpoint-delete"}


def _denied(identity: Identity, key: str, reason: str) -> AccessDenied:
    return AccessDenied(key, identity.agent, reason)


def check_admin(identity: Identity, what: str) -> None:
    """Raise :class:`AccessDenied` unless ``identity`` is an admin token's."""
    if not identity.admin:
        raise _denied(identity, "", f"{what} needs an admin token")


def readable(identity: Identity, key: str) -> bool:
    """Whether ``identity`` may read the row ``key`` (user or reserved)."""
    if identity.admin:
        return True
    agent = identity.agent
    if key.startswith(LOCK_SCOPE):
        return is_visible(agent, key.removeprefix(LOCK_SCOPE))
    if key.startswith(INBOX_SCOPE):
        return key.startswith(f"{INBOX_SCOPE}{agent}/")
    if key.startswith(CHECKPOINT_SCOPE):
        return True
    return is_visible(agent, key)


def check_readable(identity: Identity, key: str) -> str:
    """``key`` if ``identity`` may read it, else :class:`AccessDenied`."""
    validate_key(key, reserved=True)
    if not readable(identity, key):
        raise _denied(identity, key, "the token's agent may not read this key")
    return key


def check_visible_to(identity: Identity, visible_to: str | None) -> str | None:
    """The ``visible_to`` a read must use: an agent token sees as its agent, always."""
    if identity.admin:
        return None if visible_to is None else validate_agent_name(visible_to)
    if visible_to not in (None, identity.agent):
        raise _denied(identity, "", f"the token acts as {identity.agent!r}, not {visible_to!r}")
    return identity.agent


def check_query(identity: Identity, query: ChangeQuery) -> ChangeQuery:
    """``query``, limited to what ``identity`` may see."""
    visible_to = check_visible_to(identity, query.visible_to)
    if query.key is not None:
        check_readable(identity, query.key)
    if visible_to == query.visible_to:
        return query
    return ChangeQuery(
        query.key,
        query.prefix,
        query.agent,
        query.since,
        query.until,
        query.limit,
        visible_to,
    )


def check_txn(identity: Identity, txn: Txn) -> None:
    """Raise :class:`AccessDenied` unless ``identity`` may commit ``txn`` as it is."""
    validate_agent_name(txn.agent)
    if not identity.admin and txn.agent != identity.agent:
        raise _denied(identity, "", f"the token acts as {identity.agent!r}, not {txn.agent!r}")
    for key in [*txn.expect, *txn.fences, *txn.unchanged_since]:
        validate_key(key, reserved=True)
    for op in txn.ops:
        validate_key(op.key, reserved=True)
        if not identity.admin:
            _check_op(identity, op, txn)
        elif op.kind not in _USER_OPS | _LEASE_OPS:
            raise InvalidArgument(f"no op {op.kind!r} in a remote commit")


def _check_op(identity: Identity, op: Op, txn: Txn) -> None:
    agent, key = identity.agent, op.key
    if key.startswith(LOCK_SCOPE):
        if op.kind not in _LEASE_OPS:
            raise _denied(identity, key, "lock rows change by lock, renew and unlock only")
        check_access(agent, validate_key(key.removeprefix(LOCK_SCOPE)))
    elif op.kind in _LEASE_OPS:
        raise InvalidArgument(f"a {op.kind} op works on a lock row, not on {key!r}")
    elif key.startswith(CHECKPOINT_SCOPE):
        _check_checkpoint_op(identity, op, txn)
    elif key.startswith(INBOX_SCOPE):
        _check_inbox_op(identity, op, txn)
    elif key.startswith("_"):
        raise _denied(identity, key, "this reserved scope is statehub's own")
    else:
        check_access(agent, key)
        if op.logged_as not in _USER_LOGGED_AS:
            raise _denied(identity, key, f"an agent's write is not logged as {op.logged_as!r}")


def _check_checkpoint_op(identity: Identity, op: Op, txn: Txn) -> None:
    if _CHECKPOINT_OPS.get(op.kind) != op.logged_as:
        raise _denied(identity, op.key, "checkpoints are only created and deleted")
    if op.kind == PUT and (txn.expect.get(op.key) != 0 or op.data != b"{}"):
        raise _denied(identity, op.key, "a checkpoint is created once, as an empty row")


def _check_inbox_op(identity: Identity, op: Op, txn: Txn) -> None:
    if op.key.startswith(f"{INBOX_SCOPE}{identity.agent}/"):
        if op.kind not in (PUT, DELETE) or op.logged_as is not None:
            raise _denied(identity, op.key, "inbox rows are written by put and delete only")
        return
    if op.kind != PUT or txn.expect.get(op.key) != 0 or op.logged_as is not None:
        raise _denied(identity, op.key, "another agent's inbox only takes new messages")
    fields = decode(op.data) if op.data is not None else None
    if not isinstance(fields, dict) or fields.get("sender") != identity.agent:
        raise _denied(identity, op.key, "a message must say it is from the token's agent")
    if fields.get("deliveries") != 0 or fields.get("visible_ts") is not None:
        raise _denied(identity, op.key, "a new message has not been delivered yet")
