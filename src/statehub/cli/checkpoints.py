"""``checkpoint create|list|delete`` and ``rollback``: names for revisions, and going back."""

from __future__ import annotations

import click

from statehub.cli.documents import checkpoint_document
from statehub.cli.options import CommandError, command, group, subcommand
from statehub.cli.output import when
from statehub.cli.points import point
from statehub.cli.session import session

__all__ = ["checkpoint", "rollback"]


@group()
def checkpoint() -> None:
    """Create, list and delete checkpoints: names for revisions.

    Example: statehub checkpoint create before-publish
    """


@subcommand(checkpoint, "create")
@click.argument("name")
def checkpoint_create(name: str) -> None:
    """Name the current revision NAME (exit code 1 if the name is taken).

    Example: statehub checkpoint create before-publish --agent coordinator
    """
    with session() as s:
        made = s.writer.checkpoint(name)
        if s.settings.json:
            s.out.data(checkpoint_document(made))
        else:
            s.out.text(f"checkpoint {made.name} at revision {made.revision}")


@subcommand(checkpoint, "list")
def checkpoint_list() -> None:
    """List the checkpoints, oldest first: name, revision, agent, time.

    Example: statehub checkpoint list --json
    """
    with session() as s:
        found = s.hub.checkpoints()
        if s.settings.json:
            s.out.data([checkpoint_document(c) for c in found])
            return
        rows = [(c.name, str(c.revision), s.out.agent(c.agent), when(c.timestamp)) for c in found]
        s.out.table(("name", "revision", "agent", "time"), rows)


@subcommand(checkpoint, "delete")
@click.argument("name")
def checkpoint_delete(name: str) -> None:
    """Forget the checkpoint NAME (exit code 1 if there is none).

    Compaction may then drop history only that checkpoint needed.

    Example: statehub checkpoint delete before-publish
    """
    with session() as s:
        if not s.writer.delete_checkpoint(name):
            raise CommandError(f"no checkpoint named {name!r}")
        if s.settings.json:
            s.out.data({"deleted": name})
        else:
            s.out.text(f"deleted checkpoint {name}")


@command()
@click.argument("to", metavar="POINT")
@click.option("--prefix", default="", metavar="PREFIX", help="Only keys under this prefix.")
def rollback(to: str, prefix: str) -> None:
    """Restore the keys under PREFIX to their values at POINT, in one new commit.

    POINT is a checkpoint name, a revision, or a time. Acts as --agent, on the
    keys it may see (another agent's private keys need --agent NAME). Keys created
    since are deleted and changed ones restored; history is kept. All or nothing: a locked
    or owned key, or one changed meanwhile, makes it fail and write nothing.

    Example: statehub rollback before-publish --prefix global/report
    """
    with session() as s:
        target = point(s.hub, to, "POINT")
        revision = s.writer.rollback(target, prefix=prefix)
        if s.settings.json:
            s.out.data({"revision": revision})
        elif revision is None:
            s.out.text(f"nothing to roll back: {prefix or 'the hub'} is as at {to}")
        else:
            s.out.text(f"rolled back {prefix or 'the hub'} to {to} at revision {revision}")
