"""Message passing: durable inboxes, at-least-once delivery, and each agent's view.

The lesson's "Pattern 2: Message-Passing State", made durable and concurrency-safe:

>>> import statehub
>>> with statehub.open("memory://") as hub:
...     coordinator, researcher = hub.agent("coordinator"), hub.agent("researcher")
...     sent = coordinator.send("researcher", {"task": "Research AI"})
...     for message in researcher.receive(limit=10):
...         print(message.sender, message.body, message.deliveries)
...         researcher.ack(message)
...     _ = coordinator.send_update("researcher", "task", "Research AI")
...     researcher.view()
coordinator {'task': 'Research AI'} 1
True
{'task': 'Research AI'}

Where messages live
    An inbox is a set of rows of the reserved scope ``_inbox/<recipient>/<id>``,
    one per message, written by statehub's own code path (as locks and checkpoints
    are): any agent can send, because :meth:`Mailbox.send` builds the rows itself
    instead of going through the sender's key checks, and no agent can read, write
    or list another's inbox, because reserved keys are out of reach of every
    public read and write (``InvalidKey``) and never appear in ``agent.scan``,
    ``agent.history``, ``agent.watch`` or ``agent.diff``. Only
    :meth:`~Mailbox.receive`, :meth:`~Mailbox.ack` and :meth:`~Mailbox.view`, acting
    for the recipient, touch ``_inbox/<recipient>/``. The alternative,
    ``agent/<recipient>/inbox/...`` written past the sender's privacy check, would
    show the inbox in the recipient's scans and let it edit delivery state by hand;
    the reserved scope keeps that bookkeeping statehub's own. ``hub.history()`` (the
    operator's view) shows every row, so each send is audited: one commit, by the
    sender, with one ``put`` per recipient labelled ``send``.

Order and ids
    A message's id is time-ordered (microseconds since the epoch, strictly
    increasing within a process, then random digits: unique across processes), so
    one sender's ids sort in the order it sent them. Delivery order is stronger: an
    inbox is delivered in the order the sends were committed (the row's
    ``created_rev``, the hub's revision of the send), which keeps every sender's
    order, interleaves senders as they happened, and holds across processes and
    clocks. A broadcast is one message id and one commit, with one row per recipient.

Delivery: at least once
    :meth:`~Mailbox.receive` takes the oldest deliverable messages and, in ONE commit
    that compares the version of every row it read, marks them in flight until a
    visibility deadline (``deliveries`` + 1). Two receivers of one inbox that read
    the same rows cannot both commit: the loser gets a conflict, reads again and
    takes the next messages. A message not acknowledged before its deadline
    becomes deliverable again, to any receiver of the inbox, with ``deliveries``
    one higher. :meth:`~Mailbox.ack` deletes the message in one commit, on condition
    that it was not delivered again in the meantime (its version is still the one
    this delivery gave it): a receiver whose deadline ran out learns that from
    ``ack`` returning ``False``, and cannot delete the copy a newer receiver holds.
    Rows persist like any other, so messages survive restarts. Deadlines are read
    on the clocks of the receiving processes (keep machines' clocks in sync).
    ``receive(wait=s)`` blocks on :meth:`Hub.wait_for` (no polling of the inbox):
    it wakes on the next commit to the hub, or when the earliest deadline of a
    message in flight passes.

Updates and the view
    ``send_update(to, key, value)`` sends a message of kind ``"update"`` whose body
    is ``{"key": key, "value": value}``. The recipient's view is the private row
    ``agent/<recipient>/view``, a JSON object. An update is applied to it exactly
    once, by the recipient's own commit, in delivery order: by
    :meth:`~Mailbox.receive`, which applies the updates it delivers, or by
    :meth:`~Mailbox.view`, which applies every update waiting in the inbox before it
    returns the view. The same commit deletes the update from the inbox: an update
    is consumed by being applied, so it is never delivered again (its effect is in
    the view already) and an agent that only ever looks at its view does not
    accumulate messages. ``receive`` returns the updates it applied, so a loop on
    ``receive`` sees each update that ``view`` did not apply first; ``ack`` of an
    update is accepted and does nothing. The view row's history says which update
    changed what: each change's cause lists the updates with their senders and ids.
    Applying updates on the recipient's side (rather than writing the recipient's
    view in the sender's commit) keeps ``agent/<name>/`` written by ``<name>``
    alone, and its locks and ownership its own business.
"""

from __future__ import annotations

import random
import re
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, cast

from statehub.codec import decode, encode, encode_meta
from statehub.errors import AccessDenied, ConflictError, InvalidArgument
from statehub.keys import validate_agent_name
from statehub.txn import DELETE, DISPATCH, PUT, Op, Stored, Txn, is_expired

if TYPE_CHECKING:
    from statehub.hub import Agent

__all__ = [
    "DEFAULT_RECEIVE_LIMIT",
    "DEFAULT_VISIBILITY_TIMEOUT",
    "INBOX_SCOPE",
    "MESSAGE",
    "UPDATE",
    "Mailbox",
    "Message",
    "MessageKind",
    "Recipients",
    "apply_updates",
    "inbox_key",
    "new_message_id",
    "view_key",
]

INBOX_SCOPE = "_inbox/"
"""The reserved scope of inbox rows: ``_inbox/<recipient>/<message id>``."""

DEFAULT_VISIBILITY_TIMEOUT = 30.0
"""Seconds a received message stays invisible to other receives unless acknowledged."""

DEFAULT_RECEIVE_LIMIT = 10
"""The most messages one :meth:`Mailbox.receive` returns, unless told otherwise."""

MessageKind = Literal["message", "update"]
"""What a message is: a plain ``"message"``, or an ``"update"`` of the recipient's view."""

Recipients = Iterable[str]
"""Several recipients of one message (a broadcast): any iterable of agent names."""

MESSAGE: MessageKind = "message"
"""The kind of a message sent with ``send``."""

UPDATE: MessageKind = "update"
"""The kind of a message sent with ``send_update``: it sets one key of the recipient's view."""

_ID_RE = re.compile(r"[0-9a-f]{14}-[0-9a-f]{8}")
_id_lock = threading.Lock()
_last_id_micros = 0


def new_message_id() -> str:
    """A new message id: time-ordered, unique across processes.

    Fourteen hex digits of microseconds since the epoch (strictly increasing within
    this process), a dash, eight random hex digits.

    >>> first, second = new_message_id(), new_message_id()
    >>> first < second, len(first)
    (True, 23)
    """
    global _last_id_micros
    with _id_lock:
        micros = max(time.time_ns() // 1000, _last_id_micros + 1)
        _last_id_micros = micros
    return f"{micros:014x}-{secrets.token_hex(4)}"


def inbox_key(recipient: str, message_id: str) -> str:
    """The row key of message ``message_id`` in ``recipient``'s inbox."""
    return f"{INBOX_SCOPE}{recipient}/{message_id}"


def view_key(agent: str) -> str:
    """The key of ``agent``'s view: ``agent/<name>/view``, private to it."""
    return f"agent/{agent}/view"


def apply_updates(state: Any, updates: Any) -> dict[str, Any]:
    """The view reducer: set each update's ``key`` to its ``value``, in order.

    ``state`` is the view (``None`` while absent; anything but a JSON object, which
    only its agent could have written there, starts a new view).

    >>> apply_updates({"task": "Write report"}, [{"key": "findings", "value": "5 key trends"}])
    {'task': 'Write report', 'findings': '5 key trends'}
    """
    view = dict(state) if isinstance(state, dict) else {}
    for update in updates:
        view[update["key"]] = update["value"]
    return view


@dataclass(frozen=True, slots=True)
class Message:
    """One message, as sent or as received.

    Attributes:
        id: the message's id: time-ordered, shared by every copy of a broadcast.
        sender: the agent that sent it.
        recipient: the agent whose inbox it is in.
        body: the body (a copy: JSON). For an update, ``{"key": ..., "value": ...}``.
        sent_at: when it was sent (the sender's clock), an aware UTC datetime.
        deliveries: how many times it has been delivered, this delivery included
            (0 on the sender's copy); more than 1 means an earlier receiver did not
            acknowledge it within its visibility timeout.
        kind: ``"message"``, or ``"update"`` for one sent with ``send_update``.
        revision: the hub revision of the commit that sent it.
    """

    id: str
    sender: str
    recipient: str
    body: Any
    sent_at: datetime
    deliveries: int
    kind: MessageKind
    revision: int


class _Inbox:
    """One row of an inbox, decoded."""

    __slots__ = ("fields", "row")

    def __init__(self, row: Stored) -> None:
        self.row = row
        self.fields: dict[str, Any] = decode(row.data)

    @property
    def kind(self) -> MessageKind:
        return cast(MessageKind, self.fields["kind"])

    def deliverable(self, now: float) -> bool:
        visible_ts = self.fields["visible_ts"]
        return self.kind == UPDATE or visible_ts is None or visible_ts <= now

    def message(self, recipient: str) -> Message:
        fields = self.fields
        return Message(
            self.row.key.rsplit("/", 1)[1],
            fields["sender"],
            recipient,
            fields["body"],
            datetime.fromtimestamp(fields["sent_ts"], UTC),
            fields["deliveries"],
            self.kind,
            self.row.created_rev,
        )


def _check_seconds(name: str, value: object, *, positive: bool = False) -> float:
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not 0 <= value < 10**9
        or (positive and value == 0)
    ):
        which = "> 0" if positive else ">= 0"
        raise InvalidArgument(f"{name} must be a number of seconds {which}, not {value!r}")
    return float(value)


def _recipients(to: str | Iterable[str]) -> list[str]:
    if isinstance(to, str):
        names = [to]
    else:
        try:
            names = list(to)
        except TypeError:
            raise InvalidArgument(
                f"to must be an agent name or a list of them, not {type(to).__name__}"
            ) from None
        if not names:
            raise InvalidArgument("to must name at least one agent")
    return list(dict.fromkeys(validate_agent_name(name) for name in names))


def _pause(conflicts: int) -> None:
    """A short jittered pause after losing a race for the same rows (full jitter)."""
    time.sleep(random.uniform(0, min(0.05, 0.001 * 2 ** min(conflicts, 6))))


class Mailbox:
    """The message operations of one agent (behind ``agent.send``, ``receive``, ...)."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.name = agent.name

    # -- sending -----------------------------------------------------------------

    def send(
        self, to: str | Iterable[str], body: Any, kind: MessageKind = MESSAGE
    ) -> list[Message]:
        """Put one message into each recipient's inbox, in one commit by this agent.

        Returns:
            The sender's copy of each message (``deliveries`` 0), one per recipient.

        Raises:
            InvalidKey: a recipient is not a valid agent name; nothing was sent.
            InvalidValue, ValueTooLarge: the body is not JSON, or too large.
        """
        names = _recipients(to)
        hub = self.agent.hub
        while True:
            message_id = new_message_id()
            sent_ts = time.time()
            fields = {
                "sender": self.name,
                "kind": kind,
                "body": body,
                "sent_ts": sent_ts,
                "deliveries": 0,
                "visible_ts": None,
            }
            data = encode(inbox_key(names[0], message_id), fields, hub.max_value_bytes)
            ops = tuple(Op(PUT, inbox_key(name, message_id), data) for name in names)
            label = "send" if kind == MESSAGE else "send_update"
            txn = Txn(self.name, ops, {op.key: 0 for op in ops}, label=label)
            try:
                plan, _ = hub.backend.commit(txn, hub.max_value_bytes)
            except ConflictError:  # the same id from another process: astronomically rare
                continue
            assert plan is not None
            sent_at = datetime.fromtimestamp(sent_ts, UTC)
            return [
                Message(
                    message_id,
                    self.name,
                    name,
                    decode(data)["body"],
                    sent_at,
                    0,
                    kind,
                    plan.revision,
                )
                for name in names
            ]

    def send_update(self, to: str | Iterable[str], key: str, value: Any) -> list[Message]:
        """Send an update that sets ``key`` to ``value`` in each recipient's view."""
        if not isinstance(key, str) or not key:
            raise InvalidArgument(f"an update's key must be a non-empty str, not {key!r}")
        return self.send(to, {"key": key, "value": value}, UPDATE)

    # -- receiving ---------------------------------------------------------------

    def _inbox(self, now: float) -> tuple[list[_Inbox], float | None]:
        """The deliverable rows of this inbox, oldest send first, and the next deadline."""
        rows = self.agent.hub.backend.scan(f"{INBOX_SCOPE}{self.name}/", None)
        deliverable: list[_Inbox] = []
        next_visible: float | None = None
        for row in rows:
            if is_expired(row, now):
                continue
            item = _Inbox(row)
            if item.deliverable(now):
                deliverable.append(item)
            else:
                visible_ts = item.fields["visible_ts"]
                next_visible = visible_ts if next_visible is None else min(next_visible, visible_ts)
        deliverable.sort(key=lambda item: item.row.created_rev)
        return deliverable, next_visible

    def _view_op(self, updates: list[_Inbox]) -> Op:
        applied = [
            {
                "key": item.fields["body"]["key"],
                "value": item.fields["body"]["value"],
                "sender": item.fields["sender"],
                "id": item.row.key.rsplit("/", 1)[1],
            }
            for item in updates
        ]
        return Op(
            DISPATCH,
            view_key(self.name),
            operand=applied,
            reducer=apply_updates,
            cause={"reducer": "view", "action": applied},
        )

    def _deliver(self, batch: list[_Inbox], now: float, visibility: float) -> list[Message]:
        """Mark ``batch`` in flight (updates: apply and delete) in one commit."""
        ops: list[Op] = []
        updates: list[_Inbox] = []
        for item in batch:
            item.fields["deliveries"] += 1
            if item.kind == UPDATE:
                ops.append(Op(DELETE, item.row.key))
                updates.append(item)
            else:
                item.fields["visible_ts"] = now + visibility
                ops.append(Op(PUT, item.row.key, encode_meta(item.fields)))
        if updates:
            ops.append(self._view_op(updates))
        expect = {item.row.key: item.row.version for item in batch}
        hub = self.agent.hub
        hub.backend.commit(Txn(self.name, tuple(ops), expect, label="receive"), hub.max_value_bytes)
        return [item.message(self.name) for item in batch]

    def receive(
        self,
        limit: int = DEFAULT_RECEIVE_LIMIT,
        wait: float | None = None,
        visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT,
    ) -> list[Message]:
        """Take up to ``limit`` messages from this agent's inbox, oldest first.

        See :meth:`statehub.Agent.receive`.
        """
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise InvalidArgument(f"limit must be an int >= 1, not {limit!r}")
        waiting = 0.0 if wait is None else _check_seconds("wait", wait)
        visibility = _check_seconds("visibility_timeout", visibility_timeout, positive=True)
        hub = self.agent.hub
        deadline = time.monotonic() + waiting
        conflicts = 0
        while True:
            head = hub.backend.head()
            now = time.time()
            deliverable, next_visible = self._inbox(now)
            if deliverable:
                try:
                    return self._deliver(deliverable[:limit], now, visibility)
                except ConflictError:  # another receiver took some of them first
                    conflicts += 1
                    _pause(conflicts)
                    continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            if next_visible is not None:
                remaining = min(remaining, max(next_visible - time.time(), 0.0) + 0.001)
            hub.wait_for(head + 1, remaining)

    def ack(self, message: Message | str) -> bool:
        """Acknowledge a received message: delete it from the inbox, in one commit.

        See :meth:`statehub.Agent.ack`.
        """
        if isinstance(message, Message):
            key = inbox_key(self.name, message.id)
            if message.recipient != self.name:
                raise AccessDenied(
                    key,
                    self.name,
                    f"only its recipient, {message.recipient!r}, may acknowledge a message",
                    owner=message.recipient,
                )
            expect = {key: message.deliveries + 1} if message.kind == MESSAGE else {}
        elif isinstance(message, str) and _ID_RE.fullmatch(message):
            key, expect = inbox_key(self.name, message), {}
        else:
            raise InvalidArgument(f"ack takes a Message or a message id, not {message!r}")
        hub = self.agent.hub
        try:
            hub.backend.commit(
                Txn(self.name, (Op(DELETE, key),), expect, label="ack"), hub.max_value_bytes
            )
        except ConflictError as exc:
            return exc.actual == 0  # gone already: acknowledged; else delivered again since
        return True

    # -- the view ----------------------------------------------------------------

    def view(self) -> dict[str, Any]:
        """Apply the updates waiting in the inbox to this agent's view, and return it.

        See :meth:`statehub.Agent.view`.
        """
        hub = self.agent.hub
        conflicts = 0
        while True:
            deliverable, _ = self._inbox(time.time())
            updates = [item for item in deliverable if item.kind == UPDATE]
            if not updates:
                value = self.agent.get(view_key(self.name))
                return value if isinstance(value, dict) else {}
            ops = [Op(DELETE, item.row.key) for item in updates]
            ops.append(self._view_op(updates))
            expect = {item.row.key: item.row.version for item in updates}
            txn = Txn(self.name, tuple(ops), expect, label="view")
            try:
                plan, _ = hub.backend.commit(txn, hub.max_value_bytes)
            except ConflictError:  # a receive of this agent applied some of them first
                conflicts += 1
                _pause(conflicts)
                continue
            assert plan is not None
            written = plan.writes[view_key(self.name)]
            assert written is not None
            result: dict[str, Any] = decode(written.data)
            return result
