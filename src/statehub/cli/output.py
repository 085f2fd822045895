"""Where commands print: rich tables and colours in a terminal, plain text when piped.

:class:`Output` decides once per command: with ``--json`` it prints JSON documents;
on a terminal (as rich's :class:`~rich.console.Console` detects it, or forced with
``FORCE_COLOR``) tables and colours; otherwise plain text, tables as tab-separated
lines with the column names first, so that ``grep``, ``cut`` and ``awk`` work.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import click
import orjson
from rich.console import Console
from rich.json import JSON
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

__all__ = ["Cell", "Output", "agent_style", "compact_json", "pretty_json", "when"]

Cell = str | Text
"""A table cell: plain text, or rich text with a style (plain text when piped)."""

_AGENT_COLOURS = (
    "cyan",
    "magenta",
    "green",
    "yellow",
    "blue",
    "bright_red",
    "bright_cyan",
    "bright_magenta",
    "bright_green",
    "bright_blue",
)


def agent_style(agent: str) -> str:
    """The colour an agent is shown in: the same for one name in every command and run."""
    return _AGENT_COLOURS[zlib.crc32(agent.encode()) % len(_AGENT_COLOURS)]


def when(timestamp: float | None) -> str:
    """A time for people: ``2026-11-27 23:59:01`` (UTC), or ``""`` for ``None``."""
    if timestamp is None:
        return ""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


def compact_json(value: Any, limit: int | None = None) -> str:
    """``value`` as one line of JSON, cut to ``limit`` characters with ``…``."""
    text = orjson.dumps(value).decode()
    if limit is not None and len(text) > limit:
        return text[: limit - 1] + "…"
    return text


def pretty_json(value: Any) -> str:
    """``value`` as indented JSON with sorted keys (stable output for scripts)."""
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()


class Output:
    """How one command prints (see the module docstring)."""

    def __init__(self, json: bool) -> None:
        self.json = json
        self.console = Console(highlight=False)
        self.stderr = Console(stderr=True, highlight=False)

    @property
    def rich(self) -> bool:
        """Whether to print tables and colours: not ``--json``, and stdout is a terminal."""
        return not self.json and self.console.is_terminal

    def data(self, document: Any) -> None:
        """Print a JSON document, indented, keys sorted."""
        click.echo(pretty_json(document))

    def json_line(self, document: Any) -> None:
        """Print a JSON document on one line (JSON Lines, for streams such as ``watch``)."""
        click.echo(orjson.dumps(document, option=orjson.OPT_SORT_KEYS).decode())

    def text(self, text: str | Text) -> None:
        """Print a line: styled in a terminal, plain otherwise."""
        if self.rich:
            self.console.print(text if isinstance(text, Text) else Text(text))
        else:
            click.echo(text.plain if isinstance(text, Text) else text)

    def value(self, value: Any) -> None:
        """Print a JSON value for people: highlighted in a terminal, indented otherwise."""
        if self.rich:
            self.console.print(JSON.from_data(value, sort_keys=True))
        else:
            click.echo(pretty_json(value))

    def table(
        self, columns: Sequence[str], rows: Iterable[Sequence[Cell]], *, title: str | None = None
    ) -> None:
        """Print rows under column names: a rich table, or tab-separated lines when piped."""
        if self.rich:
            table = Table(title=title, title_justify="left")
            for column in columns:
                table.add_column(column, overflow="fold")
            for row in rows:
                # Plain strings become Text, so that "[bold]" in a value is not markup.
                table.add_row(*(Text(cell) if isinstance(cell, str) else cell for cell in row))
            self.console.print(table)
            return
        click.echo("\t".join(columns))
        for row in rows:
            click.echo("\t".join(cell.plain if isinstance(cell, Text) else cell for cell in row))

    def agent(self, name: str) -> Text:
        """An agent's name in its colour."""
        return Text(name, style=agent_style(name))

    @property
    def shows_progress(self) -> bool:
        """Whether progress is shown: not ``--json``, and stderr is a terminal."""
        return not self.json and self.stderr.is_terminal

    @contextmanager
    def rows(self, description: str) -> Iterator[Callable[[int, int], None]]:
        """A progress bar on stderr (terminal only); yields ``report(done, total)``."""
        if not self.shows_progress:
            yield lambda done, total: None
            return
        with self._bar(description, None) as (progress, task):
            yield lambda done, total: progress.update(task, completed=done, total=total)

    @contextmanager
    def _bar(self, description: str, total: int | None) -> Iterator[tuple[Progress, TaskID]]:
        columns = (
            TextColumn(description),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=self.stderr, transient=True) as progress:
            yield progress, progress.add_task(description, total=total)

    @contextmanager
    def progress(self, description: str, total: int) -> Iterator[Callable[[int], None]]:
        """A progress bar of ``total`` steps on stderr; yields ``advance(steps)``."""
        with self._bar(description, total) as (progress, task):
            yield lambda steps: progress.advance(task, steps)
