"""``export``, ``import`` and ``compact``: moving a hub, and dropping old history.

On a terminal each shows its progress on stderr as a bar (nothing with ``--json``
or when stderr is not a terminal): export over the rows and changes it writes, import
over those it checks before it writes them in one go; compaction of a long history
runs in steps of at
least :data:`COMPACTION_STEP` revisions (one short transaction each, so writers
are not held up by one long one), shown as a bar. Compacting in steps drops
exactly what one call would: each step keeps what reads at and after its own
revision need, which includes what every later step keeps.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from statehub.cli.options import command
from statehub.cli.points import parse_duration, revision_of
from statehub.cli.session import session
from statehub.opening import import_file

__all__ = ["COMPACTION_STEP", "compact", "export", "import_"]

COMPACTION_STEP = 1000
"""The fewest revisions one step of a compaction with a progress bar covers."""

COMPACTION_STEPS = 100
"""The most steps a compaction with a progress bar takes."""


@command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--history", is_flag=True, help="Also the whole log and the checkpoints.")
def export(file: Path, history: bool) -> None:
    """Write the hub to FILE as JSON: its state, or with --history everything.

    Example: statehub export backup.json --history
    """
    with session() as s:
        with s.out.rows(f"exporting to {file}") as report:
            revision = s.hub.export(file, history=history, progress=report)
        if s.settings.json:
            s.out.data({"file": str(file), "revision": revision, "history": history})
        else:
            s.out.text(f"exported revision {revision} to {file}")


@command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_(file: Path) -> None:
    """Load FILE, made by statehub export, into an empty hub.

    The whole file is checked first; nothing is written if any of it is wrong. An
    export without history is one commit by --agent.

    Example: statehub import backup.json --url sqlite:///copy.db
    """
    with session() as s:
        with s.out.rows(f"checking {file}") as report:
            revision = import_file(file, into=s.hub, as_agent=s.settings.agent, progress=report)
        if s.settings.json:
            s.out.data({"file": str(file), "revision": revision})
        else:
            s.out.text(f"imported {file}: the hub is at revision {revision}")


@command()
@click.option("--before", metavar="POINT", help="Keep history from this revision or checkpoint.")
@click.option("--older-than", metavar="DURATION", help="Drop history older than this (7d, 12h).")
def compact(before: str | None, older_than: str | None) -> None:
    """Drop old history, keeping what live checkpoints need; give one of the options.

    Reading or watching from a dropped revision then fails, naming the oldest left.

    Example: statehub compact --older-than 7d
    """
    if (before is None) == (older_than is None):
        raise click.UsageError("give one of --before and --older-than")
    seconds = None if older_than is None else parse_duration(older_than, "--older-than")
    with session() as s:
        hub = s.hub
        if seconds is not None:
            target = min(hub.backend.first_revision_since(time.time() - seconds), hub.revision)
        else:
            assert before is not None
            target = revision_of(hub, before, "--before")
        start = hub.oldest_revision
        if s.out.shows_progress and target - start > COMPACTION_STEP:
            step = max(COMPACTION_STEP, -(-(target - start) // COMPACTION_STEPS))
            dropped = 0
            with s.out.progress("compacting", target - start) as advance:
                for position in range(start, target, step):
                    upto = min(target, position + step)
                    dropped += hub.compact(before=upto)
                    advance(upto - position)
        elif seconds is not None:
            dropped = hub.compact(older_than=seconds)
        else:
            dropped = hub.compact(before=target)
        if s.settings.json:
            s.out.data({"dropped": dropped, "oldest_revision": hub.oldest_revision})
        else:
            s.out.text(f"dropped {dropped} changes; the oldest revision is {hub.oldest_revision}")
