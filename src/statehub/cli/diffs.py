"""``diff A B``: what changed between two points, JSON values side by side."""

from __future__ import annotations

import difflib
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from statehub.cli.documents import diff_document
from statehub.cli.options import command
from statehub.cli.output import pretty_json
from statehub.cli.points import point
from statehub.cli.session import session
from statehub.diff import Diff

__all__ = ["diff", "side_by_side"]

_ABSENT = Text("(absent)", style="dim")


def side_by_side(old: Any, new: Any) -> tuple[Text, Text]:
    """Two values as indented JSON, lines aligned, removed lines red and added green.

    >>> left, right = side_by_side({"title": "Draft"}, {"title": "Final"})
    >>> left.plain.splitlines()[1], right.plain.splitlines()[1]
    ('  "title": "Draft"', '  "title": "Final"')
    """
    before, after = pretty_json(old).splitlines(), pretty_json(new).splitlines()
    left, right = Text(), Text()
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        rows = max(i2 - i1, j2 - j1)
        old_lines = before[i1:i2] + [""] * (rows - (i2 - i1))
        new_lines = after[j1:j2] + [""] * (rows - (j2 - j1))
        changed = tag != "equal"
        for old_line, new_line in zip(old_lines, new_lines, strict=True):
            left.append(old_line + "\n", style="red" if changed else "")
            right.append(new_line + "\n", style="green" if changed else "")
    left.rstrip()
    right.rstrip()
    return left, right


def _table(found: Diff, a: str, b: str) -> Table:
    table = Table(title=f"diff {a} (r{found.a}) → {b} (r{found.b})", title_justify="left")
    table.add_column("key", no_wrap=True)
    table.add_column(f"{a} (r{found.a})", overflow="fold")
    table.add_column(f"{b} (r{found.b})", overflow="fold")
    for key in sorted({*found.added, *found.removed, *found.changed}):
        if key in found.added:
            new = Text(pretty_json(found.added[key]), style="green")
            table.add_row(Text(f"+ {key}", style="green"), _ABSENT, new)
        elif key in found.removed:
            old = Text(pretty_json(found.removed[key]), style="red")
            table.add_row(Text(f"- {key}", style="red"), old, _ABSENT)
        else:
            change = found.changed[key]
            table.add_row(Text(f"~ {key}", style="yellow"), *side_by_side(change.old, change.new))
    return table


@command()
@click.argument("a")
@click.argument("b", default="head")
@click.option("--prefix", default="", metavar="PREFIX", help="Only keys under this prefix.")
def diff(a: str, b: str, prefix: str) -> None:
    """Show what changed from A to B (default: head) under a prefix.

    A and B are revisions, checkpoint names, head, or times (ISO 8601, or like
    10m ago). In a terminal, values are shown side by side: removed lines red,
    added ones green; piped, one line per key (+ added, - removed, ~ changed)
    followed by its JSON Patch.

    Example: statehub diff before-publish head --prefix global/report
    """
    with session() as s:
        found = s.hub.diff(point(s.hub, a, "A"), point(s.hub, b, "B"), prefix=prefix)
        if s.settings.json:
            s.out.data(diff_document(found))
        elif not found:
            s.out.text(f"no differences between revisions {found.a} and {found.b}")
        elif s.out.rich:
            s.out.console.print(_table(found, a, b))
        else:
            click.echo(f"diff r{found.a} r{found.b}")
            for line in found.render():
                click.echo(line)
