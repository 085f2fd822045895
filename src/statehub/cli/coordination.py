"""``locks``, ``tasks``, ``inbox``: what the agents hold, work on, and have not read yet."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import cast

import click
from rich.text import Text

from statehub.cli.documents import lock_document, message_document, task_document
from statehub.cli.options import command
from statehub.cli.output import compact_json, when
from statehub.cli.session import Session, session
from statehub.codec import decode
from statehub.keys import validate_agent_name
from statehub.mailbox import INBOX_SCOPE, Message
from statehub.tasks import STATUSES, Status
from statehub.txn import Stored

__all__ = ["inbox", "locks", "tasks"]

_STATUS_STYLES = {"pending": "yellow", "claimed": "cyan", "completed": "green", "failed": "red"}


@command()
def locks() -> None:
    """List the locks held: key, holder, fencing token, expiry.

    Example: statehub locks --json
    """
    with session() as s:
        held = s.hub.locks()
        if s.settings.json:
            s.out.data([lock_document(lock) for lock in held])
            return
        now = time.time()
        rows = [
            (
                lock.key,
                s.out.agent(lock.holder),
                str(lock.fence),
                f"{when(lock.expires_ts)} (in {lock.expires_ts - now:.0f}s)",
            )
            for lock in held
        ]
        s.out.table(("key", "holder", "fence", "expires"), rows)


@command()
@click.option("--status", type=click.Choice(STATUSES), help="Only tasks with this status.")
@click.option("--assignee", metavar="NAME", help="Only tasks assigned to this agent.")
def tasks(status: str | None, assignee: str | None) -> None:
    """List the tasks in creation order: status, title, assignee, progress.

    Example: statehub tasks --status claimed
    """
    with session() as s:
        found = s.writer.tasks.list(cast(Status | None, status), assignee=assignee)
        if s.settings.json:
            s.out.data([task_document(task) for task in found])
            return
        rows = [
            (
                task.id,
                Text(task.status, style=_STATUS_STYLES.get(task.status, "")),
                task.title,
                s.out.agent(task.assignee) if task.assignee else "",
                f"{task.progress:.0%}",
                str(task.attempts),
                when(task.updated_ts),
            )
            for task in found
        ]
        s.out.table(("id", "status", "title", "assignee", "progress", "attempts", "updated"), rows)


def _waiting(agent: str, rows: list[Stored]) -> list[tuple[Message, float | None]]:
    """The messages in ``agent``'s inbox rows, in delivery order, each with its in-flight end."""
    now = time.time()
    found = []
    for row in rows:
        key, revision, fields = row.key, row.created_rev, decode(row.data)
        visible_ts = fields.get("visible_ts")
        message = Message(
            key.rsplit("/", 1)[1],
            fields["sender"],
            agent,
            fields["body"],
            datetime.fromtimestamp(fields["sent_ts"], UTC),
            fields["deliveries"],
            fields["kind"],
            revision,
        )
        in_flight = visible_ts if visible_ts is not None and visible_ts > now else None
        found.append((message, in_flight))
    return sorted(found, key=lambda pair: (pair[0].revision, pair[0].id))


def _sizes(s: Session) -> None:
    """Every inbox that holds messages: agent, how many wait, how many are in flight."""
    now = time.time()
    sizes: dict[str, list[int]] = {}
    for row in s.hub.backend.scan(INBOX_SCOPE, None):
        agent = row.key.removeprefix(INBOX_SCOPE).split("/", 1)[0]
        visible_ts = decode(row.data).get("visible_ts")
        counts = sizes.setdefault(agent, [0, 0])
        counts[1 if visible_ts is not None and visible_ts > now else 0] += 1
    if s.settings.json:
        s.out.data({agent: {"waiting": w, "in_flight": f} for agent, (w, f) in sizes.items()})
        return
    rows = [(s.out.agent(agent), str(w), str(f)) for agent, (w, f) in sorted(sizes.items())]
    s.out.table(("agent", "waiting", "in flight"), rows)


@command()
@click.argument("recipient", metavar="[AGENT]", required=False)
def inbox(recipient: str | None) -> None:
    """List the messages waiting in AGENT's inbox, without receiving them.

    A message received but not yet acknowledged shows as in flight until its
    visibility timeout ends (then it is delivered again). Without AGENT: how many
    messages each inbox holds.

    Example: statehub inbox researcher
    """
    name = None if recipient is None else validate_agent_name(recipient)
    with session() as s:
        if name is None:
            _sizes(s)
            return
        rows = s.hub.backend.scan(f"{INBOX_SCOPE}{name}/", None)
        waiting = _waiting(name, rows)
        if s.settings.json:
            s.out.data([message_document(message, until) for message, until in waiting])
            return
        s.out.table(
            ("id", "kind", "from", "sent", "deliveries", "state", "body"),
            [
                (
                    message.id,
                    message.kind,
                    s.out.agent(message.sender),
                    when(message.sent_at.timestamp()),
                    str(message.deliveries),
                    "waiting" if until is None else f"in flight until {when(until)}",
                    compact_json(message.body, 60),
                )
                for message, until in waiting
            ],
        )
