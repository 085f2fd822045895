"""``history`` and ``watch``: the audit log, filtered, and its live tail."""

from __future__ import annotations

from collections.abc import Iterable

import click
from rich.text import Text

from statehub.cli.documents import change_document
from statehub.cli.options import command
from statehub.cli.output import Cell, Output, compact_json, when
from statehub.cli.points import parse_duration, revision_of
from statehub.cli.session import session
from statehub.model import Change

__all__ = ["history", "watch"]

_OP_STYLES = {
    "put": "green",
    "merge": "cyan",
    "dispatch": "blue",
    "update": "green",
    "delete": "red",
    "expire": "dim red",
    "rollback": "magenta",
    "import": "yellow",
}

_COLUMNS = ("rev", "time", "agent", "op", "key", "version", "label")

_all_option = click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Include statehub's own rows (_checkpoints/, _locks/, _inbox/, _tokens/).",
)


def _cells(out: Output, change: Change) -> list[Cell]:
    return [
        str(change.revision),
        when(change.timestamp),
        out.agent(change.agent),
        Text(change.op, style=_OP_STYLES.get(change.op, "")),
        change.key,
        f"{change.prev_version}->{change.version}",
        change.label or "",
    ]


def _shown(changes: Iterable[Change], everything: bool) -> list[Change]:
    return [change for change in changes if everything or not change.key.startswith("_")]


@command(agent_option=False)
@click.option("--key", metavar="KEY", help="Only changes to this key.")
@click.option("--prefix", metavar="PREFIX", help="Only changes to keys under this prefix.")
@click.option("--agent", metavar="NAME", help="Only changes made by this agent.")
@click.option("--since", metavar="POINT", help="Only after this revision, checkpoint or time.")
@click.option("--until", metavar="POINT", help="Only up to this revision, checkpoint or time.")
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="The N most recent only.")
@_all_option
def history(
    key: str | None,
    prefix: str | None,
    agent: str | None,
    since: str | None,
    until: str | None,
    limit: int | None,
    everything: bool,
) -> None:
    """Show who changed what, when: the hub's audit log, oldest first.

    A POINT is a revision (12), a checkpoint name, head, or a time: ISO 8601
    (UTC unless it says otherwise) or relative (10m ago, 2h, 7d). A time stands
    for the last revision before it.

    Example: statehub history --prefix global/ --agent writer --since "1h ago"
    """
    with session() as s:
        hub = s.hub
        first = None if since is None else revision_of(hub, since, "--since")
        last = None if until is None else revision_of(hub, until, "--until")
        changes = _shown(hub.history(key, prefix, agent, first, last), everything)
        if limit is not None:
            changes = changes[-limit:]
        if s.settings.json:
            s.out.data([change_document(change) for change in changes])
        else:
            s.out.table(_COLUMNS, (_cells(s.out, change) for change in changes))


@command()
@click.argument("prefix", default="")
@click.option("--since", metavar="POINT", help="Start after this revision, checkpoint or time.")
@click.option("--timeout", metavar="DURATION", help="Stop after this long with no change.")
@click.option("--count", type=click.IntRange(min=1), metavar="N", help="Stop after N changes.")
@_all_option
def watch(
    prefix: str, since: str | None, timeout: str | None, count: int | None, everything: bool
) -> None:
    """Print each change under PREFIX as it is committed, until Ctrl-C.

    Without --since it starts at the head; with it, every change after that point
    comes first, then the live ones, with no gap. --json prints one JSON object
    per line.

    Example: statehub watch global/ --since before-publish --timeout 30s
    """
    seconds = None if timeout is None else parse_duration(timeout, "--timeout")
    with session() as s:
        out = s.out
        start = None if since is None else revision_of(s.hub, since, "--since")
        if out.rich:
            where = "the head" if start is None else f"revision {start}"
            out.stderr.print(f"[dim]watching {prefix or 'every key'} after {where} (Ctrl-C)[/]")
        seen = 0
        try:
            for change in s.hub.watch(prefix, since=start, timeout=seconds):
                if not _shown([change], everything):
                    continue
                if s.settings.json:
                    out.json_line(change_document(change))
                else:
                    cells = [*_cells(out, change), compact_json(change.patch, 100)]
                    separator = Text(" " if out.rich else "\t")
                    out.text(separator.join(Text(c) if isinstance(c, str) else c for c in cells))
                seen += 1
                if count is not None and seen >= count:
                    break
        except KeyboardInterrupt:  # Ctrl-C is how a live tail ends: not an error
            pass
