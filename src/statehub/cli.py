"""The ``statehub`` command line (``python -m statehub`` too)."""

from __future__ import annotations

import sys

import click
from rich.console import Console

from statehub.demo import DEFAULT_URL, run_demo
from statehub.errors import StatehubError

__all__ = ["main"]


@click.group()
@click.version_option(package_name="statehub")
def main() -> None:
    """statehub: shared, durable, concurrency-safe state for teams of agents."""


@main.command()
@click.option("--url", default=DEFAULT_URL, show_default=True, help="The hub to run in.")
def demo(url: str) -> None:
    """Run the lesson's TaskTracker: four agents in four processes on one hub.

    Example: statehub demo --url sqlite:///demo.db
    """
    try:
        run_demo(url, Console())
    except StatehubError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
